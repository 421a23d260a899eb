using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Vireo.Bench.Net;

/// <summary>
/// Network latency, side by side: <c>net-start</c> and <c>net-destroy</c> of a NAT network with DHCP (bridge, dnsmasq,
/// firewall), then ten guests started on it — until each runs, and until each holds a DHCP lease. vireo, and libvirt's
/// virsh when it is installed (its daemons started by the bench). Everything runs inside a network namespace the bench
/// creates and deletes: the bench re-executes itself there, so vireo, libvirtd, their bridges, dnsmasq and rules never
/// touch the machine's own network.
/// </summary>
internal static class NetBench
{
    private const string Subnet = "198.51.100.1/24";
    private const int Guests = 10;
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(300);

    public static async Task<int> RunAsync(string[] args)
    {
        int runs = 7;
        bool libvirt = true;
        string? inside = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--runs":
                    runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--no-libvirt":
                    libvirt = false;
                    break;
                case "--inside":
                    inside = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"bench net: unknown option '{args[i]}' (--runs N, --no-libvirt)");
                    return 1;
            }
        }

        return inside is null ? await OutsideAsync(args).ConfigureAwait(false) : await InsideAsync(runs, libvirt).ConfigureAwait(false);
    }

    /// <summary>Creates the namespace, runs this same bench inside it, and deletes it whatever happens.</summary>
    private static async Task<int> OutsideAsync(string[] args)
    {
        string ns = $"vbench{Environment.ProcessId % 100000}";
        await Tool.RunAsync("ip", null, "netns", "add", ns).ConfigureAwait(false);
        try
        {
            await Tool.RunAsync("ip", null, "netns", "exec", ns, "ip", "link", "set", "lo", "up").ConfigureAwait(false);
            var psi = new ProcessStartInfo("ip") { UseShellExecute = false };
            foreach (string a in (string[])["netns", "exec", ns, Environment.ProcessPath!, "net", .. args, "--inside", ns])
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi)!;
            await p.WaitForExitAsync().ConfigureAwait(false);
            return p.ExitCode;
        }
        finally
        {
            await Tool.RunAsync("ip", null, "netns", "delete", ns).ConfigureAwait(false);
        }
    }

    private static async Task<int> InsideAsync(int runs, bool withLibvirt)
    {
        string repo = BenchRepo.Root;
        string vireo = Environment.GetEnvironmentVariable("VIREO_EXE") is { Length: > 0 } e ? e : Path.Combine(repo, ".build", "vireo", "vireo");
        string kernel = Path.Combine(repo, "guest", "out", File.Exists(Path.Combine(repo, "guest", "out", "vmlinux")) ? "vmlinux" : "vmlinuz");
        string initrd = Path.Combine(repo, "guest", "out", "initrd.img");
        if (!File.Exists(vireo) || !File.Exists(initrd))
        {
            Console.Error.WriteLine("bench net: run ./vireo --version (or set VIREO_EXE) and guest/build-guest.sh first");
            return 1;
        }

        string work = Directory.CreateTempSubdirectory("vireo-netbench-").FullName;
        File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        try
        {
            var ours = await MeasureAsync(new VireoClient(vireo, Path.Combine(work, "root")), work, kernel, initrd, runs).ConfigureAwait(false);
            Result? theirs = null;
            if (withLibvirt && LibvirtClient.Installed)
            {
                await using var lv = await LibvirtClient.StartAsync().ConfigureAwait(false);
                theirs = await MeasureAsync(lv, work, lv.Stage(kernel), lv.Stage(initrd), runs).ConfigureAwait(false);
            }

            Console.WriteLine();
            Console.WriteLine(Invariant($"net bench, in a private namespace: NAT network {Subnet} with DHCP; {runs} runs each, medians; {Guests} TCG guests (q35, 192 MiB, kernel + initrd, vireo.dhcp=1)"));
            Console.WriteLine(Invariant($"  {"",-16}{"net-start",12}{"net-destroy",13}{"10 started",12}{"10 leased",12}"));
            Print("vireo", ours);
            if (theirs is { } t)
            {
                Print("libvirt virsh", t);
                Console.WriteLine(Invariant($"  libvirt / vireo: net-start {t.NetStart / ours.NetStart:0.0}x, net-destroy {t.NetDestroy / ours.NetDestroy:0.0}x, 10 started {t.GuestsRunning / ours.GuestsRunning:0.0}x"));
            }
            else
            {
                Console.WriteLine(withLibvirt ? "  libvirt: virsh/libvirtd not installed, skipped" : "  libvirt: skipped (--no-libvirt)");
            }

            Console.WriteLine("  (ms; '10 started' = ten sequential start commands, each returning with its guest running;");
            Console.WriteLine("   '10 leased' = from the first start until all ten hold a DHCP lease)");
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private sealed record Result(double NetStart, double NetDestroy, double GuestsRunning, double GuestsLeased);

    private static async Task<Result> MeasureAsync(IBenchClient c, string work, string kernel, string initrd, int runs)
    {
        string netXml = Path.Combine(work, $"{c.Label}-net.xml");
        await File.WriteAllTextAsync(netXml, NetworkXml(c.Bridge)).ConfigureAwait(false);
        await c.RunAsync("net-define", netXml).ConfigureAwait(false);
        var starts = new List<double>();
        var destroys = new List<double>();
        try
        {
            for (int i = 0; i < runs; i++)
            {
                starts.Add(await c.RunAsync("net-start", "benchnet").ConfigureAwait(false));
                destroys.Add(await c.RunAsync("net-destroy", "benchnet").ConfigureAwait(false));
            }

            await c.RunAsync("net-start", "benchnet").ConfigureAwait(false);
            var names = new List<string>();
            try
            {
                for (int i = 0; i < Guests; i++)
                {
                    string name = $"benchg{i}";
                    string xml = Path.Combine(work, $"{c.Label}-{name}.xml");
                    await File.WriteAllTextAsync(xml, DomainXml(name, i, kernel, initrd)).ConfigureAwait(false);
                    await c.RunAsync("define", xml).ConfigureAwait(false);
                    names.Add(name);
                }

                var sw = Stopwatch.StartNew();
                foreach (string n in names)
                {
                    await c.RunAsync("start", n).ConfigureAwait(false);
                }

                double running = sw.Elapsed.TotalMilliseconds;
                int leased;
                while ((leased = await c.LeaseCountAsync("benchnet").ConfigureAwait(false)) < Guests)
                {
                    if (sw.Elapsed > LeaseTimeout)
                    {
                        Console.Error.WriteLine($"{c.Label}: only {leased} of {Guests} guests got a lease within {LeaseTimeout.TotalSeconds} s");
                        return new Result(Median(starts), Median(destroys), running, double.NaN);
                    }

                    await Task.Delay(250).ConfigureAwait(false);
                }

                return new Result(Median(starts), Median(destroys), running, sw.Elapsed.TotalMilliseconds);
            }
            finally
            {
                foreach (string n in names)
                {
                    await c.TryRunAsync("destroy", n).ConfigureAwait(false);
                    await c.TryRunAsync("undefine", n).ConfigureAwait(false);
                }

                await c.TryRunAsync("net-destroy", "benchnet").ConfigureAwait(false);
            }
        }
        finally
        {
            await c.TryRunAsync("net-undefine", "benchnet").ConfigureAwait(false);
        }
    }

    private static void Print(string label, Result r) =>
        Console.WriteLine(Invariant($"  {label,-16}{r.NetStart,12:0.0}{r.NetDestroy,13:0.0}{r.GuestsRunning,12:0}{r.GuestsLeased,12:0}"));

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }

    private static string NetworkXml(string bridge) => $"""
        <network>
          <name>benchnet</name>
          <forward mode='nat'/>
          <bridge name='{bridge}' stp='on' delay='0'/>
          <ip address='198.51.100.1' netmask='255.255.255.0'>
            <dhcp><range start='198.51.100.2' end='198.51.100.254'/></dhcp>
          </ip>
        </network>
        """;

    private static string DomainXml(string name, int index, string kernel, string initrd) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>192</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64' machine='q35'>hvm</type>
            <kernel>{kernel}</kernel>
            <initrd>{initrd}</initrd>
            <cmdline>console=ttyS0 quiet panic=-1 tsc=reliable no_timer_check cryptomgr.notests vireo.dhcp=1 vireo.hostname={name}</cmdline>
          </os>
          <features><acpi/><apic/></features>
          <devices>
            <interface type='network'><mac address='52:54:00:b0:00:{index:x2}'/><source network='benchnet'/><model type='virtio'/></interface>
            <serial type='pty'><target port='0'/></serial>
          </devices>
        </domain>
        """;

    private interface IBenchClient
    {
        string Label { get; }

        string Bridge { get; }

        Task<double> RunAsync(params string[] args);

        Task TryRunAsync(params string[] args);

        Task<int> LeaseCountAsync(string network);
    }

    private sealed class VireoClient(string exe, string root) : IBenchClient
    {
        private readonly Dictionary<string, string> _env = new() { ["VIREO_ROOT"] = root, ["VIREO_EXE"] = exe };

        public string Label => "vireo";

        public string Bridge => "vbr-bench";

        public async Task<double> RunAsync(params string[] args) => (await Tool.RunAsync(exe, _env, args).ConfigureAwait(false)).Ms;

        public Task TryRunAsync(params string[] args) => Tool.TryRunAsync(exe, _env, args);

        public async Task<int> LeaseCountAsync(string network)
        {
            var r = await Tool.RunAsync(exe, _env, "net-dhcp-leases", network, "--json").ConfigureAwait(false);
            return JsonDocument.Parse(r.StdOut).RootElement.GetArrayLength();
        }
    }

    /// <summary>libvirt as Debian ships it: virtlogd and libvirtd started here (inside the namespace), stopped at dispose.</summary>
    private sealed class LibvirtClient : IBenchClient, IAsyncDisposable
    {
        private const string Virsh = "/usr/bin/virsh";
        private static readonly Dictionary<string, string> Env = new() { ["LIBVIRT_DEFAULT_URI"] = "qemu:///system" };
        private readonly List<Process> _daemons = [];
        private readonly List<string> _staged = [];

        public static bool Installed => File.Exists(Virsh) && File.Exists("/usr/sbin/libvirtd");

        public string Label => "libvirt";

        public string Bridge => "vbr-lvbench";

        public static async Task<LibvirtClient> StartAsync()
        {
            var c = new LibvirtClient();
            // A socket left by an earlier, killed libvirtd refuses connections; libvirtd replaces it.
            c._daemons.Add(Process.Start("/usr/sbin/virtlogd")!);
            c._daemons.Add(Process.Start("/usr/sbin/libvirtd")!);
            var sw = Stopwatch.StartNew();
            while (await Tool.TryRunAsync(Virsh, Env, "version").ConfigureAwait(false) != 0)
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(30))
                {
                    await c.DisposeAsync().ConfigureAwait(false);
                    throw new TimeoutException("libvirtd did not answer within 30 s");
                }

                await Task.Delay(200).ConfigureAwait(false);
            }

            return c;
        }

        /// <summary>libvirt runs QEMU as libvirt-qemu, which cannot read the repo: give it a copy.</summary>
        public string Stage(string file)
        {
            string images = "/var/lib/libvirt/images";
            Directory.CreateDirectory(images);
            string copy = Path.Combine(images, "vireo-netbench-" + Path.GetFileName(file));
            File.Copy(file, copy, overwrite: true);
            _staged.Add(copy);
            return copy;
        }

        public async Task<double> RunAsync(params string[] args) => (await Tool.RunAsync(Virsh, Env, args).ConfigureAwait(false)).Ms;

        public Task TryRunAsync(params string[] args) => Tool.TryRunAsync(Virsh, Env, args);

        public async Task<int> LeaseCountAsync(string network)
        {
            var r = await Tool.RunAsync(Virsh, Env, "net-dhcp-leases", network).ConfigureAwait(false);
            return r.StdOut.Split('\n').Count(l => l.Contains(" ipv4 ", StringComparison.Ordinal));
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var d in _daemons)
            {
                d.Kill();
                await d.WaitForExitAsync().ConfigureAwait(false);
                d.Dispose();
            }

            foreach (string f in _staged)
            {
                File.Delete(f);
            }
        }
    }
}

/// <summary>Runs a program with an argument array and times it.</summary>
internal static class Tool
{
    public static async Task<(double Ms, string StdOut)> RunAsync(string exe, Dictionary<string, string>? env, params string[] args)
    {
        var (code, ms, stdout, stderr) = await ExecAsync(exe, env, args).ConfigureAwait(false);
        return code == 0 ? (ms, stdout) : throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed: {stderr.Trim()}");
    }

    public static async Task<int> TryRunAsync(string exe, Dictionary<string, string>? env, params string[] args) =>
        (await ExecAsync(exe, env, args).ConfigureAwait(false)).Code;

    private static async Task<(int Code, double Ms, string StdOut, string StdErr)> ExecAsync(string exe, Dictionary<string, string>? env, string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? [])
        {
            psi.Environment[k] = v;
        }

        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string stdout = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        return (p.ExitCode, sw.Elapsed.TotalMilliseconds, stdout, await err.ConfigureAwait(false));
    }
}
