using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using Vireo.Engine.Tuning;
using Vireo.Host;
using Vireo.Host.Discovery;
using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu.Qmp;
using HostCpuSet = Vireo.Host.CpuSet;

namespace Vireo.Engine.Domains;

/// <summary>
/// vCPU count, memory and NUMA policy of a domain: <c>setvcpus</c> (live: vCPU hot(un)plug through QMP's
/// hotpluggable-cpus), <c>setmem</c> (live: the virtio balloon), <c>setmaxmem</c>, <c>numatune</c>, <c>schedinfo</c>.
/// Every request is checked against every target before any is changed.
/// </summary>
public sealed partial class DomainManager
{
    private static readonly TimeSpan VcpuUnplugWait = TimeSpan.FromSeconds(10);

    /// <summary>Sets the number of vCPUs (or, with <paramref name="maximum"/>, the maximum, config only).</summary>
    public async Task SetVcpusAsync(string nameOrId, int count, bool maximum, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        if (count < 1)
        {
            throw VireoException.Invalid($"vCPU count {count} is invalid: a domain needs at least 1 vCPU");
        }

        var (record, liveDef, persistent) = ResolveChange(name, scope);
        if (maximum && liveDef is not null)
        {
            throw VireoException.Unsupported($"the maximum vCPU count of running domain '{name}' cannot be changed; use --maximum --config");
        }

        if (persistent is not null && !maximum && count > persistent.MaxVcpus)
        {
            throw VireoException.Invalid($"requested vcpus is greater than max allowable vcpus for the persistent domain: {count} > {persistent.MaxVcpus}");
        }

        if (liveDef is not null && count > liveDef.MaxVcpus)
        {
            throw VireoException.Invalid($"requested vcpus is greater than max allowable vcpus for the live domain: {count} > {liveDef.MaxVcpus}");
        }

        if (persistent is not null && maximum && persistent.CpuTune?.VcpuPins.FirstOrDefault(p => p.Vcpu >= count) is { } pin)
        {
            throw VireoException.Invalid($"cannot lower the maximum to {count} vCPUs: <cputune> pins vCPU {pin.Vcpu}; unpin it first");
        }

        if (liveDef is not null)
        {
            await SetLiveVcpusAsync(record!, liveDef, count, ct).ConfigureAwait(false);
        }

        if (persistent is not null)
        {
            var updated = maximum
                ? persistent with { MaxVcpus = count, Vcpus = Math.Min(persistent.Vcpus, count) }
                : persistent with { Vcpus = count };
            Store.SavePersistent(Revalidate(updated));
        }
    }

    /// <summary>
    /// Plugs the lowest free vCPU slots, or unplugs the highest hot-plugged vCPUs (waiting for the guest to
    /// release each: DEVICE_DELETED). vCPUs present at start cannot be unplugged, as in libvirt.
    /// </summary>
    private async Task SetLiveVcpusAsync(DomainRuntimeRecord record, DomainDefinition liveDef, int count, CancellationToken ct)
    {
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        var slots = await QueryVcpuSlotsAsync(qmp, ct).ConfigureAwait(false);
        int online = slots.Count(s => s.QomPath is not null);
        // QEMU's TCG never frees the translation context of an unplugged vCPU and aborts the whole guest
        // (tcg_register_thread: n < tcg_max_ctxs) when another is plugged later: refuse instead.
        string unpluggedMarker = Path.Combine(Store.RunDir(record.Name), "tcg-vcpu-unplugged");
        string thisRun = $"{record.Pid} {record.PidStartTime}";
        if (count > online && record.Accelerator == "tcg" && File.Exists(unpluggedMarker) && File.ReadAllText(unpluggedMarker) == thisRun)
        {
            throw VireoException.Unsupported($"domain '{record.Name}' runs under TCG and has had a vCPU unplugged: QEMU would abort if one were plugged again (it does not reclaim TCG vCPU contexts); restart the domain to change its vCPUs upwards");
        }

        if (count > online)
        {
            foreach (var slot in slots.Where(s => s.QomPath is null).Take(count - online))
            {
                await qmp.ExecuteAsync("device_add", w =>
                {
                    w.WriteString("driver", slot.Type);
                    w.WriteString("id", "vcpu" + slot.Index.ToString(CultureInfo.InvariantCulture));
                    foreach (var (key, value) in slot.Props)
                    {
                        w.WriteNumber(key, value);
                    }
                }, cancellationToken: ct).ConfigureAwait(false);
            }

            // A new vCPU thread follows its <vcpupin>, or the domain's default CPUs, like those started with it;
            // unpinned it would inherit the emulator pin of the QEMU thread that created it.
            var threads = await qmp.QueryCpusFastAsync(ct).ConfigureAwait(false);
            foreach (var (index, tid) in threads)
            {
                if (index >= online && index < count)
                {
                    DomainTuner.PinVcpu(record.Pid, tid, ConfiguredVcpuAffinity(liveDef, index), index);
                }
            }
        }
        else if (count < online)
        {
            foreach (var slot in slots.Where(s => s.QomPath is not null).Reverse().Take(online - count))
            {
                string id = "vcpu" + slot.Index.ToString(CultureInfo.InvariantCulture);
                if (record.Accelerator == "tcg")
                {
                    State.AtomicFile.WriteAllText(unpluggedMarker, thisRun);
                }

                if (slot.QomPath != "/machine/peripheral/" + id)
                {
                    throw VireoException.Unsupported($"vCPU {slot.Index} of domain '{record.Name}' was present at start and cannot be unplugged (only hot-plugged vCPUs can; online now: {online})");
                }

                // QEMU 7.2 reports a vCPU's removal only through its children (path /machine/peripheral/vcpuN/lapic),
                // newer ones also with device=vcpuN: either means the guest released it.
                string path = "/machine/peripheral/" + id;
                var deleted = qmp.WaitForEventAsync(e => e.Name == "DEVICE_DELETED" && e.Data.ValueKind == JsonValueKind.Object
                    && ((e.Data.TryGetProperty("device", out var d) && d.GetString() == id)
                        || (e.Data.TryGetProperty("path", out var p) && p.GetString() is string ep && (ep == path || ep.StartsWith(path + "/", StringComparison.Ordinal)))),
                    VcpuUnplugWait, ct);
                await qmp.ExecuteAsync("device_del", w => w.WriteString("id", id), cancellationToken: ct).ConfigureAwait(false);
                try
                {
                    await deleted.ConfigureAwait(false);
                }
                catch (VireoException e) when (e.Kind == ErrorKind.Timeout)
                {
                    throw new VireoException(ErrorKind.Timeout, $"the guest of domain '{record.Name}' did not release vCPU {slot.Index} within {VcpuUnplugWait.TotalSeconds} s (does it support CPU hot-unplug?)", e);
                }
            }
        }

        Store.SaveLive(Revalidate(liveDef with { Vcpus = count }));
    }

