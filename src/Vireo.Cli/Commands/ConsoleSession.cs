using System.Runtime.InteropServices;
using Vireo.Engine.Domains;
using Vireo.Model;

namespace Vireo.Cli.Commands;

/// <summary>
/// <c>vireo console</c>: joins the terminal to the guest's serial pty, as virsh does. The terminal is put in raw
/// mode so keys reach the guest untouched; Ctrl-] (0x1d) detaches. When stdin is not a terminal (a script or a
/// test), input is copied as is and the session ends at end of input or when the domain stops.
/// </summary>
internal static partial class ConsoleSession
{
    private const byte EscapeByte = 0x1d;

    public static async Task<int> RunAsync(DomainManager domains, string name, string? devname, CommandContext c)
    {
        string pty = domains.GetConsolePty(name, devname);
        using var ptyStream = new FileStream(pty, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1, FileOptions.Asynchronous);
        c.Out.WriteLine($"Connected to domain '{name}'");
        c.Out.WriteLine("Escape character is ^] (Ctrl + ])");
        c.Out.Flush();

        using var raw = RawTerminal.TryEnter();
        using var cts = new CancellationTokenSource();
        var stdout = Console.OpenStandardOutput();
        var stdin = Console.OpenStandardInput();

        var toGuest = Task.Run(async () =>
        {
            var buf = new byte[256];
            while (!cts.IsCancellationRequested)
            {
                int n = await stdin.ReadAsync(buf, cts.Token).ConfigureAwait(false);
                if (n <= 0)
                {
                    return;
                }

                int esc = Array.IndexOf(buf, EscapeByte, 0, n);
                if (esc >= 0)
                {
                    await ptyStream.WriteAsync(buf.AsMemory(0, esc), cts.Token).ConfigureAwait(false);
                    return;
                }

                await ptyStream.WriteAsync(buf.AsMemory(0, n), cts.Token).ConfigureAwait(false);
            }
        });

        var fromGuest = Task.Run(async () =>
        {
            var buf = new byte[4096];
            try
            {
                while (!cts.IsCancellationRequested)
                {
                    int n = await ptyStream.ReadAsync(buf, cts.Token).ConfigureAwait(false);
                    if (n <= 0)
                    {
                        return;
                    }

                    await stdout.WriteAsync(buf.AsMemory(0, n), cts.Token).ConfigureAwait(false);
                    await stdout.FlushAsync(cts.Token).ConfigureAwait(false);
                }
            }
            catch (IOException)
            {
                // EIO: QEMU closed the pty (the domain stopped).
            }
        });

        await Task.WhenAny(toGuest, fromGuest).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        raw?.Dispose();
        c.Out.WriteLine();
        return 0;
    }

    /// <summary>Raw mode on the controlling terminal for the session, restored on dispose.</summary>
    private sealed class RawTerminal : IDisposable
    {
        private readonly byte[] _saved;

        private RawTerminal(byte[] saved) => _saved = saved;

        public static RawTerminal? TryEnter()
        {
            if (Console.IsInputRedirected)
            {
                return null;
            }

            var saved = new byte[TermiosSize];
            if (TcGetAttr(0, saved) != 0)
            {
                return null;
            }

            var raw = (byte[])saved.Clone();
            CfMakeRaw(raw);
            if (TcSetAttr(0, 0, raw) != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed, "cannot put the terminal in raw mode");
            }

            return new RawTerminal(saved);
        }

        public void Dispose() => _ = TcSetAttr(0, 0, _saved);
    }

    // struct termios is 60 bytes on x86_64 glibc; a larger buffer is harmless.
    private const int TermiosSize = 128;

    [LibraryImport("libc", EntryPoint = "tcgetattr")]
    private static partial int TcGetAttr(int fd, [Out] byte[] termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr")]
    private static partial int TcSetAttr(int fd, int action, byte[] termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    private static partial void CfMakeRaw(byte[] termios);
}
