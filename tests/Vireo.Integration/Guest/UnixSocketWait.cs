using System.Net.Sockets;

namespace Vireo.Integration.Guest;

/// <summary>
/// Connects to a UNIX socket that another process (QEMU) is about to create. The wait is driven by
/// inotify (FileSystemWatcher), not by polling; only the microseconds between QEMU's bind() and its
/// listen() can refuse a connection, and those are retried a few times.
/// </summary>
public static class UnixSocketWait
{
    public static async Task<Socket> ConnectAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await WaitForFileAsync(path, timeoutSource.Token).ConfigureAwait(false);
            for (int attempt = 0; ; attempt++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeoutSource.Token).ConfigureAwait(false);
                    return socket;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused && attempt < 50)
                {
                    socket.Dispose();
                    await Task.Delay(TimeSpan.FromMilliseconds(5), timeoutSource.Token).ConfigureAwait(false);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the socket {path} did not accept a connection within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Completes when <paramref name="path"/> exists.</summary>
    public static async Task WaitForFileAsync(string path, CancellationToken cancellationToken)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        string name = Path.GetFileName(path);
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watcher = new FileSystemWatcher(directory, name);
        watcher.Created += (_, _) => created.TrySetResult();
        watcher.Renamed += (_, _) => created.TrySetResult();
        watcher.EnableRaisingEvents = true;
        // Checked after the watch is armed, so a socket created in between is not missed.
        if (File.Exists(path) || Directory.Exists(path))
        {
            return;
        }
        await created.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }
}
