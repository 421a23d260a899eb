using System.Text;
using System.Text.Json;
using Vireo.Model;
using Vireo.Qemu.Qmp;

namespace Vireo.Qemu.Tests;

/// <summary>The QMP client against a scripted server: framing, id matching, errors, events, EOF, timeouts.</summary>
public sealed class QmpClientTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Connect_ReadsGreetingAndNegotiates()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Assert.Equal(new QmpVersion(7, 2, 22, "Debian 1:7.2+dfsg-7"), client.Version);
        Assert.Equal(["oob"], client.Capabilities);
        Assert.False(client.IsClosed);
    }

    [Fact]
    public async Task Attach_TakesAConnectedSocket()
    {
        await using var server = new FakeQmpServer();
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(server.SocketPath));
        await using QmpClient client = await QmpClient.AttachAsync(socket, "test socket");

        Assert.Equal(7, client.Version.Major);
        Task<QmpStatus> status = client.QueryStatusAsync();
        await server.ReplyAsync(await server.NextRequestAsync(), """{"status": "paused", "running": false}""");
        Assert.Equal(new QmpStatus("paused", false), await status);
    }

    [Fact]
    public async Task Connect_NoGreeting_TimesOutNamingTheLikelyCause()
    {
        // A listener that never answers: what a client sees while another client holds QEMU's monitor.
        using var dir = new TempDir();
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(dir.File("q.sock")));
        listener.Listen(1);

        var e = await Assert.ThrowsAsync<VireoException>(() => QmpClient.ConnectAsync(dir.File("q.sock"), TimeSpan.FromMilliseconds(100)));
        Assert.Equal(ErrorKind.Timeout, e.Kind);
        Assert.Contains("one QMP client at a time", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_NoSocket_FailsWithPath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vireo-none-{Guid.NewGuid():N}.sock");
        var e = await Assert.ThrowsAsync<VireoException>(() => QmpClient.ConnectAsync(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_CapabilitiesRefused_Throws()
    {
        await using var server = new FakeQmpServer(answerCapabilities: false);
        Task<QmpClient> connect = QmpClient.ConnectAsync(server.SocketPath);
        FakeRequest caps = await server.NextRequestAsync();
        Assert.Equal("qmp_capabilities", caps.Execute);
        await server.ErrorAsync(caps, "GenericError", "nope");
        var e = await Assert.ThrowsAsync<QmpException>(() => connect);
        Assert.Equal("GenericError", e.ErrorClass);
    }

    [Fact]
    public async Task Replies_OutOfOrder_ReachTheirOwnCommands()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task<JsonElement> first = client.ExecuteAsync("query-name");
        FakeRequest r1 = await server.NextRequestAsync();
        Task<JsonElement> second = client.ExecuteAsync("query-uuid");
        FakeRequest r2 = await server.NextRequestAsync();
        Assert.NotEqual(r1.IdJson, r2.IdJson);

        await server.ReplyAsync(r2, """{"UUID": "u"}""");
        await server.ReplyAsync(r1, """{"name": "n"}""");

        Assert.Equal("n", (await first).GetProperty("name").GetString());
        Assert.Equal("u", (await second).GetProperty("UUID").GetString());
    }

    [Fact]
    public async Task Arguments_FromWriterAndFromJson_ArriveAsObjects()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task a = client.ExecuteAsync("device_del", w => w.WriteString("id", "net0"));
        FakeRequest ra = await server.NextRequestAsync();
        Assert.Equal("net0", ra.Arguments.GetProperty("id").GetString());
        await server.ReplyAsync(ra);
        await a;

        Task b = client.ExecuteAsync("human-monitor-command", """{"command-line": "info a,b"}""");
        FakeRequest rb = await server.NextRequestAsync();
        Assert.Equal("info a,b", rb.Arguments.GetProperty("command-line").GetString());
        await server.ReplyAsync(rb, "\"\"");
        await b;

        Task c = client.ExecuteAsync("stop");
        FakeRequest rc = await server.NextRequestAsync();
        Assert.Equal(JsonValueKind.Undefined, rc.Arguments.ValueKind);
        await server.ReplyAsync(rc);
        await c;
    }

    [Fact]
    public async Task Arguments_InvalidJson_RefusedBeforeSending()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        await Assert.ThrowsAsync<VireoException>(() => client.ExecuteAsync("device_add", "{\"driver\": "));
        await Assert.ThrowsAsync<VireoException>(() => client.ExecuteAsync("device_add", "[1]"));
        Assert.False(server.Requests.TryRead(out _));
    }

    [Fact]
    public async Task ErrorReply_BecomesQmpException()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task del = client.ExecuteAsync("device_del", w => w.WriteString("id", "nope"));
        await server.ErrorAsync(await server.NextRequestAsync(), "DeviceNotFound", "Device 'nope' not found");

        var e = await Assert.ThrowsAsync<QmpException>(() => del);
        Assert.Equal("DeviceNotFound", e.ErrorClass);
        Assert.Equal("Device 'nope' not found", e.Description);
        Assert.Equal("device_del", e.Command);
        Assert.Contains("Device 'nope' not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eof_FailsPendingCommands_CompletesClosedAndEvents()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task pending1 = client.ExecuteAsync("query-status");
        Task pending2 = client.ExecuteAsync("cont");
        await server.NextRequestAsync();
        await server.NextRequestAsync();
        Task<QmpEvent> waiter = client.WaitForEventAsync(QmpEventKind.Shutdown, Wait);
        await server.CloseAsync();

        var e1 = await Assert.ThrowsAsync<VireoException>(() => pending1);
        var e2 = await Assert.ThrowsAsync<VireoException>(() => pending2);
        Assert.Equal(ErrorKind.OperationFailed, e1.Kind);
        Assert.Contains("query-status", e1.Message, StringComparison.Ordinal);
        Assert.Contains("cont", e2.Message, StringComparison.Ordinal);
        await client.Closed.WaitAsync(Wait);
        Assert.True(client.IsClosed);
        await Assert.ThrowsAsync<VireoException>(() => waiter);
        await client.Events.Completion.WaitAsync(Wait);

        // After the close, new commands fail at once rather than waiting for their timeout.
        var late = await Assert.ThrowsAsync<VireoException>(() => client.ExecuteAsync("query-status"));
        Assert.Equal(ErrorKind.OperationFailed, late.Kind);
    }

    [Fact]
    public async Task Timeout_FailsThatCommandOnly_AndLateReplyIsDropped()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task slow = client.ExecuteAsync("query-status", timeout: TimeSpan.FromMilliseconds(50));
        FakeRequest r = await server.NextRequestAsync();
        var e = await Assert.ThrowsAsync<VireoException>(() => slow);
        Assert.Equal(ErrorKind.Timeout, e.Kind);
        Assert.Contains("query-status", e.Message, StringComparison.Ordinal);

        // The late reply matches nothing; the next command still gets its own reply.
        await server.ReplyAsync(r, """{"status": "late"}""");
        Task<QmpStatus> next = client.QueryStatusAsync();
        await server.ReplyAsync(await server.NextRequestAsync(), """{"status": "running", "running": true}""");
        Assert.Equal(new QmpStatus("running", true), await next);
    }

    [Fact]
    public async Task Cancellation_RemovesPendingCommand()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);
        using var cts = new CancellationTokenSource();

        Task slow = client.ExecuteAsync("query-status", cancellationToken: cts.Token);
        await server.NextRequestAsync();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
    }

    [Fact]
    public async Task Events_InterleavedWithReplies_GoToChannelAndWaiters()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task<QmpEvent> stopped = client.WaitForEventAsync(QmpEventKind.Stop, Wait);
        Task stop = client.StopAsync();
        FakeRequest r = await server.NextRequestAsync();
        await server.EventAsync("STOP");
        await server.ReplyAsync(r);
        await server.EventAsync("SHUTDOWN", """{"guest": true, "reason": "guest-shutdown"}""");
        await server.EventAsync("DEVICE_DELETED", """{"device": "net0", "path": "/machine/peripheral/net0"}""");
        await server.EventAsync("GUEST_PANICKED", """{"action": "pause"}""");
        await server.EventAsync("BLOCK_JOB_COMPLETED", """{"device": "job0", "len": 1}""");
        await stop;

        QmpEvent stopEvent = await stopped;
        Assert.Equal("STOP", stopEvent.Name);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddMilliseconds(250), stopEvent.Timestamp);

        var seen = new List<QmpEvent>();
        while (seen.Count < 5)
        {
            seen.Add(await client.Events.ReadAsync().AsTask().WaitAsync(Wait));
        }

        Assert.Equal(
            [QmpEventKind.Stop, QmpEventKind.Shutdown, QmpEventKind.DeviceDeleted, QmpEventKind.GuestPanicked, QmpEventKind.Other],
            seen.Select(e => e.Kind));
        Assert.True(seen[1].Guest);
        Assert.Equal("guest-shutdown", seen[1].Reason);
        Assert.Equal("net0", seen[2].Device);
        Assert.Equal("/machine/peripheral/net0", seen[2].Path);
        Assert.Equal("pause", seen[3].Reason);
        Assert.Equal("BLOCK_JOB_COMPLETED", seen[4].Name);
        Assert.Equal(1, seen[4].Data.GetProperty("len").GetInt32());
    }

    [Fact]
    public async Task WaitForEvent_Predicate_SkipsNonMatching_AndTimesOut()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task<QmpEvent> net1 = client.WaitForEventAsync(e => e.Kind == QmpEventKind.DeviceDeleted && e.Device == "net1", Wait);
        await server.EventAsync("DEVICE_DELETED", """{"device": "net0", "path": "/a"}""");
        await server.EventAsync("DEVICE_DELETED", """{"device": "net1", "path": "/b"}""");
        Assert.Equal("/b", (await net1).Path);

        var e = await Assert.ThrowsAsync<VireoException>(() => client.WaitForEventAsync("RESET", TimeSpan.FromMilliseconds(30)));
        Assert.Equal(ErrorKind.Timeout, e.Kind);
        Assert.Contains("RESET", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Framing_SplitWrites_PrettyPrinted_AndSeveralPerPacket()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task<JsonElement> a = client.ExecuteAsync("query-a");
        FakeRequest ra = await server.NextRequestAsync();
        Task<JsonElement> b = client.ExecuteAsync("query-b");
        FakeRequest rb = await server.NextRequestAsync();

        // A reply split in the middle of a string, then a pretty-printed reply glued to an event in one write.
        byte[] first = Encoding.UTF8.GetBytes($$$"""{"return": {"text": "a{b}\"c"}, "id": {{{ra.IdJson}}}}""" + "\r\n");
        await server.SendBytesAsync(first[..17]);
        await Task.Yield();
        await server.SendBytesAsync(first[17..]);
        await server.SendAsync($$$"""
            {
                "return": [1, 2, 3],
                "id": {{{rb.IdJson}}}
            }
            {"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}
            """);

        Assert.Equal("a{b}\"c", (await a).GetProperty("text").GetString());
        Assert.Equal(3, (await b).GetArrayLength());
        Assert.Equal(QmpEventKind.Resume, (await client.Events.ReadAsync().AsTask().WaitAsync(Wait)).Kind);
    }

    [Fact]
    public async Task Garbage_ClosesTheConnection_AndFailsPending()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task pending = client.ExecuteAsync("query-status");
        await server.NextRequestAsync();
        await server.SendAsync("[1, 2]");

        var e = await Assert.ThrowsAsync<VireoException>(() => pending);
        Assert.Contains("JSON object", e.Message, StringComparison.Ordinal);
        await client.Closed.WaitAsync(Wait);
    }

    [Fact]
    public async Task Raw_ReplacesIdOnTheWire_AndRestoresTheCallers()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task<string> raw = client.RawAsync("""{"execute": "query-kvm", "id": "mine"}""");
        FakeRequest r = await server.NextRequestAsync();
        Assert.Equal("query-kvm", r.Execute);
        Assert.Equal(JsonValueKind.Number, r.Message.GetProperty("id").ValueKind);
        await server.ReplyAsync(r, """{"enabled": false, "present": true}""");
        Assert.Equal("""{"return":{"enabled":false,"present":true},"id":"mine"}""", await raw);

        // Error replies are QEMU's words for the caller, not exceptions.
        Task<string> bad = client.RawAsync("""{"execute": "nope"}""");
        await server.ErrorAsync(await server.NextRequestAsync(), "CommandNotFound", "The command nope has not been found");
        Assert.Equal("""{"error":{"class":"CommandNotFound","desc":"The command nope has not been found"}}""", await bad);

        await Assert.ThrowsAsync<VireoException>(() => client.RawAsync("""{"arguments": {}}"""));
        await Assert.ThrowsAsync<VireoException>(() => client.RawAsync("not json"));
    }

    [Fact]
    public async Task TypedHelpers_ParseTheirReplies()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task<IReadOnlyDictionary<int, int>> cpus = client.QueryCpusFastAsync();
        await server.ReplyAsync(await server.NextRequestAsync(),
            """[{"cpu-index": 1, "thread-id": 4402, "qom-path": "/machine/unattached/device[1]", "target": "x86_64"}, {"cpu-index": 0, "thread-id": 4401}]""");
        Assert.Equal(new Dictionary<int, int> { [0] = 4401, [1] = 4402 }, await cpus);

        Task<IReadOnlyList<QmpIoThread>> io = client.QueryIoThreadsAsync();
        await server.ReplyAsync(await server.NextRequestAsync(), """[{"id": "io1", "thread-id": 4410, "poll-max-ns": 32768}]""");
        Assert.Equal([new QmpIoThread("io1", 4410)], await io);

        Task<string> hmp = client.HumanMonitorCommandAsync("info status");
        FakeRequest r = await server.NextRequestAsync();
        Assert.Equal("info status", r.Arguments.GetProperty("command-line").GetString());
        await server.ReplyAsync(r, "\"VM status: paused (prelaunch)\\r\\n\"");
        Assert.Equal("VM status: paused (prelaunch)\r\n", await hmp);
    }

    [Fact]
    public async Task Quit_CloseBeforeReply_CountsAsSuccess()
    {
        await using var server = new FakeQmpServer();
        await using QmpClient client = await QmpClient.ConnectAsync(server.SocketPath);

        Task quit = client.QuitAsync();
        Assert.Equal("quit", (await server.NextRequestAsync()).Execute);
        await server.CloseAsync();
        await quit;
        await client.Closed.WaitAsync(Wait);
    }

    [Fact]
    public void Timeouts_QueriesShort_HotplugAndBlockLonger()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), QmpTimeouts.For("query-status"));
        Assert.True(QmpTimeouts.For("device_del") >= TimeSpan.FromSeconds(10));
        Assert.True(QmpTimeouts.For("blockdev-add") >= TimeSpan.FromSeconds(10));
        Assert.True(QmpTimeouts.For("block-job-cancel") >= TimeSpan.FromSeconds(10));
        Assert.True(QmpTimeouts.For("something-new") > QmpTimeouts.For("query-kvm"));
    }
}
