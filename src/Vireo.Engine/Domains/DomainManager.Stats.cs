using System.Globalization;
using System.Text.Json;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Engine.Domains;

/// <summary>One row of domblklist.</summary>
public sealed record BlockListEntry(string Type, string Device, string Target, string Source, string Alias);

/// <summary>One row of domiflist: the host interface (TAP) is "-" when the type has none.</summary>
public sealed record InterfaceListEntry(string Interface, string Type, string Source, string Model, string Mac, string Alias, string LinkState);

/// <summary>Named counters in virsh's order and spelling (<c>rd_req</c>, <c>rx_bytes</c>, <c>actual</c>...).</summary>
public sealed record NamedCounters(string Device, IReadOnlyList<(string Key, long Value)> Values);

/// <summary>Live inspection: the device lists, block/interface/memory statistics and domstats.</summary>
public sealed partial class DomainManager
{
    public IReadOnlyList<BlockListEntry> BlockList(string nameOrId, bool inactive)
    {
        var def = GetDefinition(nameOrId, inactive);
        return def.Devices.Disks.Select(d => new BlockListEntry(d.Type, d.Device, d.TargetDev,
            d.SourcePath ?? (d.SourceVolume is not null ? $"{d.SourcePool}/{d.SourceVolume}" : "-"), d.Alias)).ToList();
    }

    public IReadOnlyList<InterfaceListEntry> InterfaceList(string nameOrId, bool inactive)
    {
        var def = GetDefinition(nameOrId, inactive);
        bool live = !inactive && IsActive(def.Name);
        return def.Devices.Interfaces.Select(n => new InterfaceListEntry(
            (live ? n.TargetDev ?? FindTap(n.Mac) : n.TargetDev) ?? "-",
            n.Type,
            n.SourceNetwork ?? n.SourceBridge ?? n.SourceDev ?? n.SourcePath ?? "-",
            n.Model ?? "rtl8139",
            n.Mac ?? "-",
            n.Alias,
            n.LinkState ?? "up")).ToList();
    }

    private bool IsActive(string name) => ReconcileIfDead(name) is not null;

    /// <summary>The host TAP of a guest MAC: Vireo gives each TAP the guest's MAC with the first byte 0xFE.</summary>
    internal static string? FindTap(string? guestMac)
    {
        if (guestMac is null || guestMac.Length != 17 || !Directory.Exists("/sys/class/net"))
        {
            return null;
        }

        string want = "fe" + guestMac[2..].ToLowerInvariant();
        foreach (string dir in Directory.EnumerateDirectories("/sys/class/net"))
        {
            try
            {
                if (File.Exists(Path.Combine(dir, "tun_flags")) && File.ReadAllText(Path.Combine(dir, "address")).Trim() == want)
                {
                    return Path.GetFileName(dir);
                }
            }
            catch (IOException)
            {
            }
        }

        return null;
    }

    /// <summary>domblkstat: QEMU's query-blockstats per disk (all disks when <paramref name="device"/> is null).</summary>
    public async Task<IReadOnlyList<NamedCounters>> BlockStatsAsync(string nameOrId, string? device, CancellationToken ct)
    {
        var (record, live) = ActiveDefinition(nameOrId, "get block stats of");
        var disks = SelectDisks(live, device);
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        JsonElement stats = await qmp.ExecuteAsync("query-blockstats", cancellationToken: ct).ConfigureAwait(false);
        var result = new List<NamedCounters>();
        foreach (Disk d in disks)
        {
            JsonElement? s = ByQdev(stats, d.Alias);
            if (s is not { } entry || !entry.TryGetProperty("stats", out var st))
            {
                continue;
            }

            long L(string k) => st.TryGetProperty(k, out var v) && v.TryGetInt64(out long x) ? x : 0;
            result.Add(new NamedCounters(d.TargetDev,
            [
                ("rd_req", L("rd_operations")),
                ("rd_bytes", L("rd_bytes")),
                ("wr_req", L("wr_operations")),
                ("wr_bytes", L("wr_bytes")),
                ("flush_operations", L("flush_operations")),
                ("rd_total_times", L("rd_total_time_ns")),
                ("wr_total_times", L("wr_total_time_ns")),
                ("flush_total_times", L("flush_total_time_ns")),
            ]));
        }

        return result;
    }

