using System.Diagnostics;
using System.Runtime.InteropServices;
using Vireo.Model;

namespace Vireo.Engine.State;

/// <summary>
/// A per-object advisory lock (flock on a lock file) that serializes every vireo process acting on one
/// domain, network or pool. The kernel drops it when the holder dies, so a SIGKILL never leaves it stuck.
/// </summary>
public sealed class ObjectLock : IDisposable
{
    private int _fd;

    private ObjectLock(int fd) => _fd = fd;

    /// <summary>Takes the lock at <paramref name="path"/>, waiting up to <paramref name="timeout"/>.</summary>
    public static ObjectLock Acquire(string path, TimeSpan timeout, string what)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Opened with libc, not File.OpenHandle: .NET takes its own flock for FileShare emulation, which
        // would make a second opener fail at once instead of waiting for our lock.
        int fd = Native.OpenMode(path, Native.ORdwr | Native.OCreat | Native.OCloexec, 0x180 /* 0600 */);
        if (fd < 0)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"cannot open lock file {path}: errno {Marshal.GetLastPInvokeError()}");
        }

        var sw = Stopwatch.StartNew();
        int delayMs = 1;
        while (true)
        {
            if (Native.Flock(fd, Native.LockEx | Native.LockNb) == 0)
            {
                return new ObjectLock(fd);
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != 11 /* EWOULDBLOCK */ && errno != 4 /* EINTR */)
            {
                _ = Native.Close(fd);
                throw new VireoException(ErrorKind.OperationFailed, $"cannot lock {what}: errno {errno}");
            }

            if (sw.Elapsed > timeout)
            {
                _ = Native.Close(fd);
                throw new VireoException(ErrorKind.Busy, $"{what} is busy: another vireo command holds it (waited {timeout.TotalSeconds:0} s)");
            }

            Thread.Sleep(delayMs);
            delayMs = Math.Min(delayMs * 2, 20);
        }
    }

    public void Dispose()
    {
        // Closing the descriptor releases the flock.
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Native.Close(fd);
        }
    }
}
