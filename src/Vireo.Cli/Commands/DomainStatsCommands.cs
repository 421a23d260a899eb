using System.Globalization;
using System.Text.Json;
using Vireo.Engine;
using Vireo.Engine.Domains;
using Vireo.Model;

namespace Vireo.Cli.Commands;

/// <summary>Live inspection with virsh's names and layouts: device lists, statistics, display, keys, the raw monitor.</summary>
internal static class DomainStatsCommands
{
    public const string Group = "Domain monitoring";

    private static readonly OptionSpec DomainOpt = new("domain", "domain name, id or uuid", "domain");
    private static readonly OptionSpec JsonOpt = new("json", "print JSON instead of text");

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("domblklist", Group, "list the domain's block devices", "domblklist <domain> [--details] [--inactive] [--json]",
            [DomainOpt, new("details", "also show type and device"), new("inactive", "list the persistent definition's disks"), JsonOpt], BlkList),
        new("domiflist", Group, "list the domain's network interfaces", "domiflist <domain> [--inactive] [--json]",
            [DomainOpt, new("inactive", "list the persistent definition's interfaces"), JsonOpt], IfList),
        new("domblkstat", Group, "block device I/O counters", "domblkstat <domain> [<device>] [--human] [--json]",
            [DomainOpt, new("device", "target (vda) or source path; all disks when absent", "device"), new("human", "longer field names"), JsonOpt], BlkStat),
        new("domblkinfo", Group, "block device size information", "domblkinfo <domain> <device> [--human] [--json]",
            [DomainOpt, new("device", "target (vda) or source path", "device"), new("human", "sizes with units"), JsonOpt], BlkInfo),
        new("domifstat", Group, "network interface counters (from the host TAP, as the guest sees them)", "domifstat <domain> <interface> [--json]",
            [DomainOpt, new("interface", "host TAP name, MAC address or alias", "interface"), JsonOpt], IfStat),
        new("dommemstat", Group, "memory statistics from the balloon (KiB)", "dommemstat <domain> [--period SECONDS] [--json]",
            [DomainOpt, new("period", "set the guest's statistics polling period in seconds", "seconds"), new("live", "accepted for virsh compatibility"),
             new("config", "accepted for virsh compatibility"), new("current", "accepted for virsh compatibility"), JsonOpt], MemStat),
        new("domstats", Group, "domain statistics as key=value records", "domstats [<domain>...] [--state] [--cpu-total] [--balloon] [--vcpu] [--interface] [--block] [--json]",
            [new("state", "state and reason"), new("cpu-total", "total CPU time"), new("balloon", "balloon figures"), new("vcpu", "vCPU counts"),
             new("interface", "interface counters"), new("block", "block counters and sizes"), JsonOpt], DomStats),
        new("vncdisplay", Group, "the VNC display of a domain", "vncdisplay <domain>", [DomainOpt], VncDisplay),
        new("domdisplay", Group, "the display URI of a domain", "domdisplay <domain>", [DomainOpt, new("include-password", "accepted for virsh compatibility")], DomDisplay),
        new("screenshot", Group, "take a screenshot of the console (PNG)", "screenshot <domain> [<file>]",
            [DomainOpt, new("file", "where to write the PNG (default: DOMAIN-TIME.png)", "file"), new("screen", "screen number (0 only)", "screen")], Screenshot),
        new("send-key", Group, "send keystrokes to the guest", "send-key <domain> [--codeset linux|xt|atset1|qnum] [--holdtime MS] <key>...",
            [DomainOpt, new("codeset", "keycode set (default linux: KEY_A, 30)", "codeset"), new("holdtime", "milliseconds to hold the keys", "ms")], SendKey)
        { Details = "Keys are pressed together, then released. In the linux codeset a key is a KEY_* name or a number; any other name is passed to QEMU as a qcode (ctrl, alt, delete)." },
        new("qemu-monitor-command", Group, "run a raw QMP (or HMP) command", "qemu-monitor-command <domain> [--pretty] [--hmp] <command>...",
            [DomainOpt, new("pretty", "indent the JSON reply"), new("hmp", "the command is a human monitor command line")], MonitorCommand),
    ];

    private static DomainManager Domains => VireoEngine.Local.Domains;

    private static (string Domain, int Pos) Domain(CommandContext c)
    {
        int pos = 0;
        string d = c.Args.Required("domain", ref pos, "<domain>");
        return (d, pos);
    }

    private static Task<int> BlkList(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var list = Domains.BlockList(domain, c.Args.Has("inactive"));
        if (c.Json)
        {
            Output.JsonArray(c.Out, list, (w, d) =>
            {
                w.WriteString("type", d.Type);
                w.WriteString("device", d.Device);
                w.WriteString("target", d.Target);
                w.WriteString("source", d.Source);
                w.WriteString("alias", d.Alias);
            });
            return Task.FromResult(0);
        }

        if (c.Args.Has("details"))
        {
            Output.Table(c.Out, ["Type", "Device", "Target", "Source"], list.Select(d => (IReadOnlyList<string>)[d.Type, d.Device, d.Target, d.Source]));
        }
        else
        {
            Output.Table(c.Out, ["Target", "Source"], list.Select(d => (IReadOnlyList<string>)[d.Target, d.Source]));
        }

        return Task.FromResult(0);
    }

    private static Task<int> IfList(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var list = Domains.InterfaceList(domain, c.Args.Has("inactive"));
        if (c.Json)
        {
            Output.JsonArray(c.Out, list, (w, n) =>
            {
                w.WriteString("interface", n.Interface);
                w.WriteString("type", n.Type);
                w.WriteString("source", n.Source);
                w.WriteString("model", n.Model);
                w.WriteString("mac", n.Mac);
                w.WriteString("alias", n.Alias);
                w.WriteString("link", n.LinkState);
            });
            return Task.FromResult(0);
        }

        Output.Table(c.Out, ["Interface", "Type", "Source", "Model", "MAC"],
            list.Select(n => (IReadOnlyList<string>)[n.Interface, n.Type, n.Source, n.Model, n.Mac]));
        return Task.FromResult(0);
    }

    private static void Counters(CommandContext c, IReadOnlyList<NamedCounters> sets, bool withDevice)
    {
        if (c.Json)
        {
            Output.JsonArray(c.Out, sets, (w, s) =>
            {
                w.WriteString("device", s.Device);
                foreach (var (k, v) in s.Values)
                {
                    w.WriteNumber(k, v);
                }

            });
            return;
        }

        foreach (var s in sets)
        {
            foreach (var (k, v) in s.Values)
            {
                c.Out.WriteLine(withDevice ? $"{s.Device} {k} {v.ToString(CultureInfo.InvariantCulture)}" : $"{k} {v.ToString(CultureInfo.InvariantCulture)}");
            }

            c.Out.WriteLine();
        }
    }

    private static async Task<int> BlkStat(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        string? device = c.Args.Optional("device", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var stats = await Domains.BlockStatsAsync(domain, device, CancellationToken.None).ConfigureAwait(false);
        Counters(c, stats, withDevice: true);
        return 0;
    }

    private static async Task<int> BlkInfo(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        string device = c.Args.Required("device", ref pos, "<device>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var info = await Domains.BlockInfoAsync(domain, device, CancellationToken.None).ConfigureAwait(false);
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("device", info.Device);
                foreach (var (k, v) in info.Values)
                {
                    w.WriteNumber(k.ToLowerInvariant(), v);
                }

                w.WriteEndObject();
            });
            return 0;
        }

        Output.KeyValues(c.Out, info.Values.Select(kv => (kv.Key, c.Args.Has("human") ? Human(kv.Value) : kv.Value.ToString(CultureInfo.InvariantCulture))));
        return 0;
    }

    private static string Human(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }

        return v.ToString("0.000", CultureInfo.InvariantCulture) + " " + units[u];
    }

    private static Task<int> IfStat(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        string iface = c.Args.Required("interface", ref pos, "<interface>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        Counters(c, [Domains.InterfaceStats(domain, iface)], withDevice: true);
        return Task.FromResult(0);
    }

    private static async Task<int> MemStat(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        int? period = null;
        if (c.Args.Value("period") is { } p)
        {
            period = int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw VireoException.Invalid($"--period must be a number of seconds, not '{p}'");
        }

        var stats = await Domains.MemoryStatsAsync(domain, period, CancellationToken.None).ConfigureAwait(false);
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                foreach (var (k, v) in stats.Values)
                {
                    w.WriteNumber(k, v);
                }

                w.WriteEndObject();
            });
            return 0;
        }

        Counters(c, [stats], withDevice: false);
        return 0;
    }

    private static async Task<int> DomStats(CommandContext c)
    {
        var g = DomainManager.StatsGroups.None;
        void Flag(string name, DomainManager.StatsGroups v)
        {
            if (c.Args.Has(name))
            {
                g |= v;
            }
        }

        Flag("state", DomainManager.StatsGroups.State);
        Flag("cpu-total", DomainManager.StatsGroups.CpuTotal);
        Flag("balloon", DomainManager.StatsGroups.Balloon);
        Flag("vcpu", DomainManager.StatsGroups.Vcpu);
        Flag("interface", DomainManager.StatsGroups.Interface);
        Flag("block", DomainManager.StatsGroups.Block);
        IReadOnlyList<string> names = c.Args.Positionals.Count > 0
            ? c.Args.Positionals
            : Domains.List().Where(d => d.IsActive).Select(d => d.Name).ToList();
        var results = new List<(string Name, IReadOnlyList<(string Key, string Value)> Fields)>();
        foreach (string n in names)
        {
            results.Add(await Domains.DomainStatsAsync(n, g, CancellationToken.None).ConfigureAwait(false));
        }

        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartArray();
                foreach (var (name, fields) in results)
                {
                    w.WriteStartObject();
                    w.WriteString("name", name);
                    foreach (var (k, v) in fields)
                    {
                        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
                        {
                            w.WriteNumber(k, l);
                        }
                        else
                        {
                            w.WriteString(k, v);
                        }
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return 0;
        }

        foreach (var (name, fields) in results)
        {
            c.Out.WriteLine($"Domain: '{name}'");
            foreach (var (k, v) in fields)
            {
                c.Out.WriteLine($"  {k}={v}");
            }

            c.Out.WriteLine();
        }

        return 0;
    }

    private static async Task<int> VncDisplay(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var vnc = await Domains.VncDisplayAsync(domain, CancellationToken.None).ConfigureAwait(false)
            ?? throw VireoException.NotFound($"domain '{domain}' has no VNC display on a TCP port");
        string host = vnc.Host is "0.0.0.0" or "::" ? "" : vnc.Host;
        c.Out.WriteLine($"{host}:{vnc.Port - 5900}");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> DomDisplay(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var vnc = await Domains.VncDisplayAsync(domain, CancellationToken.None).ConfigureAwait(false)
            ?? throw VireoException.NotFound($"domain '{domain}' has no graphical display");
        string host = vnc.Host is "0.0.0.0" or "::" ? "localhost" : vnc.Host.Contains(':', StringComparison.Ordinal) ? $"[{vnc.Host}]" : vnc.Host;
        c.Out.WriteLine($"vnc://{host}:{vnc.Port - 5900}");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> Screenshot(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        string? file = c.Args.Optional("file", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        if (c.Args.Value("screen") is { } s && s != "0")
        {
            throw VireoException.Invalid($"--screen {s}: only screen 0 exists");
        }

        string written = await Domains.ScreenshotAsync(domain, file, CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Screenshot saved to {written}, with type of image/png");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> SendKey(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        var keys = c.Args.Positionals.Skip(pos).ToList();
        if (keys.Count == 0)
        {
            throw VireoException.Invalid("send-key needs at least one <key>");
        }

        int? hold = null;
        if (c.Args.Value("holdtime") is { } h)
        {
            hold = int.TryParse(h, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw VireoException.Invalid($"--holdtime must be milliseconds, not '{h}'");
        }

        await Domains.SendKeysAsync(domain, c.Args.Value("codeset") ?? "linux", keys, hold, CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> MonitorCommand(CommandContext c)
    {
        var (domain, pos) = Domain(c);
        var words = c.Args.Positionals.Skip(pos).ToList();
        if (words.Count == 0)
        {
            throw VireoException.Invalid("qemu-monitor-command needs a <command>");
        }

        string reply = await Domains.MonitorCommandAsync(domain, string.Join(' ', words), c.Args.Has("hmp"), CancellationToken.None).ConfigureAwait(false);
        if (c.Args.Has("pretty") && !c.Args.Has("hmp"))
        {
            using var doc = JsonDocument.Parse(reply);
            Output.Json(c.Out, w => doc.RootElement.WriteTo(w));
            return 0;
        }

        c.Out.WriteLine(reply);
        return 0;
    }
}
