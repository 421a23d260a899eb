using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using Vireo.Model;

namespace Vireo.Qemu.Qmp;

/// <summary>QEMU's version from the QMP greeting.</summary>
public readonly record struct QmpVersion(int Major, int Minor, int Micro, string Package)
{
    public override string ToString() => $"{Major}.{Minor}.{Micro}";
}

/// <summary>
/// An asynchronous QMP client over QEMU's UNIX monitor socket.
/// <code>
///   connect ─► greeting (version) ─► qmp_capabilities ─► command mode
///   ExecuteAsync: id N ─► pending[N] ─────────────┐
///   read loop: reply id N ─► complete pending[N] ◄┘   event ─► Events channel + WaitForEventAsync waiters
///              EOF ─► fail every pending reply, complete Closed
/// </code>
/// Every command carries an id, so a late reply can never be taken for another command's. Replies and events
/// are parsed with <see cref="JsonDocument"/> and commands written with <see cref="Utf8JsonWriter"/>: no
/// reflection, safe for Native AOT.
/// </summary>
public sealed partial class QmpClient : IAsyncDisposable, IDisposable
{
    private const int MaxMessageBytes = 64 * 1024 * 1024;

    private readonly Socket _socket;
    private readonly string _path;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<long, PendingCommand> _pending = new();
    private readonly TaskCompletionSource<JsonDocument> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _disposeCts = new();
    private Task _readLoop = Task.CompletedTask;
    private long _nextId;
    private volatile bool _isClosed;
    private int _disposed;

    private QmpClient(Socket socket, string path)
    {
        _socket = socket;
        _path = path;
        _events = CreateEventChannel();
    }

    /// <summary>QEMU's version, from the greeting.</summary>
    public QmpVersion Version { get; private set; }

    /// <summary>The capabilities QEMU offered in the greeting (e.g. <c>oob</c>); none are enabled.</summary>
    public IReadOnlyList<string> Capabilities { get; private set; } = [];

    /// <summary>Completes (never faults) when the connection ends: QEMU exited or closed the monitor, or we disposed.</summary>
    public Task Closed => _closed.Task;

    public bool IsClosed => _isClosed;

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp at which the greeting arrived; for latency figures.</summary>
    public long GreetingTimestamp { get; private set; }

    /// <summary>Stopwatch timestamp at which <c>qmp_capabilities</c> was answered: the client became usable.</summary>
    public long NegotiatedTimestamp { get; private set; }