    /// <summary>domblkinfo: capacity (guest-visible size), allocation (bytes used on the host), physical (file size).</summary>
    public async Task<NamedCounters> BlockInfoAsync(string nameOrId, string device, CancellationToken ct)
    {
        var (record, live) = ActiveDefinition(nameOrId, "get block info of");
        Disk d = SelectDisks(live, device)[0];
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        JsonElement blocks = await qmp.ExecuteAsync("query-block", cancellationToken: ct).ConfigureAwait(false);
        long capacity = 0, allocation = 0, physical = 0;
        if (ByQdev(blocks, d.Alias) is { } b && b.TryGetProperty("inserted", out var ins) && ins.TryGetProperty("image", out var image))
        {
            capacity = image.TryGetProperty("virtual-size", out var vs) ? vs.GetInt64() : 0;
            allocation = image.TryGetProperty("actual-size", out var a) ? a.GetInt64() : 0;
            string? file = image.TryGetProperty("filename", out var f) ? f.GetString() : null;
            physical = file is not null && File.Exists(file) ? new FileInfo(file).Length : capacity;
        }

        return new NamedCounters(d.TargetDev, [("Capacity", capacity), ("Allocation", allocation), ("Physical", physical)]);
    }

    /// <summary>
    /// domifstat: the TAP's kernel counters, rx and tx swapped as virsh does (what the host sends is what the
    /// guest receives).
    /// </summary>
    public NamedCounters InterfaceStats(string nameOrId, string iface)
    {
        var (_, live) = ActiveDefinition(nameOrId, "get interface stats of");
        NetInterface n = FindInterface(live, iface);
        string tap = n.TargetDev ?? FindTap(n.Mac)
            ?? throw VireoException.Unsupported($"interface '{iface}' of domain '{live.Name}' (type '{n.Type}') has no host TAP to read counters from");
        string dir = Path.Combine("/sys/class/net", tap, "statistics");
        long S(string f)
        {
            try
            {
                return long.Parse(File.ReadAllText(Path.Combine(dir, f)).Trim(), CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"cannot read {Path.Combine(dir, f)}: {e.Message}");
            }
        }

        return new NamedCounters(tap,
        [
            ("rx_bytes", S("tx_bytes")),
            ("rx_packets", S("tx_packets")),
            ("rx_errs", S("tx_errors")),
            ("rx_drop", S("tx_dropped")),
            ("tx_bytes", S("rx_bytes")),
            ("tx_packets", S("rx_packets")),
            ("tx_errs", S("rx_errors")),
            ("tx_drop", S("rx_dropped")),
        ]);
    }

    /// <summary>An interface named as virsh allows: host TAP name, MAC, or alias.</summary>
    internal static NetInterface FindInterface(DomainDefinition def, string iface) =>
        def.Devices.Interfaces.FirstOrDefault(n => n.TargetDev == iface || string.Equals(n.Mac, iface, StringComparison.OrdinalIgnoreCase) || n.Alias == iface)
        ?? def.Devices.Interfaces.FirstOrDefault(n => n.TargetDev is null && FindTap(n.Mac) == iface)
        ?? throw VireoException.NotFound($"domain '{def.Name}' has no interface '{iface}' (give its host device name, MAC address or alias)");

