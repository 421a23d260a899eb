using System.Diagnostics;
using Vireo.Engine.State;
using Vireo.Host;
using Vireo.Host.Discovery;
using Vireo.Host.Xml;
using Vireo.Model;
using Vireo.Qemu.Kvm;

namespace Vireo.Cli.Commands.Host;

/// <summary>
/// What the host commands read: the host root (VIREO_HOST_ROOT points it at a fixture tree), the QEMU binary
/// (VIREO_QEMU), its machine and CPU model lists (cached per binary), and whether KVM really works.
/// </summary>
internal static class HostEnvironment
{
    public static HostRoot Root =>
        Environment.GetEnvironmentVariable("VIREO_HOST_ROOT") is { Length: > 0 } r ? new HostRoot(r) : HostRoot.System;

    public static string Emulator => Environment.GetEnvironmentVariable("VIREO_QEMU") ?? "/usr/bin/qemu-system-x86_64";

    public static HostFacts Facts() => HostDiscovery.Discover(Root);

    /// <summary>The guest section: machines from <c>-machine help</c>, <c>kvm</c> only when the probe says it works.</summary>
    public static IReadOnlyList<GuestCapabilities> Guests()
    {
        if (!File.Exists(Emulator))
        {
            return [];
        }

        return [new GuestCapabilities("x86_64", 64, Emulator, Machines(), KvmUsable() ? ["qemu", "kvm"] : ["qemu"])];
    }

    /// <summary>
    /// KVM usability: on the real host, the functional probe from Vireo.Qemu; on a fixture root, the sysfs facts
    /// (a probe would test this machine, not the fixture).
    /// </summary>
    public static bool KvmUsable() => KvmStatus() is (bool usable, _) && usable;

    public static (bool Usable, string Reason) KvmStatus()
    {
        var root = Root;
        if (!root.IsSystem)
        {
            var v = HostDiscovery.Discover(root).Virt;
            return (v.KvmUsable, v.KvmUsable ? "KVM is usable (fixture facts)" : v.ParavirtKvm ? "KVM is provided by kvm_pvm, under which ordinary guests hang" : "no /dev/kvm");
        }

        try
        {
            string? cache = Directory.Exists(VireoPaths.FromEnvironment().Runtime) ? VireoPaths.FromEnvironment().Runtime : null;
            var s = KvmProbe.Probe(cache);
            return (s.Usable, s.Reason);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (false, "KVM probe failed: " + e.Message);
        }
    }

    /// <summary>Machine types from <c>qemu -machine help</c>, cached beside the state keyed by the binary's size and time.</summary>
    public static IReadOnlyList<MachineType> Machines() => ParseMachines(CachedHelp("-machine"));

    /// <summary>CPU model names from <c>qemu -cpu help</c> (x86 lines, before the CPUID flag list).</summary>
    public static IReadOnlyList<string> CpuModels()
    {
        var models = new List<string>();
        foreach (string line in CachedHelp("-cpu").Split('\n'))
        {
            if (line.StartsWith("Recognized CPUID", StringComparison.Ordinal))
            {
                break;
            }

            if (line.StartsWith("x86 ", StringComparison.Ordinal))
            {
                string name = line[4..].TrimStart().Split(' ')[0];
                if (name.Length > 0)
                {
                    models.Add(name);
                }
            }
        }

        return models;
    }

    public static string? QemuVersion()
    {
        string first = CachedHelp("--version").Split('\n')[0];
        const string Prefix = "QEMU emulator version ";
        return first.StartsWith(Prefix, StringComparison.Ordinal) ? first[Prefix.Length..].Split(' ')[0] : null;
    }

    internal static List<MachineType> ParseMachines(string help)
    {
        var machines = new List<MachineType>();
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in help.Split('\n').Skip(1))
        {
            string line = raw.TrimEnd();
            int sp = line.IndexOf(' ', StringComparison.Ordinal);
            if (sp <= 0)
            {
                continue;
            }

            string name = line[..sp];
            string desc = line[sp..].Trim();
            const string AliasOf = "(alias of ";
            int a = desc.IndexOf(AliasOf, StringComparison.Ordinal);
            if (a >= 0)
            {
                aliases[desc[(a + AliasOf.Length)..].TrimEnd(')')] = name;
                continue;
            }

            if (name == "none")
            {
                continue;
            }

            machines.Add(new MachineType(name, null, desc.Contains("(default)", StringComparison.Ordinal), desc.Contains("(deprecated)", StringComparison.Ordinal)));
        }

        return [.. machines.Select(m => aliases.TryGetValue(m.Name, out string? alias) ? m with { Alias = alias } : m)];
    }

    private static string CachedHelp(string flag) =>
        QemuOutputCache.GetOrRun(Emulator, flag.TrimStart('-') + ".txt", () =>
        {
            var psi = new ProcessStartInfo(Emulator) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(flag);
            if (flag != "--version")
            {
                psi.ArgumentList.Add("help");
            }

            using var p = Process.Start(psi) ?? throw new VireoException(ErrorKind.OperationFailed, $"cannot run {Emulator}");
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"{Emulator} {flag} help failed: {err.Result.Trim()}");
            }

            return output;
        });
}
