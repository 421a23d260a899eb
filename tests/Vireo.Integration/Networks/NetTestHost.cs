using System.Diagnostics;

namespace Vireo.Integration.Networks;

/// <summary>
/// A private world for one network test: a "host" namespace where vireo runs (through <c>ip netns exec</c>, so its
/// bridges, dnsmasq and nft table live only there), extra namespaces playing guests or the outside world, and a
/// state root. Dispose deletes the namespaces — taking every bridge, veth and rule with them — after the test
/// has checked that vireo itself left nothing behind.
/// </summary>
internal sealed class NetTestHost : IDisposable
{
    private readonly List<string> _namespaces = [];
    private readonly string _tag = $"{System.Environment.ProcessId % 10000}{Random.Shared.Next(1000):d3}";

    public NetTestHost()
    {
        Root = Directory.CreateTempSubdirectory("vireo-netit-").FullName;
        // dnsmasq drops to 'nobody' and re-reads its hosts file from the state root on SIGHUP.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        Host = AddNamespace("h");
    }

    public string Root { get; }

    public string Host { get; }

    /// <summary>Extra environment for every vireo run (e.g. <c>VIREO_OVS_DB</c> for a private Open vSwitch).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>Creates a namespace named after the test run (removed at dispose) and brings its loopback up.</summary>
    public string AddNamespace(string role)
    {
        string name = $"vnt{_tag}{role}";
        Run("ip", "netns", "add", name).Ensure();
        _namespaces.Add(name);
        Run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").Ensure();
        return name;
    }

    public static string VireoBinary
    {
        get
        {
            string? env = System.Environment.GetEnvironmentVariable("VIREO_EXE");
            if (!string.IsNullOrEmpty(env))
            {
                return env;
            }

            string local = Path.Combine(AppContext.BaseDirectory, "vireo");
            Assert.True(File.Exists(local), $"vireo binary not found at {local}");
            return local;
        }
    }

    /// <summary>Runs vireo inside the host namespace.</summary>
    public ProcResult Vireo(params string[] args) =>
        RunEnv(new Dictionary<string, string>(Environment) { ["VIREO_ROOT"] = Root }, ["ip", "netns", "exec", Host, VireoBinary, .. args]);

    /// <summary><see cref="Vireo"/> off the test thread, for guests started side by side.</summary>
    public Task<ProcResult> VireoAsync(params string[] args) => Task.Run(() => Vireo(args));

    /// <summary>Runs a command inside namespace <paramref name="ns"/>.</summary>
    public static ProcResult In(string ns, params string[] args) => Run(["ip", "netns", "exec", ns, .. args]);

    public static ProcResult Run(params string[] argv) => RunEnv(null, argv);

    private static ProcResult RunEnv(Dictionary<string, string>? env, string[] argv)
    {
        var psi = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? [])
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', argv)} did not finish in 90 s");
        }

        return new ProcResult(string.Join(' ', argv), p.ExitCode, stdout, err.Result);
    }

    /// <summary>The host namespace holds no bridge, veth, dnsmasq or nft table of Vireo's.</summary>
    public void AssertNothingLeft()
    {
        string links = In(Host, "ip", "-o", "link", "show").Ensure().StdOut;
        Assert.DoesNotContain("vbr", links, StringComparison.Ordinal);
        Assert.DoesNotContain("vnet", links, StringComparison.Ordinal);
        // TAPs named by <target dev> too: no tun device of any name is left.
        Assert.Equal("", In(Host, "ip", "-o", "link", "show", "type", "tun").Ensure().StdOut.Trim());
        Assert.Equal("", In(Host, "nft", "list", "tables").Ensure().StdOut.Trim());
        Assert.DoesNotContain(Process.GetProcessesByName("dnsmasq"), p =>
        {
            try
            {
                return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(Root, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        });
    }

    public void Dispose()
    {
        // A failed test may have left guests running: destroy them while their namespace still exists.
        try
        {
            foreach (string dom in Vireo("list", "--name").StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                Vireo("destroy", dom);
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }

        // A failed test may not have reached net-destroy: its dnsmasq would outlive the namespace.
        foreach (var p in Process.GetProcessesByName("dnsmasq"))
        {
            try
            {
                if (File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(Root, StringComparison.Ordinal))
                {
                    p.Kill();
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }

        foreach (string ns in _namespaces.AsEnumerable().Reverse())
        {
            Run("ip", "netns", "delete", ns);
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record ProcResult(string Command, int ExitCode, string StdOut, string StdErr)
{
    public ProcResult Ensure()
    {
        Assert.True(ExitCode == 0, $"{Command} exited {ExitCode}\nstdout: {StdOut}\nstderr: {StdErr}");
        return this;
    }
}
