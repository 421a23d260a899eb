using System.Runtime.InteropServices;
using Vireo.Model;

namespace Vireo.Host.Native;

/// <summary>
/// sched_setaffinity / sched_getaffinity on any thread id (a QEMU vCPU thread is a tid in /proc/PID/task).
/// The mask is sized for <see cref="CpuSet.MaxId"/> so hosts with many CPUs are not truncated.
/// </summary>
public static partial class Affinity
{
    private const int MaskBytes = (CpuSet.MaxId + 1) / 8;

    /// <summary>Pins thread <paramref name="tid"/> (0 = the calling thread) to <paramref name="cpus"/>.</summary>
    public static void Set(int tid, CpuSet cpus)
    {
        if (cpus.IsEmpty)
        {
            throw VireoException.Invalid("cannot pin a thread to an empty CPU set");
        }

        Span<byte> mask = stackalloc byte[MaskBytes];
        mask.Clear();
        foreach (int c in cpus.Ids)
        {
            mask[c / 8] |= (byte)(1 << (c % 8));
        }

        unsafe
        {
            fixed (byte* p = mask)
            {
                if (SchedSetAffinity(tid, MaskBytes, p) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new VireoException(ErrorKind.OperationFailed, $"sched_setaffinity(thread {tid}, cpuset {cpus}) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }
    }

    /// <summary>The CPUs thread <paramref name="tid"/> (0 = the calling thread) may run on.</summary>
    public static CpuSet Get(int tid)
    {
        Span<byte> mask = stackalloc byte[MaskBytes];
        mask.Clear();
        unsafe
        {
            fixed (byte* p = mask)
            {
                if (SchedGetAffinity(tid, MaskBytes, p) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new VireoException(ErrorKind.OperationFailed, $"sched_getaffinity(thread {tid}) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }

        var ids = new List<int>();
        for (int i = 0; i < MaskBytes * 8; i++)
        {
            if ((mask[i / 8] & (1 << (i % 8))) != 0)
            {
                ids.Add(i);
            }
        }

        return CpuSet.Of(ids);
    }

    /// <summary>The calling thread's kernel thread id.</summary>
    public static int CurrentThreadId() => GetTid();

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static unsafe partial int SchedSetAffinity(int pid, nint cpusetsize, byte* mask);

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static unsafe partial int SchedGetAffinity(int pid, nint cpusetsize, byte* mask);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
