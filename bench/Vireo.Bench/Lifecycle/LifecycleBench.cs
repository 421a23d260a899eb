using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Vireo.Model.Domains;
using Vireo.Qemu;

namespace Vireo.Bench.Lifecycle;

/// <summary>
/// Start and destroy latency, side by side in one run: raw QEMU with the same argv (the floor), the vireo
/// CLI, and libvirt's virsh when it is installed. "Start" ends when the guest's CPUs run; "destroy" when
/// the command returns with QEMU gone.
/// </summary>
internal static class LifecycleBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int runs = args.Length > 1 && args[0] == "--runs" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        string repo = BenchRepo.Root;
        string vireo = Path.Combine(repo, ".build", "vireo", "vireo");
        string kernel = Path.Combine(repo, "guest", "out", "vmlinux");
        string initrd = Path.Combine(repo, "guest", "out", "initrd.img");
        if (!File.Exists(vireo) || !File.Exists(initrd))
        {
            Console.Error.WriteLine("bench lifecycle: run ./vireo --version and guest/build-guest.sh first");
            return 1;
        }

        if (!File.Exists(kernel))
        {
            kernel = Path.Combine(repo, "guest", "out", "vmlinuz");
        }

        string work = Directory.CreateTempSubdirectory("vireo-bench-").FullName;
        try
        {
            string xml = DomainXml("benchvm", kernel, initrd);
            string xmlPath = Path.Combine(work, "benchvm.xml");
            await File.WriteAllTextAsync(xmlPath, xml).ConfigureAwait(false);

            var raw = await RawQemuAsync(xml, work, runs).ConfigureAwait(false);
            var ours = await VireoAsync(vireo, xmlPath, work, runs).ConfigureAwait(false);
            var libvirt = await LibvirtAsync(xml, kernel, initrd, runs).ConfigureAwait(false);

            Console.WriteLine();
            Console.WriteLine($"lifecycle bench, {runs} runs each, medians (TCG, q35, 256 MiB, kernel + initrd guest)");
            Console.WriteLine($"  {"",-28}{"start (ms)",12}{"destroy (ms)",14}");
            Print("raw QEMU (floor)", raw);
            Print("vireo", ours);
            if (libvirt is { } lv)
            {
                Print("libvirt virsh", lv);
            }

            Console.WriteLine();
            Console.WriteLine(Invariant($"  vireo start / raw QEMU start        = {ours.Start / raw.Start:0.00}x   (target <= 1.5x, aim 1.3x)"));
            Console.WriteLine(Invariant($"  vireo destroy / raw QEMU start      = {ours.Destroy / raw.Start:0.00}x   (target < 1.0x)"));
            if (libvirt is { } l)
            {
                Console.WriteLine(Invariant($"  libvirt start / vireo start         = {l.Start / ours.Start:0.00}x"));
                Console.WriteLine(Invariant($"  libvirt destroy / vireo destroy     = {l.Destroy / ours.Destroy:0.00}x"));
            }
            else
            {
                Console.WriteLine("  libvirt: virsh/libvirtd not installed, skipped (apt-get install libvirt-daemon-system)");
            }

            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Print(string label, (double Start, double Destroy) r) =>
        Console.WriteLine(Invariant($"  {label,-28}{r.Start,12:0.0}{r.Destroy,14:0.0}"));

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>The floor: QEMU with the argv Vireo builds, not paused, timed until QMP says it runs.</summary>
    private static async Task<(double Start, double Destroy)> RawQemuAsync(string xml, string work, int runs)
    {
        var def = DomainDefinition.Parse(xml);
        var starts = new List<double>();
        var destroys = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            string dir = Path.Combine(work, $"raw{i}");
            Directory.CreateDirectory(dir);
            string qmpPath = Path.Combine(dir, "qmp.sock");
            var argv = QemuCommandLine.Build(def, new QemuArgvOptions
            {
                RuntimeDirectory = dir,
                QmpSocketPath = qmpPath,
                StartPaused = false,
                Accelerator = "tcg",
            });
            var psi = new ProcessStartInfo("/usr/bin/qemu-system-x86_64") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string a in argv)
            {
                psi.ArgumentList.Add(a);
            }

            var sw = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            using var qmp = await ConnectRetryAsync(qmpPath, p).ConfigureAwait(false);
            await QmpLineAsync(qmp, "{\"execute\":\"qmp_capabilities\"}").ConfigureAwait(false);
            while (!(await QmpLineAsync(qmp, "{\"execute\":\"query-status\"}").ConfigureAwait(false)).Contains("\"running\": true", StringComparison.Ordinal))
            {
            }

            starts.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            p.Kill(entireProcessTree: false);
            await p.WaitForExitAsync().ConfigureAwait(false);
            destroys.Add(sw.Elapsed.TotalMilliseconds);
        }

        return (Median(starts), Median(destroys));
    }

    private static async Task<(double Start, double Destroy)> VireoAsync(string vireo, string xmlPath, string work, int runs)
    {
        var env = new Dictionary<string, string> { ["VIREO_ROOT"] = Path.Combine(work, "vireo-root") };
        await RunAsync(vireo, env, "define", xmlPath).ConfigureAwait(false);
        var starts = new List<double>();
        var destroys = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            starts.Add(await RunAsync(vireo, env, "start", "benchvm").ConfigureAwait(false));
            destroys.Add(await RunAsync(vireo, env, "destroy", "benchvm").ConfigureAwait(false));
        }

        await RunAsync(vireo, env, "undefine", "benchvm").ConfigureAwait(false);
        return (Median(starts), Median(destroys));
    }

    /// <summary>libvirt as Debian ships it, its daemons started by the bench and stopped after.</summary>
    private static async Task<(double Start, double Destroy)?> LibvirtAsync(string xml, string kernel, string initrd, int runs)
    {
        if (!File.Exists("/usr/bin/virsh") || !File.Exists("/usr/sbin/libvirtd"))
        {
            return null;
        }

        // libvirt runs QEMU as libvirt-qemu, which cannot read the repo: give it copies.
        string images = "/var/lib/libvirt/images";
        Directory.CreateDirectory(images);
        File.Copy(kernel, Path.Combine(images, "vireo-bench-kernel"), overwrite: true);
        File.Copy(initrd, Path.Combine(images, "vireo-bench-initrd"), overwrite: true);
        xml = xml.Replace(kernel, Path.Combine(images, "vireo-bench-kernel"), StringComparison.Ordinal)
            .Replace(initrd, Path.Combine(images, "vireo-bench-initrd"), StringComparison.Ordinal);
        string xmlPath = Path.Combine(Path.GetTempPath(), "vireo-bench-libvirt.xml");
        await File.WriteAllTextAsync(xmlPath, xml).ConfigureAwait(false);

        var daemons = new List<Process>();
        try
        {
            daemons.Add(Process.Start("/usr/sbin/virtlogd")!);
            daemons.Add(Process.Start("/usr/sbin/libvirtd")!);
            var env = new Dictionary<string, string> { ["LIBVIRT_DEFAULT_URI"] = "qemu:///system" };
            for (int i = 0; i < 100 && !File.Exists("/run/libvirt/libvirt-sock"); i++)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }

            await Task.Delay(1000).ConfigureAwait(false);
            await RunAsync("/usr/bin/virsh", env, "define", xmlPath).ConfigureAwait(false);
            var starts = new List<double>();
            var destroys = new List<double>();
            for (int i = 0; i < runs; i++)
            {
                starts.Add(await RunAsync("/usr/bin/virsh", env, "start", "benchvm").ConfigureAwait(false));
                destroys.Add(await RunAsync("/usr/bin/virsh", env, "destroy", "benchvm").ConfigureAwait(false));
            }

            await RunAsync("/usr/bin/virsh", env, "undefine", "benchvm").ConfigureAwait(false);
            return (Median(starts), Median(destroys));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"libvirt: {e.Message}");
            return null;
        }
        finally
        {
            foreach (var d in daemons)
            {
                d.Kill();
                d.WaitForExit();
            }
        }
    }

    private static async Task<double> RunAsync(string exe, Dictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        string err = await p.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        double ms = sw.Elapsed.TotalMilliseconds;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed: {err.Trim()}");
        }

        return ms;
    }

    private static async Task<Socket> ConnectRetryAsync(string path, Process qemu)
    {
        while (true)
        {
            if (qemu.HasExited)
            {
                throw new InvalidOperationException("raw QEMU exited: " + await qemu.StandardError.ReadToEndAsync().ConfigureAwait(false));
            }

            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(path)).ConfigureAwait(false);
                await QmpLineAsync(s, null).ConfigureAwait(false);
                return s;
            }
            catch (SocketException)
            {
                s.Dispose();
                await Task.Delay(1).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends one command (or none) and returns the next line that is not an event.</summary>
    private static async Task<string> QmpLineAsync(Socket s, string? command)
    {
        if (command is not null)
        {
            await s.SendAsync(Encoding.UTF8.GetBytes(command + "\n")).ConfigureAwait(false);
        }

        var sb = new StringBuilder();
        var buf = new byte[1];
        while (true)
        {
            int n = await s.ReceiveAsync(buf).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException("QMP closed");
            }

            if (buf[0] == '\n')
            {
                string line = sb.ToString();
                if (!line.Contains("\"event\"", StringComparison.Ordinal))
                {
                    return line;
                }

                sb.Clear();
                continue;
            }

            sb.Append((char)buf[0]);
        }
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }

    private static string DomainXml(string name, string kernel, string initrd) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64' machine='q35'>hvm</type>
            <kernel>{kernel}</kernel>
            <initrd>{initrd}</initrd>
            <cmdline>console=ttyS0 quiet panic=-1</cmdline>
          </os>
          <features><acpi/><apic/></features>
          <devices>
            <interface type='user'><model type='virtio'/></interface>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        </domain>
        """;
}
