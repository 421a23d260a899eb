using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Vireo.Integration.Guest;

/// <summary>
/// Just enough QMP for tests that drive a raw QEMU (the product's client is Vireo.Qemu's QmpClient):
/// greeting, qmp_capabilities, commands matched to replies by id, and the events seen so far.
/// </summary>
public sealed class MiniQmp : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly object _gate = new();
    private readonly Dictionary<long, TaskCompletionSource<JsonElement>> _pending = [];
    private readonly List<string> _events = [];
    private readonly List<(string Name, TaskCompletionSource Seen)> _eventWaiters = [];
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private long _nextId;

    private MiniQmp(Socket socket)
    {
        _socket = socket;
        _reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
    }

    /// <summary>Names of the events received so far, in order.</summary>
    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>Completes at EOF: QEMU closed the monitor, i.e. it exited.</summary>
    public Task Closed => _closed.Task;

    public static async Task<MiniQmp> ConnectAsync(string socketPath, TimeSpan timeout)
    {
        Socket socket = await UnixSocketWait.ConnectAsync(socketPath, timeout).ConfigureAwait(false);
        var qmp = new MiniQmp(socket);
        try
        {
            string? greeting = await qmp._reader.ReadLineAsync().WaitAsync(timeout).ConfigureAwait(false);
            if (greeting is null || !greeting.Contains("\"QMP\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"not a QMP greeting: {greeting}");
            }
            qmp._readLoop = Task.Run(qmp.ReadLoopAsync);
            await qmp.ExecuteAsync("qmp_capabilities", timeout: timeout).ConfigureAwait(false);
            return qmp;
        }
        catch
        {
            await qmp.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a command (arguments as a JSON object text, or null) and returns its "return" value.</summary>
    public async Task<JsonElement> ExecuteAsync(string command, string? argumentsJson = null, TimeSpan? timeout = null)
    {
        long id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _pending[id] = reply;
        }
        string arguments = argumentsJson is null ? "" : $", \"arguments\": {argumentsJson}";
        byte[] bytes = Encoding.UTF8.GetBytes($"{{\"execute\": \"{command}\"{arguments}, \"id\": {id}}}\n");
        await _socket.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
        return await reply.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>Waits for an event by name, including one that already arrived.</summary>
    public Task WaitForEventAsync(string name, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_events.Contains(name))
            {
                return Task.CompletedTask;
            }
            _eventWaiters.Add((name, seen));
        }
        return seen.Task.WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // QEMU already closed it.
        }
        _socket.Dispose();
        await _readLoop.ConfigureAwait(false);
        _reader.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                using JsonDocument message = JsonDocument.Parse(line);
                JsonElement root = message.RootElement;
                if (root.TryGetProperty("event", out JsonElement name))
                {
                    OnEvent(name.GetString() ?? "");
                }
                else if (root.TryGetProperty("id", out JsonElement idElement) && TakePending(idElement.GetInt64()) is { } reply)
                {
                    if (root.TryGetProperty("error", out JsonElement error))
                    {
                        reply.TrySetException(new InvalidOperationException($"QMP error: {error.GetRawText()}"));
                    }
                    else
                    {
                        reply.TrySetResult(root.GetProperty("return").Clone());
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // EOF below.
        }
        List<TaskCompletionSource<JsonElement>> orphans;
        lock (_gate)
        {
            orphans = [.. _pending.Values];
            _pending.Clear();
        }
        foreach (TaskCompletionSource<JsonElement> orphan in orphans)
        {
            orphan.TrySetException(new IOException("QMP connection closed"));
        }
        _closed.TrySetResult();
    }

    private void OnEvent(string name)
    {
        List<TaskCompletionSource> fire = [];
        lock (_gate)
        {
            _events.Add(name);
            _eventWaiters.RemoveAll(w =>
            {
                if (w.Name != name)
                {
                    return false;
                }
                fire.Add(w.Seen);
                return true;
            });
        }
        fire.ForEach(f => f.TrySetResult());
    }

    private TaskCompletionSource<JsonElement>? TakePending(long id)
    {
        lock (_gate)
        {
            return _pending.Remove(id, out TaskCompletionSource<JsonElement>? reply) ? reply : null;
        }
    }
}