    private sealed record VcpuSlot(int Index, string Type, string? QomPath, IReadOnlyList<(string Key, long Value)> Props);

    /// <summary>query-hotpluggable-cpus in vCPU order: slots sorted by socket, die, core, thread (QEMU lists them backwards).</summary>
    private static async Task<List<VcpuSlot>> QueryVcpuSlotsAsync(QmpClient qmp, CancellationToken ct)
    {
        JsonElement r = await qmp.ExecuteAsync("query-hotpluggable-cpus", cancellationToken: ct).ConfigureAwait(false);
        var raw = new List<(string Type, string? Qom, List<(string Key, long Value)> Props)>();
        if (r.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in r.EnumerateArray())
            {
                var props = new List<(string, long)>();
                if (e.TryGetProperty("props", out var p) && p.ValueKind == JsonValueKind.Object)
                {
                    foreach (var prop in p.EnumerateObject())
                    {
                        if (prop.Value.TryGetInt64(out long v))
                        {
                            props.Add((prop.Name, v));
                        }
                    }
                }

                raw.Add((e.GetProperty("type").GetString() ?? "", e.TryGetProperty("qom-path", out var q) ? q.GetString() : null, props));
            }
        }

        static long Key(List<(string Key, long Value)> props, string k) => props.FirstOrDefault(p => p.Key == k).Value;
        var ordered = raw.OrderBy(s => Key(s.Props, "node-id")).ThenBy(s => Key(s.Props, "socket-id")).ThenBy(s => Key(s.Props, "die-id"))
            .ThenBy(s => Key(s.Props, "core-id")).ThenBy(s => Key(s.Props, "thread-id")).ToList();
        return [.. ordered.Select((s, i) => new VcpuSlot(i, s.Type, s.Qom, s.Props))];
    }

    /// <summary>Sets the current memory: live through the balloon (the guest gives pages back), config in &lt;currentMemory&gt;.</summary>
    public async Task SetMemoryAsync(string nameOrId, long kib, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        if (kib <= 0)
        {
            throw VireoException.Invalid($"memory size {kib} KiB is invalid: it must be positive");
        }

        var (record, liveDef, persistent) = ResolveChange(name, scope);
        foreach (var d in new[] { liveDef, persistent })
        {
            if (d is not null && kib > d.MemoryKiB)
            {
                throw VireoException.Invalid($"cannot set memory higher than max memory of domain '{name}': {kib} KiB > {d.MemoryKiB} KiB");
            }
        }

        if (liveDef is not null)
        {
            if (liveDef.Devices.MemBalloon?.Model == "none")
            {
                throw VireoException.Unsupported($"domain '{name}' has <memballoon model='none'>: its memory cannot change while it runs");
            }

            await using (var qmp = await ConnectAsync(record!, ct).ConfigureAwait(false))
            {
                await qmp.ExecuteAsync("balloon", w => w.WriteNumber("value", kib * 1024), cancellationToken: ct).ConfigureAwait(false);
            }

            Store.SaveLive(Revalidate(liveDef with { CurrentMemoryKiB = kib }));
        }

        if (persistent is not null)
        {
            Store.SavePersistent(Revalidate(persistent with { CurrentMemoryKiB = kib }));
        }
    }

    /// <summary>Sets &lt;memory&gt; (the maximum) of the persistent definition; a running domain's cannot change.</summary>
    public void SetMaxMemory(string nameOrId, long kib, ChangeScope scope)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        if (kib <= 0)
        {
            throw VireoException.Invalid($"memory size {kib} KiB is invalid: it must be positive");
        }

        var (_, live) = ResolveScope(name, scope, queryOnly: false);
        if (live)
        {
            throw VireoException.Unsupported($"cannot resize the maximum memory of running domain '{name}'; use --config (it applies at the next start)");
        }

        var def = RequirePersistent(name);
        Store.SavePersistent(Revalidate(def with { MemoryKiB = kib, CurrentMemoryKiB = Math.Min(def.CurrentMemoryKiB, kib) }));
    }

    /// <summary>The memory policy: live or persistent definition (the running one is what QEMU's backends were given).</summary>
    public NumaTuneInfo GetNumaTune(string nameOrId, ChangeScope scope)
    {
        string name = ResolveName(nameOrId);
        var (_, live) = ResolveScope(name, scope, queryOnly: true);
        var def = live ? Store.LoadLive(name) ?? throw NoDomain(nameOrId) : RequirePersistent(name);
        var t = def.NumaTune;
        return new NumaTuneInfo(t?.Mode ?? "strict", t?.Nodeset ?? "", t?.Placement);
    }

    /// <summary>
    /// Changes &lt;numatune&gt;&lt;memory&gt; of the persistent definition. A running domain's policy is fixed in
    /// its memory backends at start: changing it live (libvirt moves it through the cpuset cgroup) is refused.
    /// </summary>
    public void SetNumaTune(string nameOrId, string? mode, string? nodeset, ChangeScope scope, HostFacts? host = null)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        if (mode is not null && mode is not ("strict" or "preferred" or "interleave" or "restrictive"))
        {
            throw VireoException.Invalid($"numatune mode '{mode}' is invalid: use strict, preferred, interleave or restrictive");
        }

        if (nodeset is not null)
        {
            var nodes = HostCpuSet.Parse(nodeset, "nodeset");
            var have = (host ?? HostDiscovery.Discover(HostRoot.System)).NumaNodes;
            var missing = nodes.Except(have);
            if (nodes.IsEmpty || !missing.IsEmpty)
            {
                throw VireoException.Invalid($"nodeset '{nodeset}' names NUMA node{(missing.Count > 1 ? "s" : "")} {(nodes.IsEmpty ? "(none)" : missing.ToString())}, which this host does not have (its nodes are {have})");
            }
        }

        var (_, live) = ResolveScope(name, scope, queryOnly: false);
        if (live)
        {
            throw VireoException.Unsupported($"changing the NUMA memory policy of running domain '{name}' is not supported (QEMU's memory backends get it at start); use --config and restart the domain");
        }

        var def = RequirePersistent(name);
        var t = def.NumaTune ?? new NumaTune();
        Store.SavePersistent(Revalidate(def with { NumaTune = t with { Mode = mode ?? t.Mode, Nodeset = nodeset ?? t.Nodeset, Placement = nodeset is not null ? "static" : t.Placement } }));
    }

    /// <summary>The scheduler parameters the definition stores in &lt;cputune&gt; (Vireo keeps them; without cgroups it does not apply them).</summary>
    public SchedInfo GetSchedInfo(string nameOrId, ChangeScope scope)
    {
        string name = ResolveName(nameOrId);
        var (_, live) = ResolveScope(name, scope, queryOnly: true);
        var def = live ? Store.LoadLive(name) ?? throw NoDomain(nameOrId) : RequirePersistent(name);
        var cputune = XElement.Parse(def.ToXml()).Element("cputune");
        var list = new List<(string, long)>();
        foreach (var (param, element) in (ReadOnlySpan<(string, string)>)[
            ("cpu_shares", "shares"), ("vcpu_period", "period"), ("vcpu_quota", "quota"),
            ("emulator_period", "emulator_period"), ("emulator_quota", "emulator_quota"),
            ("global_period", "global_period"), ("global_quota", "global_quota"),
            ("iothread_period", "iothread_period"), ("iothread_quota", "iothread_quota")])
        {
            string? text = cputune?.Element(element)?.Value;
            list.Add((param, long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : 0));
        }

        return new SchedInfo("posix", list, Applied: false);
    }
}
