using System.Text.Json;
using System.Xml.Linq;
using Vireo.Engine.Networks;
using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu;
using Vireo.Qemu.Hotplug;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

/// <summary>
/// attach-device / detach-device / update-device. Every check runs before anything changes: the new
/// definitions are parsed and their PCI plans built first, then QEMU is told, then live.xml and the persistent
/// definition are written. A QMP step that fails undoes the steps before it.
/// </summary>
public sealed partial class DomainManager
{
    /// <summary>How long the guest has to release a device after <c>device_del</c>.</summary>
    /// <remarks>10 s, or <c>VIREO_DETACH_TIMEOUT</c> seconds (for slow TCG guests on a loaded host).</remarks>
    public static TimeSpan DetachTimeout { get; set; } = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("VIREO_DETACH_TIMEOUT"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int s) && s > 0 ? s : 10);

    public async Task<string> AttachDeviceAsync(string nameOrId, string deviceXml, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        XElement element = DeviceXml.ParseElement(deviceXml);
        using var lk = LockDomain(name);
        var (record, live, persistent) = Targets(name, scope, "attach device to");

        DomainDefinition? newLive = null;
        DomainDefinition? newPersistent = null;
        if (live is not null)
        {
            XElement liveElement = PrepareForLive(live, element);
            newLive = CheckedInsert(live, liveElement);
        }

        if (persistent is not null)
        {
            newPersistent = CheckedInsert(persistent, element);
            _ = QemuCommandLine.PciAddresses(newPersistent);
        }

        if (record is not null && newLive is not null)
        {
            newLive = await HotplugAsync(record, live!, newLive, ct).ConfigureAwait(false);

            // The slot the new device got is now taken: pin it, so the next hotplug plans around it.
            Store.SaveLive(DeviceLayout.Pin(newLive));
        }

        if (newPersistent is not null)
        {
            Store.SavePersistent(newPersistent);
        }

        return name;
    }

    public Task<string> DetachDeviceAsync(string nameOrId, string deviceXml, ChangeScope scope, CancellationToken ct)
    {
        XElement element = DeviceXml.ParseElement(deviceXml);
        return DetachMatchingAsync(nameOrId, def =>
        {
            var probe = DeviceXml.ParseAlone(element, def.Os.IsQ35);
            return DeviceXml.Find(def.Devices, probe) ?? throw NotThere(def.Name, DeviceXml.Describe(probe));
        }, scope, ct);
    }

    /// <summary>detach-disk, detach-interface, detach-device: <paramref name="find"/> names the device in each definition or throws.</summary>
    public async Task<string> DetachMatchingAsync(string nameOrId, Func<DomainDefinition, object> find, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var (record, live, persistent) = Targets(name, scope, "detach device from");
        object? liveDevice = live is null ? null : find(live);
        object? configDevice = persistent is null ? null : find(persistent);
        if (record is not null && liveDevice is not null)
        {
            await UnplugAsync(record, live!, liveDevice, ct).ConfigureAwait(false);
            Store.SaveLive(DeviceXml.Remove(live!, liveDevice));
        }

        if (persistent is not null && configDevice is not null)
        {
            Store.SavePersistent(DeviceXml.Remove(persistent, configDevice));
        }

        return name;
    }

    /// <summary>
    /// update-device: a cdrom/floppy's media (source changed, added or removed) and an interface's link state.
    /// Anything else that differs is refused, naming what.
    /// </summary>
    public Task<string> UpdateDeviceAsync(string nameOrId, string deviceXml, ChangeScope scope, bool force, CancellationToken ct)
    {
        XElement element = DeviceXml.ParseElement(deviceXml);
        return UpdateMatchingAsync(nameOrId, scope, force, def =>
        {
            var probe = DeviceXml.ParseAlone(element, def.Os.IsQ35);
            object current = DeviceXml.Find(def.Devices, probe) ?? throw NotThere(def.Name, DeviceXml.Describe(probe));
            return (current, Updated(current, probe));
        }, ct);
    }

    /// <summary>domif-setlink: an interface named by TAP, MAC or alias.</summary>
    public Task<string> SetLinkStateAsync(string nameOrId, string iface, bool up, ChangeScope scope, CancellationToken ct) =>
        UpdateMatchingAsync(nameOrId, scope, false, def =>
        {
            NetInterface n = FindInterface(def, iface);
            return (n, n with { LinkState = up ? "up" : "down" });
        }, ct);

    /// <summary>change-media: a cdrom/floppy named by target or source path gets <paramref name="source"/> (null ejects).</summary>
    public Task<string> ChangeMediaAsync(string nameOrId, string targetOrPath, string? source, bool force, ChangeScope scope, CancellationToken ct) =>
        UpdateMatchingAsync(nameOrId, scope, force, def =>
        {
            Disk d = SelectDisks(def, targetOrPath)[0];
            if (d.Device is not ("cdrom" or "floppy"))
            {
                throw VireoException.Invalid($"disk '{d.TargetDev}' of domain '{def.Name}' is not a cdrom or floppy; its media cannot be changed");
            }

            if (source is not null && !Path.Exists(source))
            {
                throw VireoException.Invalid($"cannot access storage file '{source}' (disk '{d.TargetDev}'): No such file or directory");
            }

            string type = source is not null && source.StartsWith("/dev/", StringComparison.Ordinal) ? "block" : "file";
            return (d, d with { SourcePath = source, Type = source is null ? d.Type : type, BackingChain = [] });
        }, ct);

    private async Task<string> UpdateMatchingAsync(string nameOrId, ChangeScope scope, bool force, Func<DomainDefinition, (object Current, object Updated)> change, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var (record, live, persistent) = Targets(name, scope, "update device of");
        (object Current, object Updated)? liveChange = live is null ? null : change(live);
        (object Current, object Updated)? configChange = persistent is null ? null : change(persistent);
        if (record is not null && liveChange is { } lc)
        {
            await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
            try
            {
                switch (lc.Updated)
                {
                    case Disk disk:
                        await ChangeMediaAsync(qmp, (Disk)lc.Current, disk, force, ct).ConfigureAwait(false);
                        break;
                    case NetInterface n:
                        await qmp.ExecuteAsync("set_link", w =>
                        {
                            w.WriteString("name", n.Alias);
                            w.WriteBoolean("up", n.LinkState != "down");
                        }, cancellationToken: ct).ConfigureAwait(false);
                        break;
                }
            }
            catch (QmpException e)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"failed to update device '{DeviceXml.AliasOf(lc.Current)}': {e.Message}");
            }

            Store.SaveLive(DeviceXml.Replace(live!, lc.Current, lc.Updated));
        }

        if (persistent is not null && configChange is { } cc)
        {
            Store.SavePersistent(DeviceXml.Replace(persistent, cc.Current, cc.Updated));
        }

        return name;
    }

    /// <summary>Resolves virsh's --live/--config/--current into the definitions to change, with its errors.</summary>
    private (DomainRuntimeRecord? Record, DomainDefinition? Live, DomainDefinition? Persistent) Targets(string name, ChangeScope scope, string verb)
    {
        var record = ReconcileIfDead(name, lockHeld: true);
        bool running = record is not null;
        var (live, config) = scope.Resolve(running);
        if (live && !running)
        {
            throw VireoException.State($"failed to {verb} domain '{name}': domain is not running (use --config to change its persistent definition)");
        }

        DomainDefinition? persistent = null;
        if (config)
        {
            persistent = Store.LoadPersistent(name)
                ?? throw VireoException.State($"failed to {verb} domain '{name}': cannot change the persistent configuration of a transient domain");
        }

        DomainDefinition? liveDef = live ? Store.LoadLive(name) ?? throw NoDomain(name) : null;
        return (live ? record : null, liveDef, persistent);
    }

    public static VireoException NotThere(string name, string what) =>
        VireoException.NotFound($"device not found: domain '{name}' has no {what}");

    /// <summary>The new device's element made ready for a running domain: a MAC and a free QEMU id for a NIC.</summary>
    private static XElement PrepareForLive(DomainDefinition live, XElement element)
    {
        XElement e = new(element);
        if (e.Name.LocalName == "interface")
        {
            if (e.Element("mac")?.Attribute("address") is null)
            {
                e.Element("mac")?.Remove();
                e.AddFirst(new XElement("mac", new XAttribute("address", RandomMac())));
            }

            if (e.Element("alias") is null)
            {
                int n = 0;
                while (live.Devices.Interfaces.Any(i => i.Alias == "net" + n))
                {
                    n++;
                }

                e.Add(new XElement("alias", new XAttribute("name", "net" + n)));
            }
        }

        return e;
    }

    private static string RandomMac()
    {
        Span<byte> b = stackalloc byte[3];
        System.Security.Cryptography.RandomNumberGenerator.Fill(b);
        return $"52:54:00:{b[0]:x2}:{b[1]:x2}:{b[2]:x2}";
    }

    /// <summary>Adds the device to a definition with the checks libvirt makes, each a clear error.</summary>
    private static DomainDefinition CheckedInsert(DomainDefinition def, XElement element)
    {
        var probe = DeviceXml.ParseAlone(element, def.Os.IsQ35);
        foreach (Disk d in probe.Disks)
        {
            if (def.Devices.Disks.Any(x => x.TargetDev == d.TargetDev))
            {
                throw VireoException.Invalid($"target '{d.TargetDev}' already exists in domain '{def.Name}'");
            }

            if (d.Bus == "ide" && def.Os.IsQ35)
            {
                throw VireoException.Unsupported($"disk '{d.TargetDev}': IDE controllers are unsupported for machine type '{def.Os.Machine}' (q35 has SATA; use bus='sata')");
            }

            if (d.SourcePath is { } path && d.Type is "file" or "block" && !File.Exists(path) && !(d.Type == "block" && Path.Exists(path)))
            {
                throw VireoException.Invalid($"cannot access storage file '{path}' (disk '{d.TargetDev}'): No such file or directory");
            }
        }

        foreach (NetInterface n in probe.Interfaces)
        {
            if (n.Mac is not null && def.Devices.Interfaces.Any(x => string.Equals(x.Mac, n.Mac, StringComparison.OrdinalIgnoreCase)))
            {
                throw VireoException.Invalid($"domain '{def.Name}' already has an interface with MAC address '{n.Mac}'");
            }
        }

        foreach (Controller c in probe.Controllers)
        {
            if (def.Devices.Controllers.Any(x => x.Type == c.Type && x.Index == c.Index))
            {
                throw VireoException.Invalid($"domain '{def.Name}' already has a {c.Type} controller with index {c.Index}");
            }
        }

        DomainDefinition result = DeviceXml.Insert(def, element);
        _ = QemuCommandLine.PciAddresses(result);
        return result;
    }

    /// <summary>Validates an update and returns the device as it will be.</summary>
    private static object Updated(object current, DomainDevices probe)
    {
        switch (current)
        {
            case Disk d when probe.Disks.Count == 1:
                Disk p = probe.Disks[0];
                if (d.Device is not ("cdrom" or "floppy"))
                {
                    throw VireoException.Unsupported($"disk '{d.TargetDev}': only the media of a cdrom or floppy can be changed on update-device");
                }

                if (p.Bus != d.Bus || p.Device != d.Device)
                {
                    throw VireoException.Unsupported($"disk '{d.TargetDev}': changing the bus or device type is not supported by update-device");
                }

                if (p.SourcePath is { } path && !File.Exists(path) && !Path.Exists(path))
                {
                    throw VireoException.Invalid($"cannot access storage file '{path}' (disk '{d.TargetDev}'): No such file or directory");
                }

                return d with { SourcePath = p.SourcePath, Type = p.SourcePath is null ? d.Type : p.Type, Format = p.Format ?? d.Format, BackingChain = [] };
            case NetInterface n when probe.Interfaces.Count == 1:
                NetInterface q = probe.Interfaces[0];
                if (q.Type != n.Type || (q.Model ?? n.Model) != n.Model)
                {
                    throw VireoException.Unsupported($"interface '{n.Mac}': only the link state can be changed on update-device");
                }

                return n with { LinkState = q.LinkState };
            default:
                throw VireoException.Unsupported("update-device supports cdrom/floppy media and interface link state only");
        }
    }

    private static async Task ChangeMediaAsync(QmpClient qmp, Disk current, Disk updated, bool force, CancellationToken ct)
    {
        if (current.SourcePath is not null)
        {
            await qmp.ExecuteAsync("eject", w =>
            {
                w.WriteString("id", current.Alias);
                w.WriteBoolean("force", force);
            }, cancellationToken: ct).ConfigureAwait(false);
        }

        if (updated.SourcePath is { } path)
        {
            await qmp.ExecuteAsync("blockdev-change-medium", w =>
            {
                w.WriteString("id", current.Alias);
                w.WriteString("filename", path);
                w.WriteString("format", updated.EffectiveFormat);
                w.WriteString("read-only-mode", updated.ReadOnly || updated.IsCdrom ? "read-only" : "read-write");
            }, QmpTimeouts.Hotplug, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The live attach: host side first (TAP for a NIC, volume path for a disk), then the QMP commands in order.
    /// Returns the live definition as it now runs (a NIC's TAP name filled in).
    /// </summary>
    private async Task<DomainDefinition> HotplugAsync(DomainRuntimeRecord record, DomainDefinition live, DomainDefinition newLive, CancellationToken ct)
    {
        // The one device in newLive that live does not have.
        object device = (object?)newLive.Devices.Disks.FirstOrDefault(d => live.Devices.Disks.All(x => x.TargetDev != d.TargetDev))
            ?? (object?)newLive.Devices.Interfaces.FirstOrDefault(n => live.Devices.Interfaces.All(x => x.Alias != n.Alias))
            ?? (object?)newLive.Devices.Hostdevs.FirstOrDefault(h => live.Devices.Hostdevs.All(x => x.Alias != h.Alias))
            ?? newLive.Devices.Controllers.FirstOrDefault(c => live.Devices.Controllers.All(x => x.Type != c.Type || x.Index != c.Index))
            ?? throw VireoException.Invalid("the device XML adds no device");
        string alias = DeviceXml.AliasOf(device);
        if (device is Controller { Type: "pci" })
        {
            throw VireoException.Unsupported($"PCI controller '{alias}' cannot be hot-plugged; attach it with --config and restart the domain");
        }

        var inputs = new HotplugInputs();
        if (device is Disk { Type: "volume" } vd)
        {
            var hook = Services.StartHooks.OfType<VolumeStartHook>().FirstOrDefault()
                ?? throw VireoException.Unsupported($"disk '{vd.TargetDev}': volume disks need the storage engine");
            inputs = inputs with { ResolvedDiskSource = hook.ResolveOne(vd) };
        }

        PlumbedInterface? plumbed = null;
        if (device is NetInterface { UsesTap: true } nic)
        {
            if (nic.Queues is > 1)
            {
                throw VireoException.Unsupported($"interface '{alias}': hot-plugging a multiqueue interface is not supported yet");
            }

            var hook = Services.StartHooks.OfType<DomainNetworkHook>().FirstOrDefault()
                ?? throw VireoException.Unsupported($"interface '{alias}' (type '{nic.Type}') needs the network engine");
            int index = newLive.Devices.Interfaces.ToList().IndexOf(nic);
            plumbed = await hook.PlumbOneAsync(newLive, nic, index, ct).ConfigureAwait(false);
            inputs = inputs with { TapFdName = plumbed is null ? null : "fd-" + alias };
            if (plumbed is not null)
            {
                newLive = DeviceXml.Replace(newLive, nic, nic with { TargetDev = plumbed.TapName });
            }
        }

        var done = new List<QmpCommand>();
        try
        {
            IReadOnlyList<QmpCommand> commands = HotplugCommands.Attach(newLive, alias, inputs);
            await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
            try
            {
                if (plumbed is not null)
                {
                    await qmp.GetFdAsync(inputs.TapFdName!, plumbed.TapFds[0], cancellationToken: ct).ConfigureAwait(false);
                }

                foreach (QmpCommand c in commands)
                {
                    await qmp.ExecuteAsync(c.Name, c.ArgumentsJson, QmpTimeouts.Hotplug, ct).ConfigureAwait(false);
                    done.Add(c);
                }
            }
            catch (Exception e) when (e is QmpException or VireoException)
            {
                await UndoAsync(qmp, done).ConfigureAwait(false);
                if (plumbed is not null)
                {
                    await TryAsync(() => qmp.ExecuteAsync("closefd", w => w.WriteString("fdname", inputs.TapFdName!), cancellationToken: CancellationToken.None)).ConfigureAwait(false);
                }

                throw e is QmpException q ? new VireoException(ErrorKind.OperationFailed, $"failed to attach device '{alias}': {q.Message}") : e;
            }

            if (plumbed is not null)
            {
                Store.SaveRecord(record with { Resources = [.. record.Resources, .. plumbed.Resources] });
            }

            return newLive;
        }
        catch
        {
            if (plumbed is not null)
            {
                plumbed.Dispose();
                InterfacePlumber.Release(plumbed.Resources);
                plumbed = null;
            }

            throw;
        }
        finally
        {
            plumbed?.Dispose();
        }
    }

    private static async Task UndoAsync(QmpClient qmp, List<QmpCommand> done)
    {
        for (int i = done.Count - 1; i >= 0; i--)
        {
            using var doc = JsonDocument.Parse(done[i].ArgumentsJson);
            var args = doc.RootElement;
            string? Str(string k) => args.TryGetProperty(k, out var v) ? v.GetString() : null;
            (string cmd, string key, string? value) = done[i].Name switch
            {
                "blockdev-add" => ("blockdev-del", "node-name", Str("node-name")),
                "netdev_add" => ("netdev_del", "id", Str("id")),
                "object-add" => ("object-del", "id", Str("id")),
                _ => ("device_del", "id", Str("id")),
            };
            if (value is not null)
            {
                await TryAsync(() => qmp.ExecuteAsync(cmd, w => w.WriteString(key, value), cancellationToken: CancellationToken.None)).ConfigureAwait(false);
            }
        }
    }

    private static async Task TryAsync(Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception e) when (e is QmpException or VireoException)
        {
            // Undo is best effort: the original error is the one to report.
        }
    }

    /// <summary>
    /// device_del, then the wait for the guest to let go (DEVICE_DELETED), then the backends: the block nodes under
    /// the device (read from QEMU's block graph before the device goes), the netdev, the TAP.
    /// </summary>
    private async Task UnplugAsync(DomainRuntimeRecord record, DomainDefinition live, object device, CancellationToken ct)
    {
        string alias = DeviceXml.AliasOf(device);
        if (device is Controller c && (c.Type == "pci" || live.Devices.Disks.Any(d => d.Address?.Controller == c.Index && d.Bus == c.Type)))
        {
            throw VireoException.Unsupported($"controller '{alias}' cannot be detached while it is a PCI bus or has disks on it");
        }

        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        IReadOnlyList<string> nodes = device is Disk ? await BlockNodesOfAsync(qmp, alias, ct).ConfigureAwait(false) : [];
        var deleted = qmp.WaitForEventAsync(e => e.Name == "DEVICE_DELETED" && e.Device == alias, DetachTimeout, ct);
        try
        {
            await qmp.ExecuteAsync("device_del", w => w.WriteString("id", alias), QmpTimeouts.Hotplug, ct).ConfigureAwait(false);
        }
        catch (QmpException e) when (e.Message.Contains("already in the process of unplug", StringComparison.OrdinalIgnoreCase))
        {
            // A detach that timed out earlier: the request is still pending in the guest; wait for it again.
        }
        catch (QmpException e)
        {
            _ = deleted.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            throw new VireoException(ErrorKind.OperationFailed, $"failed to detach device '{alias}': {e.Message}");
        }

        try
        {
            await deleted.ConfigureAwait(false);
        }
        catch (VireoException e) when (e.Kind == ErrorKind.Timeout || e.Message.Contains("timed out", StringComparison.OrdinalIgnoreCase))
        {
            throw new VireoException(ErrorKind.Timeout,
                $"detach of device '{alias}' was not completed by the guest within {DetachTimeout.TotalSeconds:0} s; the device is still attached (the guest may release it later: run detach again)");
        }

        foreach (string node in nodes)
        {
            await TryAsync(() => qmp.ExecuteAsync("blockdev-del", w => w.WriteString("node-name", node), cancellationToken: ct)).ConfigureAwait(false);
        }

        if (device is NetInterface n && n.Type != "hostdev")
        {
            await TryAsync(() => qmp.ExecuteAsync("netdev_del", w => w.WriteString("id", "host" + n.Alias), cancellationToken: ct)).ConfigureAwait(false);
            ReleaseGoneTaps(record);
        }
    }

    /// <summary>A TAP vanishes when QEMU closes its fd; drop its resource (and remove its OVS port) once it has.</summary>
    private void ReleaseGoneTaps(DomainRuntimeRecord record)
    {
        var fresh = Store.LoadRecord(record.Name) ?? record;
        var gone = fresh.Resources.Where(r => r.StartsWith("tap:", StringComparison.Ordinal) && !Directory.Exists("/sys/class/net/" + r[4..])).ToList();
        var goneOvs = fresh.Resources.Where(r => r.StartsWith("ovs-port:", StringComparison.Ordinal) && gone.Contains("tap:" + r[9..])).ToList();
        if (gone.Count == 0)
        {
            return;
        }

        InterfacePlumber.Release(goneOvs);
        Store.SaveRecord(fresh with { Resources = fresh.Resources.Except(gone).Except(goneOvs).ToList() });
    }

    /// <summary>
    /// The block nodes that exist only for device <paramref name="alias"/>, parents first: from its backend's root
    /// node down through QEMU's block graph, stopping at nodes something else also uses.
    /// </summary>
    private static async Task<IReadOnlyList<string>> BlockNodesOfAsync(QmpClient qmp, string alias, CancellationToken ct)
    {
        JsonElement graph = await qmp.ExecuteAsync("x-debug-query-block-graph", cancellationToken: ct).ConfigureAwait(false);
        var nodes = new Dictionary<long, (string Type, string Name)>();
        foreach (var n in graph.GetProperty("nodes").EnumerateArray())
        {
            nodes[n.GetProperty("id").GetInt64()] = (n.GetProperty("type").GetString() ?? "", n.GetProperty("name").GetString() ?? "");
        }

        var edges = graph.GetProperty("edges").EnumerateArray()
            .Select(e => (Parent: e.GetProperty("parent").GetInt64(), Child: e.GetProperty("child").GetInt64())).ToList();

        // The device's BlockBackend is named after the qdev path, e.g. /machine/peripheral/virtio-disk1/virtio-backend.
        long? backend = nodes.Where(kv => kv.Value.Type == "block-backend" &&
                (kv.Value.Name == alias || kv.Value.Name.Contains("/peripheral/" + alias + "/", StringComparison.Ordinal) || kv.Value.Name.EndsWith("/peripheral/" + alias, StringComparison.Ordinal)))
            .Select(kv => (long?)kv.Key).FirstOrDefault();
        var result = new List<string>();
        if (backend is null)
        {
            return result;
        }

        var queue = new Queue<long>(edges.Where(e => e.Parent == backend).Select(e => e.Child));
        var seen = new HashSet<long>();
        while (queue.TryDequeue(out long id))
        {
            if (!seen.Add(id) || !nodes.TryGetValue(id, out var node) || node.Type != "block-driver")
            {
                continue;
            }

            // A node another parent (another disk's backing chain) still uses is not ours to delete.
            if (edges.Any(e => e.Child == id && e.Parent != backend && !seen.Contains(e.Parent)))
            {
                continue;
            }

            result.Add(node.Name);
            foreach (var e in edges.Where(e => e.Parent == id))
            {
                queue.Enqueue(e.Child);
            }
        }

        return result;
    }
}
