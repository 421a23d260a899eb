using System.Globalization;
using System.Text.Json;
using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

/// <summary>domstats, the VNC display, screenshots, keys and the raw monitor.</summary>
public sealed partial class DomainManager
{
    /// <summary>Which domstats groups to report; none set means all, as virsh does.</summary>
    [Flags]
    public enum StatsGroups
    {
        None = 0,
        State = 1,
        CpuTotal = 2,
        Balloon = 4,
        Vcpu = 8,
        Interface = 16,
        Block = 32,
        All = State | CpuTotal | Balloon | Vcpu | Interface | Block,
    }

    /// <summary>domstats for one domain: virsh's <c>key=value</c> records.</summary>
    public async Task<(string Name, IReadOnlyList<(string Key, string Value)> Fields)> DomainStatsAsync(string nameOrId, StatsGroups groups, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        if (groups == StatsGroups.None)
        {
            groups = StatsGroups.All;
        }

        var info = GetInfo(name);
        var f = new List<(string, string)>();
        void Add(string k, long v) => f.Add((k, v.ToString(CultureInfo.InvariantCulture)));
        if (groups.HasFlag(StatsGroups.State))
        {
            Add("state.state", StateCode(info.Status.State));
            Add("state.reason", ReasonCode(info.Status));
        }

        bool active = info.Pid is not null;
        if (groups.HasFlag(StatsGroups.CpuTotal) && active && ProcessInfo.ReadStat(info.Pid!.Value) is { } st)
        {
            // /proc ticks are USER_HZ (100 per second); libvirt reports nanoseconds.
            const long NsPerTick = 10_000_000;
            Add("cpu.time", (long)(st.UserTicks + st.SysTicks) * NsPerTick);
            Add("cpu.user", (long)st.UserTicks * NsPerTick);
            Add("cpu.system", (long)st.SysTicks * NsPerTick);
        }

        DomainDefinition def = info.Definition;
        if (groups.HasFlag(StatsGroups.Balloon))
        {
            long current = def.CurrentMemoryKiB;
            if (active && def.Devices.MemBalloon is not { Model: "none" })
            {
                try
                {
                    var mem = await MemoryStatsAsync(name, null, ct).ConfigureAwait(false);
                    foreach (var (k, v) in mem.Values)
                    {
                        if (k == "actual")
                        {
                            current = v;
                        }
                        else if (k is "swap_in" or "swap_out" or "major_fault" or "minor_fault" or "unused" or "available" or "usable" or "last_update" or "disk_caches" or "rss")
                        {
                            Add("balloon." + k, v);
                        }
                    }
                }
                catch (VireoException)
                {
                }
            }

            Add("balloon.current", current);
            Add("balloon.maximum", def.MemoryKiB);
        }

        if (groups.HasFlag(StatsGroups.Vcpu))
        {
            Add("vcpu.current", def.Vcpus);
            Add("vcpu.maximum", def.MaxVcpus);
        }

        if (groups.HasFlag(StatsGroups.Interface))
        {
            var nics = def.Devices.Interfaces;
            Add("net.count", nics.Count);
            for (int i = 0; i < nics.Count; i++)
            {
                string? tap = active ? nics[i].TargetDev ?? FindTap(nics[i].Mac) : null;
                f.Add(($"net.{i}.name", tap ?? nics[i].Alias));
                if (tap is not null)
                {
                    try
                    {
                        var s = InterfaceStats(name, tap);
                        foreach (var (k, v) in s.Values)
                        {
                            // rx_bytes -> rx.bytes, rx_errs -> rx.errs
                            Add($"net.{i}.{k.Replace('_', '.')}", v);
                        }
                    }
                    catch (VireoException)
                    {
                    }
                }
            }
        }

        if (groups.HasFlag(StatsGroups.Block))
        {
            var disks = def.Devices.Disks;
            Add("block.count", disks.Count);
            var stats = active ? await BlockStatsAsync(name, null, ct).ConfigureAwait(false) : [];
            for (int i = 0; i < disks.Count; i++)
            {
                f.Add(($"block.{i}.name", disks[i].TargetDev));
                if (disks[i].SourcePath is { } p)
                {
                    f.Add(($"block.{i}.path", p));
                }

                if (stats.FirstOrDefault(s => s.Device == disks[i].TargetDev) is { } bs)
                {
                    var v = bs.Values.ToDictionary(x => x.Key, x => x.Value);
                    Add($"block.{i}.rd.reqs", v["rd_req"]);
                    Add($"block.{i}.rd.bytes", v["rd_bytes"]);
                    Add($"block.{i}.rd.times", v["rd_total_times"]);
                    Add($"block.{i}.wr.reqs", v["wr_req"]);
                    Add($"block.{i}.wr.bytes", v["wr_bytes"]);
                    Add($"block.{i}.wr.times", v["wr_total_times"]);
                    Add($"block.{i}.fl.reqs", v["flush_operations"]);
                    Add($"block.{i}.fl.times", v["flush_total_times"]);
                    if (disks[i].SourcePath is not null)
                    {
                        var bi = await BlockInfoAsync(name, disks[i].TargetDev, ct).ConfigureAwait(false);
                        Add($"block.{i}.allocation", bi.Values[1].Value);
                        Add($"block.{i}.capacity", bi.Values[0].Value);
                        Add($"block.{i}.physical", bi.Values[2].Value);
                    }
                }
            }
        }

        return (name, f);
    }

