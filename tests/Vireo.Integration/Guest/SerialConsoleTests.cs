using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Vireo.Integration.Guest;

/// <summary>
/// The console harness against a fake guest: a UNIX socket served by a local /bin/sh whose input is
/// echoed back first, as a serial terminal echoes typed text. No QEMU, so these run in milliseconds.
/// </summary>
public sealed class SerialConsoleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task WaitForFindsMarkersBeforeAndAfterTheCall()
    {
        await using var guest = await FakeGuest.StartAsync(shell: false);
        await using SerialConsole console = await SerialConsole.ConnectAsync(guest.SocketPath, Timeout);

        await guest.SendAsync("boot noise\r\nVIREO-GUEST-BOOTED\r\n");
        int afterBooted = await console.WaitForAsync("VIREO-GUEST-BOOTED", Timeout);
        // Already in the transcript: found at once.
        Assert.Equal(afterBooted, await console.WaitForAsync("VIREO-GUEST-BOOTED", Timeout));

        Task<string> disks = console.WaitForLineAsync("VIREO-DISKS", Timeout, since: afterBooted);
        await guest.SendAsync("VIREO-DIS");
        await guest.SendAsync("KS vda:1048576 vd");
        Assert.False(disks.IsCompleted);
        await guest.SendAsync("b:512\r\n");
        Assert.Equal("VIREO-DISKS vda:1048576 vdb:512", await disks);
        Assert.DoesNotContain('\r', console.Transcript);
    }

    [Fact]
    public async Task SinceSkipsEarlierOutput()
    {
        await using var guest = await FakeGuest.StartAsync(shell: false);
        await using SerialConsole console = await SerialConsole.ConnectAsync(guest.SocketPath, Timeout);
        await guest.SendAsync("VIREO-GUEST-READY\n");
        await console.WaitForAsync("VIREO-GUEST-READY", Timeout);

        int mark = console.Position;
        Task second = console.WaitForAsync("VIREO-GUEST-READY", Timeout, since: mark);
        await guest.SendAsync("rebooting\n");
        Assert.False(second.IsCompleted);
        await guest.SendAsync("VIREO-GUEST-READY\n");
        await second;
    }

    [Fact]
    public async Task TimeoutNamesTheMarkerAndShowsTheTail()
    {
        await using var guest = await FakeGuest.StartAsync(shell: false);
        await using SerialConsole console = await SerialConsole.ConnectAsync(guest.SocketPath, Timeout);
        await guest.SendAsync(new string('x', 3000) + "\nKernel panic - not syncing\n");
        await console.WaitForAsync("not syncing", Timeout);

        var e = await Assert.ThrowsAsync<SerialConsoleException>(
            () => console.WaitForAsync("VIREO-GUEST-READY", TimeSpan.FromMilliseconds(50)));
        Assert.Contains("'VIREO-GUEST-READY' did not appear", e.Message, StringComparison.Ordinal);
        Assert.Contains("Kernel panic - not syncing", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Length < 2300, "only the last 2 KB of the transcript");
    }

    [Fact]
    public async Task ClosingFailsWaitersAtOnce()
    {
        var guest = await FakeGuest.StartAsync(shell: false);
        await using SerialConsole console = await SerialConsole.ConnectAsync(guest.SocketPath, Timeout);
        Task ready = console.WaitForAsync("VIREO-GUEST-READY", TimeSpan.FromMinutes(5));
        await guest.SendAsync("last words\n");
        await guest.DisposeAsync();

        var e = await Assert.ThrowsAsync<SerialConsoleException>(() => ready.WaitAsync(Timeout));
        Assert.Contains("closed", e.Message, StringComparison.Ordinal);
        await console.Closed.WaitAsync(Timeout);
        // Waiting after the end fails at once too.
        await Assert.ThrowsAsync<SerialConsoleException>(() => console.WaitForAsync("anything", TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task RunReturnsOutputAndStatusDespiteTheEcho()
    {
        await using var guest = await FakeGuest.StartAsync(shell: true);
        await using SerialConsole console = await SerialConsole.ConnectAsync(guest.SocketPath, Timeout);

        Assert.Equal("hello", await console.RunAsync("echo hello", Timeout));
        Assert.Equal(new CommandResult(0, ""), await console.RunWithStatusAsync("true", Timeout));
        Assert.Equal(new CommandResult(7, "out\nerr"), await console.RunWithStatusAsync("echo out; echo err >&2; (exit 7)", Timeout));
        Assert.Equal("no newline", await console.RunAsync("printf 'no newline'", Timeout));
        // A command naming the markers' words does not confuse the framing.
        Assert.Equal("VIREO-RUN-1-BEGIN", await console.RunAsync("echo VIREO-RUN-1-BEGIN", Timeout));
        Assert.Equal(new CommandResult(0, ""), await console.RunWithStatusAsync("sleep 0 &", Timeout));

        Task<string>[] parallel = [.. Enumerable.Range(0, 5).Select(i => console.RunAsync($"echo run{i}", Timeout))];
        Assert.Equal(["run0", "run1", "run2", "run3", "run4"], await Task.WhenAll(parallel));
    }

    [Fact]
    public async Task RunRefusesMultiLineCommands()
    {
        await using var guest = await FakeGuest.StartAsync(shell: false);
        await using SerialConsole console = await SerialConsole.ConnectAsync(guest.SocketPath, Timeout);
        await Assert.ThrowsAsync<ArgumentException>(() => console.RunAsync("echo a\necho b", Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => console.RunAsync("echo\ta", Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => console.RunAsync(new string('x', 2000), Timeout));
    }

    /// <summary>A socket that plays the guest's serial port.</summary>
    private sealed class FakeGuest : IAsyncDisposable
    {
        private readonly DirectoryInfo _dir;
        private readonly Socket _listener;
        private readonly Task<Socket> _accepted;
        private readonly bool _shell;
        private Process? _sh;
        private Task _pumps = Task.CompletedTask;

        private FakeGuest(DirectoryInfo dir, Socket listener, bool shell)
        {
            _dir = dir;
            _listener = listener;
            _shell = shell;
            _accepted = AcceptAsync();
        }

        public string SocketPath => Path.Combine(_dir.FullName, "serial.sock");

        public static Task<FakeGuest> StartAsync(bool shell)
        {
            DirectoryInfo dir = Directory.CreateTempSubdirectory("vireo-console-");
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(dir.FullName, "serial.sock")));
            listener.Listen();
            return Task.FromResult(new FakeGuest(dir, listener, shell));
        }

        public async Task SendAsync(string text)
        {
            Socket socket = await _accepted;
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None);
        }

        public async ValueTask DisposeAsync()
        {
            if (_sh is { HasExited: false })
            {
                _sh.Kill();
            }
            if (_accepted.IsCompletedSuccessfully)
            {
                _accepted.Result.Dispose();
            }
            _listener.Dispose();
            await Task.WhenAny(_pumps, Task.Delay(TimeSpan.FromSeconds(5)));
            _sh?.Dispose();
            _dir.Delete(recursive: true);
        }

        private async Task<Socket> AcceptAsync()
        {
            Socket socket = await _listener.AcceptAsync();
            if (_shell)
            {
                // One stream for stdout and stderr, as on a console, so their order is kept.
                _sh = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "exec /bin/sh 2>&1"])
                {
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                })!;
                _pumps = Task.WhenAll(
                    Task.Run(() => PumpInputAsync(socket, _sh)),
                    Task.Run(() => PumpOutputAsync(_sh.StandardOutput.BaseStream, socket)));
            }
            return socket;
        }

        // Echo what is typed, as a terminal in cooked mode does, then hand it to the shell.
        private static async Task PumpInputAsync(Socket socket, Process sh)
        {
            byte[] buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                    await sh.StandardInput.BaseStream.WriteAsync(buffer.AsMemory(0, read));
                    await sh.StandardInput.BaseStream.FlushAsync();
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                // The test is over.
            }
        }

        private static async Task PumpOutputAsync(Stream from, Socket socket)
        {
            byte[] buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await from.ReadAsync(buffer)) > 0)
                {
                    // Serial terminals turn \n into \r\n.
                    string text = Encoding.UTF8.GetString(buffer, 0, read).Replace("\n", "\r\n", StringComparison.Ordinal);
                    await socket.SendAsync(Encoding.UTF8.GetBytes(text), SocketFlags.None);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                // The test is over.
            }
        }
    }
}