    /// <summary>dommemstat: the balloon's figures in KiB (virsh's names), plus rss. <paramref name="period"/> sets the guest's polling interval.</summary>
    public async Task<NamedCounters> MemoryStatsAsync(string nameOrId, int? period, CancellationToken ct)
    {
        var (record, live) = ActiveDefinition(nameOrId, "get memory stats of");
        if (period is < 0)
        {
            throw VireoException.Invalid($"--period must be 0 or more seconds, not {period}");
        }

        var values = new List<(string, long)>();
        bool balloon = live.Devices.MemBalloon is not { Model: "none" };
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        if (balloon)
        {
            int? set = period ?? live.Devices.MemBalloon?.StatsPeriod;
            if (set is int p)
            {
                await qmp.ExecuteAsync("qom-set", w =>
                {
                    w.WriteString("path", "/machine/peripheral/balloon0");
                    w.WriteString("property", "guest-stats-polling-interval");
                    w.WriteNumber("value", p);
                }, cancellationToken: ct).ConfigureAwait(false);
            }

            JsonElement b = await qmp.ExecuteAsync("query-balloon", cancellationToken: ct).ConfigureAwait(false);
            JsonElement gs = await qmp.ExecuteAsync("qom-get", w =>
            {
                w.WriteString("path", "/machine/peripheral/balloon0");
                w.WriteString("property", "guest-stats");
            }, cancellationToken: ct).ConfigureAwait(false);
            if (gs.TryGetProperty("stats", out var st))
            {
                foreach (var (qemu, virsh, kib) in MemStatNames)
                {
                    if (st.TryGetProperty(qemu, out var v) && v.TryGetInt64(out long x) && x >= 0)
                    {
                        values.Add((virsh, kib ? x / 1024 : x));
                    }
                }
            }

            values.Add(("actual", b.GetProperty("actual").GetInt64() / 1024));
            if (gs.TryGetProperty("last-update", out var lu) && lu.TryGetInt64(out long last) && last > 0)
            {
                values.Add(("last_update", last));
            }
        }
        else
        {
            values.Add(("actual", live.CurrentMemoryKiB));
        }

        values.Add(("rss", RssKiB(record.Pid)));
        return new NamedCounters(live.Name, values);
    }

    private static readonly (string Qemu, string Virsh, bool Kib)[] MemStatNames =
    [
        ("stat-swap-in", "swap_in", true),
        ("stat-swap-out", "swap_out", true),
        ("stat-major-faults", "major_fault", false),
        ("stat-minor-faults", "minor_fault", false),
        ("stat-free-memory", "unused", true),
        ("stat-total-memory", "available", true),
        ("stat-available-memory", "usable", true),
        ("stat-disk-caches", "disk_caches", true),
        ("stat-htlb-pgalloc", "hugetlb_pgalloc", false),
        ("stat-htlb-pgfail", "hugetlb_pgfail", false),
    ];

    private static long RssKiB(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
        }

        return 0;
    }

    private (DomainRuntimeRecord Record, DomainDefinition Live) ActiveDefinition(string nameOrId, string verb)
    {
        string name = ResolveName(nameOrId);
        var record = ReconcileIfDead(name) ?? throw VireoException.State($"failed to {verb} domain '{name}': domain is not running");
        var live = Store.LoadLive(name) ?? throw NoDomain(nameOrId);
        return (record, live);
    }

    /// <summary>A disk named by target (vda) or by source path, as virsh accepts; all disks when null.</summary>
    private static List<Disk> SelectDisks(DomainDefinition def, string? device)
    {
        if (device is null)
        {
            return [.. def.Devices.Disks];
        }

        Disk d = def.Devices.Disks.FirstOrDefault(x => x.TargetDev == device || x.SourcePath == device || x.Alias == device)
            ?? throw VireoException.NotFound($"domain '{def.Name}' has no disk '{device}' (give its target, e.g. vda, or its source path)");
        return [d];
    }

    /// <summary>The entry of query-block / query-blockstats for the device with id <paramref name="alias"/>.</summary>
    private static JsonElement? ByQdev(JsonElement list, string alias)
    {
        foreach (var e in list.EnumerateArray())
        {
            string qdev = e.TryGetProperty("qdev", out var q) ? q.GetString() ?? "" : "";
            string dev = e.TryGetProperty("device", out var dv) ? dv.GetString() ?? "" : "";
            if (qdev == alias || qdev.Contains("/peripheral/" + alias + "/", StringComparison.Ordinal) || qdev.EndsWith("/peripheral/" + alias, StringComparison.Ordinal) || dev == alias)
            {
                return e;
            }
        }

        return null;
    }
}
