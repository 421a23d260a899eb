using System.Globalization;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Argv;

/// <summary><c>-cpu</c> and <c>-smp</c>.</summary>
internal static class CpuArgs
{
    public static void Write(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        CpuConfig? cpu = def.Cpu;
        bool kvm = w.Options.Accelerator == "kvm";
        QemuOpts opts;
        switch (cpu?.Mode)
        {
            case "host-passthrough":
                // Under TCG there is no host CPU to pass through; "max" is the closest QEMU offers.
                opts = new QemuOpts(kvm ? "host" : "max");
                if (kvm)
                {
                    opts.Add("migratable", cpu.Migratable ?? true);
                }
                break;
            case "host-model":
            case "maximum":
                opts = new QemuOpts(kvm ? "host" : "max");
                break;
            default:
                opts = new QemuOpts(cpu?.Model ?? "qemu64");
                break;
        }
        foreach (CpuFeature f in cpu?.Features ?? [])
        {
            opts.Add(f.Name, f.Policy is "require" or "force");
        }
        if (def.Features.KvmHidden == true)
        {
            opts.Add("kvm", false);
        }
        if (def.Features.KvmHintDedicated == true)
        {
            opts.Add("kvm-hint-dedicated", true);
        }
        if (def.Features.KvmPollControl == true)
        {
            opts.Add("kvm-poll-control", true);
        }
        if (def.Features.KvmPvIpi == false)
        {
            opts.Add("kvm-pv-ipi", false);
        }
        if (def.Features.Pmu is bool pmu)
        {
            opts.Add("pmu", pmu);
        }
        w.Add("-cpu", opts);
    }

    public static void WriteSmp(ArgvWriter w)
    {
        DomainDefinition def = w.Def;
        CpuTopology t = def.Cpu?.Topology ?? new CpuTopology { Sockets = def.MaxVcpus };
        var smp = new QemuOpts(def.Vcpus.ToString(CultureInfo.InvariantCulture));
        if (def.Vcpus != def.MaxVcpus)
        {
            smp.Add("maxcpus", def.MaxVcpus);
        }
        smp.Add("sockets", t.Sockets);
        if (t.Dies > 1)
        {
            smp.Add("dies", t.Dies);
        }
        smp.Add("cores", t.Cores).Add("threads", t.Threads);
        w.Add("-smp", smp);
    }
}
