using System.Globalization;
using Vireo.Host;
using Vireo.Host.Native;
using Vireo.Model;
using DomainDefinition = Vireo.Model.Domains.DomainDefinition;

namespace Vireo.Engine.Tuning;

public static partial class DomainTuner
{
    /// <summary>
    /// Pins QEMU's threads: each vCPU thread to its &lt;vcpupin&gt; (or the plan's default CPUs), each I/O thread to its
    /// &lt;iothreadpin&gt;, and every other thread of <paramref name="qemuPid"/> (main loop, workers) to &lt;emulatorpin&gt;.
    /// <paramref name="vcpus"/> comes from QMP query-cpus-fast, <paramref name="iothreads"/> from query-iothreads
    /// (QMP ids <c>iothread1</c>… map to &lt;iothreadpin iothread='1'&gt;). Call after the QMP handshake, before <c>cont</c>.
    /// </summary>
    public static ValueTask ApplyAsync(
        DomainDefinition def,
        TuningPlan plan,
        int qemuPid,
        IReadOnlyList<(int CpuIndex, int ThreadId)> vcpus,
        IReadOnlyList<(string Id, int ThreadId)> iothreads,
        CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var tune = def.CpuTune;
        var pinned = new HashSet<int>();
        foreach (var (index, tid) in vcpus)
        {
            var pin = tune?.VcpuPins.FirstOrDefault(p => p.Vcpu == index);
            CpuSet? cpus = pin is not null ? CpuSet.Of(pin.Cpus) : plan.DefaultCpus;
            if (cpus is not null)
            {
                Pin(qemuPid, tid, cpus, $"vCPU {index}");
            }

            pinned.Add(tid);
        }

        foreach (var (id, tid) in iothreads)
        {
            int? n = IoThreadNumber(id);
            var pin = n is int k ? tune?.IoThreadPins.FirstOrDefault(p => p.IoThread == k) : null;
            CpuSet? cpus = pin is not null ? CpuSet.Of(pin.Cpus) : plan.DefaultCpus;
            if (cpus is not null)
            {
                Pin(qemuPid, tid, cpus, $"I/O thread {id}");
            }

            pinned.Add(tid);
        }

        CpuSet? emulator = tune?.EmulatorPin is string e ? CpuSet.Parse(e, "<cputune/emulatorpin cpuset>") : plan.DefaultCpus;
        if (emulator is not null)
        {
            foreach (int tid in Threads(qemuPid))
            {
                if (!pinned.Contains(tid))
                {
                    Pin(qemuPid, tid, emulator, "emulator thread");
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Pins one vCPU of a running domain (live vcpupin).</summary>
    public static void PinVcpu(int qemuPid, int threadId, CpuSet cpus, int vcpu) => Pin(qemuPid, threadId, cpus, $"vCPU {vcpu}");

    /// <summary>The thread ids of a process, from /proc/PID/task.</summary>
    public static IReadOnlyList<int> Threads(int pid)
    {
        var tids = new List<int>();
        try
        {
            foreach (string dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid))
                {
                    tids.Add(tid);
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            throw VireoException.State($"QEMU process {pid} is gone");
        }

        tids.Sort();
        return tids;
    }

    /// <summary>Cpus_allowed_list of a thread, from /proc/PID/task/TID/status (what the tests check).</summary>
    public static CpuSet AllowedCpus(int pid, int tid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/task/{tid}/status"))
        {
            if (line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
            {
                return CpuSet.ParseKernelList(line[18..].Trim());
            }
        }

        return CpuSet.Empty;
    }

    public static int? IoThreadNumber(string id)
    {
        int i = id.Length;
        while (i > 0 && char.IsAsciiDigit(id[i - 1]))
        {
            i--;
        }

        return i < id.Length && int.TryParse(id.AsSpan(i), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }

    private static void Pin(int pid, int tid, CpuSet cpus, string what)
    {
        // A tid is only meaningful inside its process: refuse one that is not QEMU's (a stale QMP reply, a reused id).
        if (!Directory.Exists($"/proc/{pid}/task/{tid}"))
        {
            throw VireoException.State($"cannot pin {what}: thread {tid} is not a thread of QEMU process {pid}");
        }

        try
        {
            Affinity.Set(tid, cpus);
        }
        catch (VireoException e)
        {
            throw new VireoException(e.Kind, $"cannot pin {what} (thread {tid}) to CPUs {cpus}: {e.Message}", e);
        }
    }
}
