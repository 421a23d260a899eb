using System.Globalization;
using System.Runtime.InteropServices;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Kvm;

/// <summary>
/// Decides whether KVM really works, because /dev/kvm existing proves little: a paravirtual KVM (kvm_pvm)
/// provides it yet runs only specially built guest kernels, and ordinary guests hang under it. The order:
/// <list type="number">
/// <item>/dev/kvm present and openable;</item>
/// <item>not provided by kvm_pvm;</item>
/// <item>a functional probe: a 7-byte real-mode guest that writes to an I/O port and halts (<see cref="KvmSmokeTest"/>).</item>
/// </list>
/// The verdict is cached per boot (keyed by <c>/proc/sys/kernel/random/boot_id</c>), since modules and
/// hardware do not change without a reboot as far as a VM manager cares.
/// </summary>
public static class KvmProbe
{
    public const string CacheFileName = "kvm-probe";

    private const string UsingTcg = "; using TCG";

    /// <summary>How long the test guest may take before KVM is declared hung.</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Probes, or returns the verdict cached in <paramref name="cacheDirectory"/> for this boot. Pass the
    /// runtime directory (e.g. <c>/run/vireo</c>); null probes every time.
    /// </summary>
    public static KvmStatus Probe(string? cacheDirectory = null, KvmHostPaths? paths = null)
    {
        paths ??= KvmHostPaths.Default;
        KvmFacts facts = ReadFacts(paths);
        string? bootId = ReadBootId(paths);
        string? cacheFile = cacheDirectory is null ? null : Path.Combine(cacheDirectory, CacheFileName);
        if (cacheFile is not null && bootId is not null && TryReadCache(cacheFile, bootId) is { } cached)
        {
            return cached with { Facts = facts, FromCache = true };
        }

        KvmStatus status = Decide(facts, paths) with { Facts = facts };
        if (cacheFile is not null && bootId is not null)
        {
            WriteCache(cacheFile, bootId, status);
        }

        return status;
    }

    private static KvmStatus Decide(KvmFacts facts, KvmHostPaths paths)
    {
        if (!facts.DevicePresent)
        {
            string why = facts.Vmx || facts.Svm
                ? "no KVM module is loaded (modprobe kvm_intel or kvm_amd)"
                : "the CPU shows neither vmx nor svm (no hardware virtualization, or it is not passed to this VM)";
            return new KvmStatus(false, $"KVM is not usable: {paths.Device} does not exist: {why}{UsingTcg}");
        }

        if (facts.Module == "kvm_pvm")
        {
            return new KvmStatus(false,
                $"KVM is not usable: {paths.Device} is provided by kvm_pvm (paravirtual KVM), which runs only specially built guest kernels{UsingTcg}");
        }

        int fd = LibC.Open(paths.Device, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return new KvmStatus(false, $"KVM is not usable: cannot open {paths.Device}: {LibC.ErrorText(errno)}{UsingTcg}");
        }

        LibC.Close(fd);
        string? failure = KvmSmokeTest.Run(paths.Device, RunTimeout);
        if (failure is not null)
        {
            return new KvmStatus(false, $"KVM is not usable: {failure}{UsingTcg}");
        }

        string via = facts.Module is null ? "" : $" ({facts.Module})";
        return new KvmStatus(true, $"KVM is usable{via}: a test guest ran and halted");
    }

    /// <summary>Reads the facts from sysfs and procfs; cheap, never cached.</summary>
    public static KvmFacts ReadFacts(KvmHostPaths? paths = null)
    {
        paths ??= KvmHostPaths.Default;
        string modules = Path.Combine(paths.Sys, "module");
        // kvm_pvm first: on a PVM host it is the provider even if a vendor module is loaded too.
        string? module = new[] { "kvm_pvm", "kvm_intel", "kvm_amd" }.FirstOrDefault(m => Directory.Exists(Path.Combine(modules, m)));
        bool? nested = null;
        if (module is "kvm_intel" or "kvm_amd")
        {
            string? value = ReadTrimmed(Path.Combine(modules, module, "parameters", "nested"));
            nested = value is null ? null : value is "Y" or "y" or "1";
        }

        (bool vmx, bool svm, bool hypervisor) = ReadCpuFlags(Path.Combine(paths.Proc, "cpuinfo"));
        return new KvmFacts(File.Exists(paths.Device), module, vmx, svm, nested, hypervisor);
    }

    private static (bool Vmx, bool Svm, bool Hypervisor) ReadCpuFlags(string cpuinfo)
    {
        try
        {
            // The first CPU's flags line is enough; reading all of cpuinfo on a big host costs milliseconds.
            foreach (string line in File.ReadLines(cpuinfo))
            {
                if (!line.StartsWith("flags", StringComparison.Ordinal))
                {
                    continue;
                }

                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon < 0)
                {
                    break;
                }

                var flags = new HashSet<string>(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
                return (flags.Contains("vmx"), flags.Contains("svm"), flags.Contains("hypervisor"));
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return (false, false, false);
    }

    private static string? ReadBootId(KvmHostPaths paths)
        => ReadTrimmed(Path.Combine(paths.Proc, "sys", "kernel", "random", "boot_id"));

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static KvmStatus? TryReadCache(string file, string bootId)
    {
        string? text = ReadTrimmed(file);
        if (text is null)
        {
            return null;
        }

        string? cachedBoot = null, usable = null, reason = null;
        foreach (string line in text.Split('\n'))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            string value = line[(eq + 1)..];
            switch (line[..eq])
            {
                case "boot_id": cachedBoot = value; break;
                case "usable": usable = value; break;
                case "reason": reason = value; break;
            }
        }

        if (cachedBoot != bootId || usable is not ("0" or "1") || string.IsNullOrEmpty(reason))
        {
            return null;
        }

        return new KvmStatus(usable == "1", reason);
    }

    private static void WriteCache(string file, string bootId, KvmStatus status)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            string temp = file + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
            File.WriteAllText(temp, $"boot_id={bootId}\nusable={(status.Usable ? 1 : 0)}\nreason={status.Reason.ReplaceLineEndings(" ")}\n");
            // rename(2) is atomic: a concurrent reader sees the old verdict or the new one, never half of one.
            File.Move(temp, file, overwrite: true);
        }
        catch (IOException)
        {
            // A cache we cannot write only costs the next caller a probe.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
