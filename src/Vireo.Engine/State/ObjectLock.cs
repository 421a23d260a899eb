using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Vireo.Model;

namespace Vireo.Engine.State;

/// <summary>
/// A per-object advisory lock (flock on a lock file) that serializes every vireo process acting on one
/// domain, network or pool. The kernel drops it when the holder dies, so a SIGKILL never leaves it stuck.
/// </summary>
public sealed class ObjectLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private ObjectLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Takes the lock at <paramref name="path"/>, waiting up to <paramref name="timeout"/>.</summary>
    public static ObjectLock Acquire(string path, TimeSpan timeout, string what)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        int fd = (int)handle.DangerousGetHandle();
        var sw = Stopwatch.StartNew();
        int delayMs = 1;
        while (true)
        {
            if (Native.Flock(fd, Native.LockEx | Native.LockNb) == 0)
            {
                return new ObjectLock(handle);
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != 11 /* EWOULDBLOCK */ && errno != 4 /* EINTR */)
            {
                handle.Dispose();
                throw new VireoException(ErrorKind.OperationFailed, $"cannot lock {what}: errno {errno}");
            }

            if (sw.Elapsed > timeout)
            {
                handle.Dispose();
                throw new VireoException(ErrorKind.Busy, $"{what} is busy: another vireo command holds it (waited {timeout.TotalSeconds:0} s)");
            }

            Thread.Sleep(delayMs);
            delayMs = Math.Min(delayMs * 2, 20);
        }
    }

    public void Dispose()
    {
        // Closing the descriptor releases the flock.
        _handle.Dispose();
    }
}
