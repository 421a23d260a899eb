using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Vireo.Qemu.Tests;

/// <summary>
/// A QMP server speaking the protocol over a UNIX socket in a temp dir: sends the greeting, answers
/// qmp_capabilities, and hands every other command to the test, which answers when and how it likes
/// (out of order, with errors, never, or by closing the socket).
/// </summary>
internal sealed class FakeQmpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _dir;
    private readonly Channel<FakeRequest> _requests = Channel.CreateUnbounded<FakeRequest>();
    private readonly TaskCompletionSource<Socket> _connection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Task _serve;

    public FakeQmpServer(string? greeting = null, bool answerCapabilities = true)
    {
        _dir = Directory.CreateTempSubdirectory("vireo-qmp-").FullName;
        SocketPath = Path.Combine(_dir, "qmp.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
        Greeting = greeting ?? """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}""";
        _serve = ServeAsync(answerCapabilities);
    }

    public string SocketPath { get; }

    public string Greeting { get; }

    /// <summary>Commands other than qmp_capabilities, in arrival order.</summary>
    public ChannelReader<FakeRequest> Requests => _requests.Reader;

    public async Task<FakeRequest> NextRequestAsync()
        => await _requests.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    public Task ReplyAsync(FakeRequest request, string returnJson = "{}")
        => SendAsync($$"""{"return": {{returnJson}}, "id": {{request.IdJson}}}""");

    public Task ErrorAsync(FakeRequest request, string errorClass, string desc)
        => SendAsync($$$"""{"id": {{{request.IdJson}}}, "error": {"class": "{{{errorClass}}}", "desc": "{{{desc}}}"}}""");

    public Task EventAsync(string name, string? dataJson = null)
    {
        string data = dataJson is null ? "" : $", \"data\": {dataJson}";
        return SendAsync($$"""{"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "{{name}}"{{data}}}""");
    }

    /// <summary>Writes raw text, CRLF-terminated as QEMU does.</summary>
    public Task SendAsync(string json) => SendBytesAsync(Encoding.UTF8.GetBytes(json + "\r\n"));

    public async Task SendBytesAsync(byte[] bytes)
    {
        Socket socket = await _connection.Task;
        await _writeLock.WaitAsync();
        try
        {
            await socket.SendAsync(bytes, SocketFlags.None);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Closes the connection as a dying QEMU does.</summary>
    public async Task CloseAsync()
    {
        Socket socket = await _connection.Task;
        socket.Shutdown(SocketShutdown.Both);
        socket.Close();
    }

    private async Task ServeAsync(bool answerCapabilities)
    {
        Socket socket;
        try
        {
            socket = await _listener.AcceptAsync();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _requests.Writer.TryComplete();
            return;
        }

        _connection.SetResult(socket);
        await SendAsync(Greeting);
        var buffer = new byte[64 * 1024];
        int length = 0;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None);
                if (n == 0)
                {
                    break;
                }

                length += n;
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', 0, length)) >= 0)
                {
                    var request = new FakeRequest(JsonDocument.Parse(buffer.AsMemory(0, newline).ToArray()).RootElement.Clone());
                    Buffer.BlockCopy(buffer, newline + 1, buffer, 0, length - newline - 1);
                    length -= newline + 1;
                    if (request.Execute == "qmp_capabilities" && answerCapabilities)
                    {
                        await ReplyAsync(request);
                    }
                    else
                    {
                        _requests.Writer.TryWrite(request);
                    }
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _requests.Writer.TryComplete();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        if (_connection.Task.IsCompletedSuccessfully)
        {
            _connection.Task.Result.Dispose();
        }

        try
        {
            await _serve.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
        }

        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>One command the client sent, as parsed by the fake server.</summary>
internal sealed class FakeRequest(JsonElement message)
{
    public JsonElement Message { get; } = message;

    public string Execute => Message.TryGetProperty("execute", out JsonElement e) ? e.GetString()! : "";

    public string IdJson => Message.GetProperty("id").GetRawText();

    public JsonElement Arguments => Message.TryGetProperty("arguments", out JsonElement a) ? a : default;
}
