using System.Globalization;
using Vireo.Engine;
using Vireo.Engine.Domains;
using Vireo.Engine.Tuning;
using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Cli.Commands;

/// <summary>
/// CPU pinning, vCPU count, memory and NUMA policy of a domain, with virsh's names, flags and layouts:
/// <c>vcpuinfo</c>, <c>vcpupin</c>, <c>emulatorpin</c>, <c>iothreadinfo</c>, <c>iothreadpin</c>, <c>numatune</c>,
/// <c>setvcpus</c>, <c>setmem</c>, <c>setmaxmem</c>, <c>schedinfo</c>.
/// </summary>
internal static class DomainTuningCommands
{
    public const string Group = "Domain tuning";

    private static readonly OptionSpec DomainOpt = new("domain", "domain name, id or uuid", "domain");
    private static readonly OptionSpec JsonOpt = new("json", "print JSON instead of text");
    private static readonly OptionSpec LiveOpt = new("live", "affect the running domain");
    private static readonly OptionSpec ConfigOpt = new("config", "affect the persistent definition (next start)");
    private static readonly OptionSpec CurrentOpt = new("current", "affect the running domain if it runs, else the definition (default)");

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("vcpuinfo", Group, "detailed domain vcpu information", "vcpuinfo <domain> [--pretty] [--json]",
            [DomainOpt, new("pretty", "show the affinity as a CPU list instead of a y/- map"), JsonOpt], VcpuInfo),
        new("vcpupin", Group, "control or query domain vcpu affinity", "vcpupin <domain> [--vcpu N] [--cpulist LIST] [--live] [--config] [--current] [--json]",
            [DomainOpt, new("vcpu", "vcpu number", "number"), new("cpulist", "host CPUs, e.g. 1,3-5,^4 (omit to query)", "cpulist"), LiveOpt, ConfigOpt, CurrentOpt, JsonOpt], VcpuPin)
        {
            Details = "Live pinning is sched_setaffinity on the vCPU's QEMU thread (found through query-cpus-fast) and is kept in the\n" +
                "live definition; --config rewrites <cputune><vcpupin> of the persistent one. CPUs the host lacks are refused.",
        },
        new("emulatorpin", Group, "control or query domain emulator affinity", "emulatorpin <domain> [--cpulist LIST] [--live] [--config] [--current] [--json]",
            [DomainOpt, new("cpulist", "host CPUs (omit to query)", "cpulist"), LiveOpt, ConfigOpt, CurrentOpt, JsonOpt], EmulatorPin),
        new("iothreadinfo", Group, "view domain IOThreads", "iothreadinfo <domain> [--live] [--config] [--current] [--json]",
            [DomainOpt, LiveOpt, ConfigOpt, CurrentOpt, JsonOpt], IoThreadInfo),
        new("iothreadpin", Group, "control domain IOThread affinity", "iothreadpin <domain> <iothread> <cpulist> [--live] [--config] [--current]",
            [DomainOpt, new("iothread", "IOThread ID number", "id"), new("cpulist", "host CPUs", "cpulist"), LiveOpt, ConfigOpt, CurrentOpt], IoThreadPin),
        new("numatune", Group, "get or set numa parameters", "numatune <domain> [--mode MODE] [--nodeset NODES] [--live] [--config] [--current] [--json]",
            [DomainOpt, new("mode", "strict, preferred, interleave or restrictive", "mode"), new("nodeset", "host NUMA nodes, e.g. 0-1", "nodeset"), LiveOpt, ConfigOpt, CurrentOpt, JsonOpt], NumaTune)
        {
            Details = "Queries work live and on the configuration. Changes apply to the persistent definition only (--config):\n" +
                "the policy of a running domain is fixed in QEMU's memory backends at start, and Vireo uses no cpuset cgroup to move it.",
        },
        new("setvcpus", Group, "change number of virtual CPUs", "setvcpus <domain> <count> [--maximum] [--live] [--config] [--current]",
            [DomainOpt, new("count", "number of virtual CPUs", "count"), new("maximum", "set the maximum (with --config)"), LiveOpt, ConfigOpt, CurrentOpt], SetVcpus)
        {
            Details = "Live: vCPUs are hot-plugged into free slots (the definition needs <vcpu current='N'>M</vcpu> with N < M and the\n" +
                "guest <acpi/>), and hot-plugged ones are unplugged again once the guest releases them. New vCPU threads follow <vcpupin>.",
        },
        new("setmem", Group, "change memory allocation", "setmem <domain> <size> [--live] [--config] [--current]",
            [DomainOpt, new("size", "new memory size, as scaled integer (default KiB)", "size"), LiveOpt, ConfigOpt, CurrentOpt], SetMem)
        {
            Details = "Live: the virtio balloon asks the guest to give memory back (or take it again, up to <memory>).",
        },
        new("setmaxmem", Group, "change maximum memory limit", "setmaxmem <domain> <size> [--config] [--current]",
            [DomainOpt, new("size", "new maximum memory size, as scaled integer (default KiB)", "size"), LiveOpt, ConfigOpt, CurrentOpt], SetMaxMem),
        new("schedinfo", Group, "show scheduler parameters", "schedinfo <domain> [--live] [--config] [--current] [--json]",
            [DomainOpt, new("set", "field=value (refused: Vireo runs without cgroups)", "field=value"), LiveOpt, ConfigOpt, CurrentOpt, JsonOpt], SchedInfo)
        {
            Details = "Vireo runs QEMU without cgroups: the scheduler is posix and the <cputune> shares, periods and quotas are\n" +
                "kept in the definition and shown here, but not enforced.",
        },
    ];

    private static DomainManager Domains => VireoEngine.Local.Domains;

    private static async Task<int> VcpuInfo(CommandContext c)
    {
        var list = await Domains.GetVcpuInfoAsync(Single(c), CancellationToken.None).ConfigureAwait(false);
        int hostCpus = DomainManager.OnlineCpus().Max + 1;
        if (c.Json)
        {
            Output.JsonArray(c.Out, list, (w, v) =>
            {
                w.WriteNumber("vcpu", v.Vcpu);
                NumberOrNull(w, "threadId", v.ThreadId);
                NumberOrNull(w, "cpu", v.HostCpu);
                if (v.State is null)
                {
                    w.WriteNull("state");
                }
                else
                {
                    w.WriteString("state", v.State);
                }

                if (v.CpuTimeSeconds is double t)
                {
                    w.WriteNumber("cpuTimeSeconds", t);
                }
                else
                {
                    w.WriteNull("cpuTimeSeconds");
                }

                w.WriteString("affinity", v.Affinity.ToString());
            });
            return 0;
        }

        foreach (var v in list)
        {
            Output.KeyValues(c.Out,
            [
                ("VCPU", v.Vcpu.ToString(CultureInfo.InvariantCulture)),
                ("CPU", v.HostCpu?.ToString(CultureInfo.InvariantCulture) ?? "N/A"),
                ("State", v.State ?? "N/A"),
                ("CPU time", v.CpuTimeSeconds is double t ? t.ToString("0.0", CultureInfo.InvariantCulture) + "s" : "N/A"),
                ("CPU Affinity", c.Args.Has("pretty") ? v.Affinity.ToString() : v.Affinity.ToAffinityString(hostCpus)),
            ]);
        }

        return 0;
    }

    private static async Task<int> VcpuPin(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string? vcpuText = c.Args.Optional("vcpu", ref pos);
        string? cpulist = c.Args.Optional("cpulist", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var scope = ScopeOptions.Parse(c);
        int? vcpu = vcpuText is null ? null : Int(vcpuText, "vcpu");
        if (cpulist is not null)
        {
            if (vcpu is null)
            {
                throw VireoException.Invalid("vcpupin needs --vcpu N to pin a cpulist");
            }

            await Domains.PinVcpuAsync(domain, vcpu.Value, cpulist, scope, CancellationToken.None).ConfigureAwait(false);
            return 0;
        }

        var pins = await Domains.GetVcpuPinsAsync(domain, scope, CancellationToken.None).ConfigureAwait(false);
        if (vcpu is int only)
        {
            if (only < 0 || only >= pins.Count)
            {
                throw VireoException.Invalid($"vcpu {only} is out of range of cpu count {pins.Count} of domain '{domain}'");
            }

            pins = [pins[only]];
        }

        PrintAffinities(c, "VCPU", "vcpu", pins);
        return 0;
    }

    private static async Task<int> EmulatorPin(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        string? cpulist = c.Args.Optional("cpulist", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var scope = ScopeOptions.Parse(c);
        if (cpulist is not null)
        {
            await Domains.PinEmulatorAsync(domain, cpulist, scope, CancellationToken.None).ConfigureAwait(false);
            return 0;
        }

        var cpus = await Domains.GetEmulatorPinAsync(domain, scope, CancellationToken.None).ConfigureAwait(false);
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("affinity", cpus.ToString());
                w.WriteEndObject();
            });
            return 0;
        }

        c.Out.WriteLine(" emulator: CPU Affinity");
        c.Out.WriteLine("----------------------------------");
        c.Out.WriteLine($"       *: {cpus}");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> IoThreadInfo(CommandContext c)
    {
        var threads = await Domains.GetIoThreadsAsync(Single(c), ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        PrintAffinities(c, "IOThread ID", "iothread", threads);
        return 0;
    }

    private static async Task<int> IoThreadPin(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        int id = Int(c.Args.Required("iothread", ref pos, "<iothread>"), "iothread");
        string cpulist = c.Args.Required("cpulist", ref pos, "<cpulist>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        await Domains.PinIoThreadAsync(domain, id, cpulist, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static Task<int> NumaTune(CommandContext c)
    {
        string domain = Single(c);
        var scope = ScopeOptions.Parse(c);
        string? mode = c.Args.Value("mode");
        string? nodeset = c.Args.Value("nodeset");
        if (mode is not null || nodeset is not null)
        {
            Domains.SetNumaTune(domain, mode, nodeset, scope);
            return Task.FromResult(0);
        }

        var t = Domains.GetNumaTune(domain, scope);
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("mode", t.Mode);
                w.WriteString("nodeset", t.Nodeset);
                w.WriteString("placement", t.Placement ?? "static");
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        c.Out.WriteLine($"{"numa_mode",-15}: {t.Mode}");
        c.Out.WriteLine($"{"numa_nodeset",-15}: {t.Nodeset}");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static async Task<int> SetVcpus(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        int count = Int(c.Args.Required("count", ref pos, "<count>"), "count");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        await Domains.SetVcpusAsync(domain, count, c.Args.Has("maximum"), ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> SetMem(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        long kib = SizeKiB(c.Args.Required("size", ref pos, "<size>"));
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        await Domains.SetMemoryAsync(domain, kib, ScopeOptions.Parse(c), CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static Task<int> SetMaxMem(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        long kib = SizeKiB(c.Args.Required("size", ref pos, "<size>"));
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        Domains.SetMaxMemory(domain, kib, ScopeOptions.Parse(c));
        return Task.FromResult(0);
    }

    private static Task<int> SchedInfo(CommandContext c)
    {
        string domain = Single(c);
        if (c.Args.Value("set") is string set)
        {
            throw VireoException.Unsupported($"cannot set scheduler parameter '{set}': Vireo runs QEMU without cgroups, so shares, periods and quotas are not enforced (they can be kept in <cputune> with define)");
        }

        var info = Domains.GetSchedInfo(domain, ScopeOptions.Parse(c));
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("scheduler", info.Scheduler);
                w.WriteBoolean("applied", info.Applied);
                w.WriteStartObject("parameters");
                foreach (var (name, value) in info.Parameters)
                {
                    w.WriteNumber(name, value);
                }

                w.WriteEndObject();
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        c.Out.WriteLine($"{"Scheduler",-15}: {info.Scheduler}");
        foreach (var (name, value) in info.Parameters)
        {
            c.Out.WriteLine($"{name,-15}: {value.ToString(CultureInfo.InvariantCulture)}");
        }

        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static void PrintAffinities(CommandContext c, string header, string jsonKey, IReadOnlyList<ThreadAffinity> list)
    {
        if (c.Json)
        {
            Output.JsonArray(c.Out, list, (w, t) =>
            {
                w.WriteNumber(jsonKey, t.Id);
                NumberOrNull(w, "threadId", t.ThreadId);
                w.WriteString("affinity", t.Affinity.ToString());
            });
            return;
        }

        Output.Table(c.Out, [header, "CPU Affinity"], list.Select(t => (IReadOnlyList<string>)[t.Id.ToString(CultureInfo.InvariantCulture), t.Affinity.ToString()]));
    }

    private static string Single(CommandContext c)
    {
        int pos = 0;
        string d = c.Args.Required("domain", ref pos, "<domain>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        return d;
    }

    private static int Int(string text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v)
            ? v
            : throw VireoException.Invalid($"{what} '{text}' is not a non-negative integer");

    /// <summary>virsh's scaled integer: digits with an optional unit suffix (k, KiB, M, MB, G…); KiB when bare.</summary>
    private static long SizeKiB(string text)
    {
        int i = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        if (i == 0)
        {
            throw VireoException.Invalid($"size '{text}' is not a scaled integer (e.g. 524288, 512M, 1G)");
        }

        string unit = text[i..];
        return MemorySize.ToKiB(text[..i], unit.Length == 0 ? null : unit, $"size '{text}':");
    }

    private static void NumberOrNull(System.Text.Json.Utf8JsonWriter w, string name, int? value)
    {
        if (value is int v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
