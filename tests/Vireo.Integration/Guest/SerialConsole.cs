using System.Net.Sockets;
using System.Text;

namespace Vireo.Integration.Guest;

/// <summary>
/// A guest's serial console reached through a QEMU socket chardev
/// (<c>-chardev socket,id=serial0,path=...,server=on,wait=off</c>). Keeps the whole transcript, lets a
/// test await markers in it (no sleep polling: every arriving chunk re-checks the waiters), and types
/// commands into the test guest's shell. Carriage returns are dropped from the transcript.
/// </summary>
public sealed partial class SerialConsole : IAsyncDisposable
{
    private const int TailChars = 2048;

    private readonly Socket _socket;
    private readonly object _gate = new();
    private readonly StringBuilder _transcript = new();
    private readonly List<Waiter> _waiters = [];
    private readonly SemaphoreSlim _commandLock = new(1, 1);
    private readonly Task _reader;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _closeReason;

    private SerialConsole(Socket socket, string path)
    {
        _socket = socket;
        Path = path;
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>The socket this console is connected to.</summary>
    public string Path { get; }

    /// <summary>Everything the guest printed so far (without '\r').</summary>
    public string Transcript
    {
        get
        {
            lock (_gate)
            {
                return _transcript.ToString();
            }
        }
    }

    /// <summary>The transcript's length now: pass it as <c>since</c> to wait only for later output.</summary>
    public int Position
    {
        get
        {
            lock (_gate)
            {
                return _transcript.Length;
            }
        }
    }

    /// <summary>Completes when the other end closes the socket (QEMU exited).</summary>
    public Task Closed => _closed.Task;

    /// <summary>
    /// Connects to a serial socket QEMU listens on, waiting (through inotify, not polling) for QEMU to
    /// create it. Start QEMU with <c>-S</c> and <c>cont</c> after connecting to see the guest from its
    /// first byte: a server=on,wait=off chardev drops output while nobody is connected.
    /// </summary>
    public static async Task<SerialConsole> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Socket socket = await UnixSocketWait.ConnectAsync(socketPath, timeout, cancellationToken).ConfigureAwait(false);
        return new SerialConsole(socket, socketPath);
    }

    /// <summary>
    /// Waits until <paramref name="marker"/> appears in the transcript at or after offset
    /// <paramref name="since"/> (default: anywhere, including output that arrived before the call).
    /// Returns the offset just past the match. On timeout or when the console closes first, throws with
    /// the last 2 KB of the transcript.
    /// </summary>
    public async Task<int> WaitForAsync(string marker, TimeSpan timeout, int since = 0)
    {
        (int index, _) = await WaitCoreAsync(marker, since, wholeLine: false, timeout).ConfigureAwait(false);
        return index + marker.Length;
    }

    /// <summary>
    /// Like <see cref="WaitForAsync"/>, but waits for the rest of the line too and returns the text from
    /// the marker to the end of its line, e.g. <c>"VIREO-DISKS vda:67108864"</c>.
    /// </summary>
    public async Task<string> WaitForLineAsync(string marker, TimeSpan timeout, int since = 0)
    {
        (_, string line) = await WaitCoreAsync(marker, since, wholeLine: true, timeout).ConfigureAwait(false);
        return line;
    }

    /// <summary>Sends raw bytes to the guest, as if typed.</summary>
    public async Task WriteAsync(string text, CancellationToken cancellationToken = default)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The last <paramref name="chars"/> characters of the transcript, for failure messages.</summary>
    public string Tail(int chars = TailChars)
    {
        lock (_gate)
        {
            int start = Math.Max(0, _transcript.Length - chars);
            return _transcript.ToString(start, _transcript.Length - start);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already gone with QEMU.
        }
        _socket.Dispose();
        await _reader.ConfigureAwait(false);
        _commandLock.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        byte[] buffer = new byte[4096];
        char[] chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        Decoder decoder = Encoding.UTF8.GetDecoder();
        string reason = "the serial console closed (QEMU exited?)";
        try
        {
            while (true)
            {
                int read = await _socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                int count = decoder.GetChars(buffer, 0, read, chars, 0);
                Append(chars.AsSpan(0, count));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            reason = $"the serial console failed: {e.Message}";
        }
        Close(reason);
    }

    private void Append(ReadOnlySpan<char> chunk)
    {
        List<(Waiter, int, string)>? matched = null;
        lock (_gate)
        {
            foreach (char c in chunk)
            {
                if (c != '\r' && c != '\0')
                {
                    _transcript.Append(c);
                }
            }
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                Waiter waiter = _waiters[i];
                if (TryMatch(waiter, out int index, out string line))
                {
                    _waiters.RemoveAt(i);
                    (matched ??= []).Add((waiter, index, line));
                }
            }
        }
        if (matched is not null)
        {
            foreach ((Waiter waiter, int index, string line) in matched)
            {
                waiter.Result.TrySetResult((index, line));
            }
        }
    }

    private void Close(string reason)
    {
        List<Waiter> orphans;
        lock (_gate)
        {
            _closeReason = reason;
            orphans = [.. _waiters];
            _waiters.Clear();
        }
        foreach (Waiter waiter in orphans)
        {
            waiter.Result.TrySetException(new SerialConsoleException(
                $"{reason} before '{waiter.Marker}' appeared. Last output:\n{Tail()}"));
        }
        _closed.TrySetResult();
    }

    private async Task<(int Index, string Line)> WaitCoreAsync(string marker, int since, bool wholeLine, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(marker);
        var waiter = new Waiter(marker, since, wholeLine);
        lock (_gate)
        {
            if (TryMatch(waiter, out int index, out string line))
            {
                return (index, line);
            }
            if (_closeReason is not null)
            {
                throw new SerialConsoleException($"{_closeReason} before '{marker}' appeared. Last output:\n{Tail()}");
            }
            _waiters.Add(waiter);
        }
        try
        {
            return await waiter.Result.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
            throw new SerialConsoleException($"'{marker}' did not appear on the serial console within {timeout.TotalSeconds:0.#} s. Last output:\n{Tail()}");
        }
    }

    // Called under _gate. Scans only text not scanned before, so a long transcript costs nothing extra.
    private bool TryMatch(Waiter waiter, out int index, out string line)
    {
        line = "";
        index = waiter.Found;
        if (index < 0)
        {
            int from = Math.Max(waiter.ScanFrom, 0);
            if (from >= _transcript.Length)
            {
                return false;
            }
            string tail = _transcript.ToString(from, _transcript.Length - from);
            int at = tail.IndexOf(waiter.Marker, StringComparison.Ordinal);
            if (at < 0)
            {
                waiter.ScanFrom = Math.Max(from, _transcript.Length - waiter.Marker.Length + 1);
                return false;
            }
            index = waiter.Found = from + at;
        }
        if (!waiter.WholeLine)
        {
            return true;
        }
        string rest = _transcript.ToString(index, _transcript.Length - index);
        int newline = rest.IndexOf('\n', StringComparison.Ordinal);
        if (newline < 0)
        {
            return false;
        }
        line = rest[..newline];
        return true;
    }

    private sealed class Waiter(string marker, int since, bool wholeLine)
    {
        public string Marker { get; } = marker;
        public bool WholeLine { get; } = wholeLine;
        public int ScanFrom { get; set; } = since;
        public int Found { get; set; } = -1;
        public TaskCompletionSource<(int, string)> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>A marker that never came, or a command that failed to run, with the console's last output.</summary>
public sealed class SerialConsoleException(string message) : Exception(message);
