using System.Diagnostics;
using System.Text;

namespace Vireo.Integration.Guest;

/// <summary>What <see cref="RawQemuGuest"/> boots.</summary>
public sealed record RawQemuGuestOptions
{
    /// <summary>vireo.* words (and any other kernel parameters) after <see cref="TestGuest.BaseCommandLine"/>.</summary>
    public IReadOnlyList<string> CommandLine { get; init; } = [];

    /// <summary>Size of a raw virtio-blk data disk created in the temp dir; 0 for none.</summary>
    public long DataDiskBytes { get; init; } = 64L << 20;

    /// <summary>A <c>-netdev user</c> + virtio-net NIC with this MAC; null for none.</summary>
    public string? Mac { get; init; } = "52:54:00:12:34:56";

    public int MemoryMiB { get; init; } = 256;

    public string Machine { get; init; } = "q35";

    /// <summary>Another build of the guest (tests of the build script); the shared one when null.</summary>
    public TestGuest? Guest { get; init; }
}

/// <summary>
/// The test guest booted by a raw qemu-system-x86_64 under TCG, with no Vireo code involved: a socket
/// serial console, a QMP socket, a data disk and a user-mode NIC. QEMU starts paused (-S) and runs
/// only once the console is connected, so the transcript holds the guest's first byte.
/// </summary>
public sealed class RawQemuGuest : IAsyncDisposable
{
    private static readonly TimeSpan SocketTimeout = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _dir;
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private RawQemuGuest(DirectoryInfo dir, Process process)
    {
        _dir = dir;
        _process = process;
    }

    public SerialConsole Console { get; private set; } = null!;

    public MiniQmp Qmp { get; private set; } = null!;

    /// <summary>The private directory holding sockets and the data disk.</summary>
    public string Directory => _dir.FullName;

    /// <summary>When the guest's CPUs started running (the QMP "cont").</summary>
    public Stopwatch SinceCont { get; } = new();

    /// <summary>When qemu-system-x86_64 was started.</summary>
    public Stopwatch SinceProcessStart { get; } = new();

    /// <summary>What QEMU wrote on stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static async Task<RawQemuGuest> StartAsync(RawQemuGuestOptions options)
    {
        TestGuest guest = options.Guest ?? await TestGuest.GetAsync().ConfigureAwait(false);
        DirectoryInfo dir = System.IO.Directory.CreateTempSubdirectory("vireo-guest-");
        string serial = Path.Combine(dir.FullName, "serial.sock");
        string qmp = Path.Combine(dir.FullName, "qmp.sock");

        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])[
            "-accel", "tcg", "-machine", options.Machine, "-m", options.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-display", "none", "-S",
            "-kernel", guest.KernelPath, "-initrd", guest.InitrdPath,
            "-append", TestGuest.CommandLine([.. options.CommandLine]),
            // The serial chardev comes before the QMP one: QEMU creates them in this order, so once the
            // QMP socket exists the serial socket does too.
            "-chardev", $"socket,id=serial0,path={QemuOpt(serial)},server=on,wait=off",
            "-serial", "chardev:serial0",
            "-chardev", $"socket,id=qmp0,path={QemuOpt(qmp)},server=on,wait=off",
            "-mon", "chardev=qmp0,mode=control"])
        {
            start.ArgumentList.Add(arg);
        }
        if (options.DataDiskBytes > 0)
        {
            string disk = Path.Combine(dir.FullName, "data.raw");
            using (FileStream file = File.Create(disk))
            {
                file.SetLength(options.DataDiskBytes);
            }
            start.ArgumentList.Add("-blockdev");
            start.ArgumentList.Add($"driver=file,filename={QemuOpt(disk)},node-name=data0-file");
            start.ArgumentList.Add("-blockdev");
            start.ArgumentList.Add("driver=raw,file=data0-file,node-name=data0");
            start.ArgumentList.Add("-device");
            start.ArgumentList.Add("virtio-blk-pci,drive=data0,id=data0-dev");
        }
        if (options.Mac is not null)
        {
            start.ArgumentList.Add("-netdev");
            start.ArgumentList.Add("user,id=net0");
            start.ArgumentList.Add("-device");
            start.ArgumentList.Add($"virtio-net-pci,netdev=net0,mac={options.Mac}");
        }

        var process = new Process { StartInfo = start };
        var vm = new RawQemuGuest(dir, process);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (vm._stderr)
                {
                    vm._stderr.AppendLine(e.Data);
                }
            }
        };
        vm.SinceProcessStart.Start();
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            Task exited = process.WaitForExitAsync();
            Task<SerialConsole> console = SerialConsole.ConnectAsync(serial, SocketTimeout);
            if (await Task.WhenAny(console, exited).ConfigureAwait(false) == exited)
            {
                throw new InvalidOperationException($"qemu-system-x86_64 exited with {process.ExitCode} before it listened:\n{vm.Stderr}");
            }
            vm.Console = await console.ConfigureAwait(false);
            vm.Qmp = await MiniQmp.ConnectAsync(qmp, SocketTimeout).ConfigureAwait(false);
            vm.SinceCont.Start();
            await vm.Qmp.ExecuteAsync("cont").ConfigureAwait(false);
            return vm;
        }
        catch
        {
            await vm.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for QEMU to exit and returns its exit code; throws with the console tail on timeout.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"QEMU did not exit within {timeout.TotalSeconds:0.#} s. Console:\n{Console?.Tail()}\nQEMU stderr:\n{Stderr}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync().ConfigureAwait(false);
        if (Qmp is not null)
        {
            await Qmp.DisposeAsync().ConfigureAwait(false);
        }
        if (Console is not null)
        {
            await Console.DisposeAsync().ConfigureAwait(false);
        }
        _process.Dispose();
        try
        {
            _dir.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp dir is not worth failing a test over.
        }
    }

    // QEMU option values double their commas.
    private static string QemuOpt(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}