    private static int StateCode(DomainState s) => (int)s;

    /// <summary>virDomain*Reason numbers for the reasons Vireo records.</summary>
    private static int ReasonCode(DomainStatus s) => (s.State, s.Reason) switch
    {
        (DomainState.Running, "booted") => 1,
        (DomainState.Running, "unpaused") => 5,
        (DomainState.Paused, "user") => 2,
        (DomainState.Shutoff, "shutdown") => 1,
        (DomainState.Shutoff, "destroyed") => 2,
        (DomainState.Shutoff, "crashed") => 3,
        _ => 0,
    };

    /// <summary>The VNC server QEMU runs: (host, port), from query-vnc; null when the domain has none.</summary>
    public async Task<(string Host, int Port)?> VncDisplayAsync(string nameOrId, CancellationToken ct)
    {
        var (record, _) = ActiveDefinition(nameOrId, "get the display of");
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        JsonElement vnc = await qmp.ExecuteAsync("query-vnc", cancellationToken: ct).ConfigureAwait(false);
        if (!vnc.TryGetProperty("enabled", out var en) || !en.GetBoolean() || !vnc.TryGetProperty("service", out var svc)
            || !int.TryParse(svc.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out int port))
        {
            return null;
        }

        string host = vnc.TryGetProperty("host", out var h) ? h.GetString() ?? "127.0.0.1" : "127.0.0.1";
        return (host, port);
    }

    /// <summary>screenshot: QMP screendump (QEMU 7.2 writes PPM) converted to PNG at <paramref name="file"/>.</summary>
    public async Task<string> ScreenshotAsync(string nameOrId, string? file, CancellationToken ct)
    {
        var (record, live) = ActiveDefinition(nameOrId, "take a screenshot of");
        file ??= $"{live.Name}-{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.png";
        string ppm = Path.Combine(Store.RunDir(live.Name), "screendump.ppm");
        File.Delete(ppm);
        await using (var qmp = await ConnectAsync(record, ct).ConfigureAwait(false))
        {
            try
            {
                await qmp.ExecuteAsync("screendump", w => w.WriteString("filename", ppm), cancellationToken: ct).ConfigureAwait(false);
            }
            catch (QmpException e)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"failed to take a screenshot of domain '{live.Name}': {e.Message}");
            }
        }

        try
        {
            byte[] png = PngWriter.FromPpm(File.ReadAllBytes(ppm));
            State.AtomicFile.WriteAllBytes(Path.GetFullPath(file), png);
        }
        finally
        {
            File.Delete(ppm);
        }

        return file;
    }

    /// <summary>send-key: keys pressed together and released after <paramref name="holdTimeMs"/>.</summary>
    public async Task SendKeysAsync(string nameOrId, string codeset, IReadOnlyList<string> keys, int? holdTimeMs, CancellationToken ct)
    {
        var (record, _) = ActiveDefinition(nameOrId, "send keys to");
        var parsed = keys.Select(k => KeyCodes.Parse(codeset, k)).ToList();
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        await qmp.ExecuteAsync("send-key", w =>
        {
            w.WriteStartArray("keys");
            foreach (var (type, value) in parsed)
            {
                w.WriteStartObject();
                w.WriteString("type", type);
                if (type == "number")
                {
                    w.WriteNumber("data", int.Parse(value, CultureInfo.InvariantCulture));
                }
                else
                {
                    w.WriteString("data", value);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (holdTimeMs is int h)
            {
                w.WriteNumber("hold-time", h);
            }
        }, cancellationToken: ct).ConfigureAwait(false);
    }

    /// <summary>qemu-monitor-command: raw QMP JSON in, QEMU's reply out (or an HMP command line and its text).</summary>
    public async Task<string> MonitorCommandAsync(string nameOrId, string command, bool hmp, CancellationToken ct)
    {
        var (record, _) = ActiveDefinition(nameOrId, "run a monitor command on");
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        return hmp
            ? await qmp.HumanMonitorCommandAsync(command, null, ct).ConfigureAwait(false)
            : await qmp.RawAsync(command, null, ct).ConfigureAwait(false);
    }
}