    /// <summary>
    /// Connects, reads the greeting and negotiates capabilities. A UNIX connect is a syscall, not a handshake,
    /// so this costs two message round trips.
    /// </summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TimeSpan wait = timeout ?? QmpTimeouts.RunState;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var client = new QmpClient(socket, socketPath);
        try
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"cannot connect to QMP socket '{socketPath}': {e.Message}", e);
            }

            await client.HandshakeAsync(wait, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the read loop, waits for the greeting and negotiates capabilities.</summary>
    private async Task HandshakeAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        _readLoop = ReadLoopAsync();
        JsonDocument greeting;
        try
        {
            greeting = await _greeting.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // QEMU serves one client per monitor and leaves the next one queued, without a greeting, until then.
            throw new VireoException(ErrorKind.Timeout,
                $"no QMP greeting on '{_path}' within {wait.TotalSeconds:0.#} s; QEMU serves one QMP client at a time, so another may be connected");
        }

        GreetingTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        using (greeting)
        {
            ReadGreeting(greeting.RootElement);
        }

        await ExecuteAsync("qmp_capabilities", (Action<Utf8JsonWriter>?)null, wait, cancellationToken).ConfigureAwait(false);
        NegotiatedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    private void ReadGreeting(JsonElement root)
    {
        JsonElement qmp = root.GetProperty("QMP");
        if (qmp.TryGetProperty("version", out JsonElement version) && version.ValueKind == JsonValueKind.Object)
        {
            int major = 0, minor = 0, micro = 0;
            if (version.TryGetProperty("qemu", out JsonElement q) && q.ValueKind == JsonValueKind.Object)
            {
                major = GetInt(q, "major");
                minor = GetInt(q, "minor");
                micro = GetInt(q, "micro");
            }

            string package = version.TryGetProperty("package", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() ?? "" : "";
            Version = new QmpVersion(major, minor, micro, package);
        }

        if (qmp.TryGetProperty("capabilities", out JsonElement caps) && caps.ValueKind == JsonValueKind.Array)
        {
            Capabilities = caps.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.String).Select(c => c.GetString()!).ToArray();
        }

        static int GetInt(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.TryGetInt32(out int i) ? i : 0;
    }

    /// <summary>
    /// Reads messages until EOF. QEMU ends each JSON object with CRLF, but the framing here does not rely on
    /// it: a message ends where its top-level object ends (pretty-printed monitors work too).
    /// </summary>
    private async Task ReadLoopAsync()
    {
        byte[] buffer = new byte[16 * 1024];
        int start = 0, end = 0;
        Exception? failure = null;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start > 0)
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                        end -= start;
                        start = 0;
                    }
                    else if (buffer.Length >= MaxMessageBytes)
                    {
                        throw new InvalidDataException($"QMP message larger than {MaxMessageBytes} bytes");
                    }
                    else
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                }

                int n = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, _disposeCts.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                end += n;
                while (TryFrame(buffer.AsSpan(start, end - start), out int skip, out int length))
                {
                    Dispatch(buffer.AsSpan(start + skip, length).ToArray());
                    start += skip + length;
                }

                if (start == end)
                {
                    start = end = 0;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException e)
        {
            failure = e;
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            failure = e;
        }

        OnClosed(failure);
    }

    /// <summary>Finds one complete top-level JSON object at the start of <paramref name="data"/>, after whitespace.</summary>
    private static bool TryFrame(ReadOnlySpan<byte> data, out int skip, out int length)
    {
        skip = 0;
        length = 0;
        while (skip < data.Length && data[skip] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            skip++;
        }

        if (skip == data.Length)
        {
            return false;
        }

        if (data[skip] != (byte)'{')
        {
            throw new InvalidDataException($"QMP sent something other than a JSON object (byte 0x{data[skip]:x2})");
        }

        var reader = new Utf8JsonReader(data[skip..], isFinalBlock: false, state: default);
        if (!reader.Read() || !reader.TrySkip())
        {
            return false;
        }

        length = (int)reader.BytesConsumed;
        return true;
    }

    private void Dispatch(byte[] message)
    {
        JsonDocument doc = JsonDocument.Parse(message);
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            return;
        }

        if (root.TryGetProperty("event", out _))
        {
            try
            {
                OnEvent(QmpEvent.FromMessage(root));
            }
            finally
            {
                doc.Dispose();
            }

            return;
        }

        if (root.TryGetProperty("return", out _) || root.TryGetProperty("error", out _))
        {
            // Replies without our numeric id (QEMU's parse errors, which come before it reads the id) match nothing
            // and are dropped, as the spec asks; the command they belonged to times out.
            if (root.TryGetProperty("id", out JsonElement id) && id.TryGetInt64(out long n) && _pending.TryRemove(n, out PendingCommand? pending))
            {
                pending.Reply.TrySetResult(doc);
            }
            else
            {
                doc.Dispose();
            }

            return;
        }

        if (root.TryGetProperty("QMP", out _) && _greeting.TrySetResult(doc))
        {
            return;
        }

        doc.Dispose();
    }

    private void OnClosed(Exception? failure)
    {
        _isClosed = true;
        string why = failure is null ? "" : $" ({failure.Message})";
        _greeting.TrySetException(new VireoException(ErrorKind.OperationFailed,
            $"QMP socket '{_path}' closed before QEMU's greeting{why}; has QEMU exited?"));
        foreach (long id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out PendingCommand? pending))
            {
                pending.Reply.TrySetException(ClosedError(pending.Command, failure));
            }
        }

        CompleteEvents(failure);
        _closed.TrySetResult();
    }

    private VireoException ClosedError(string command, Exception? failure)
        => Volatile.Read(ref _disposed) != 0
            ? new(ErrorKind.OperationFailed, $"the QMP connection was closed by this client before QEMU answered '{command}'")
            : new(ErrorKind.OperationFailed,
                $"QEMU closed its QMP connection before answering '{command}'" + (failure is null ? "; QEMU has probably exited" : $": {failure.Message}"),
                failure);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposeCts.Cancel();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
        // The read loop sees the cancellation and runs OnClosed; make sure even if it never started.
        if (_readLoop.IsCompleted)
        {
            OnClosed(null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Dispose();
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        _disposeCts.Dispose();
        _writeLock.Dispose();
    }

    private sealed record PendingCommand(string Command, TaskCompletionSource<JsonDocument> Reply);
}
