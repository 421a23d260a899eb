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
    private readonly string _tag = $"{Environment.ProcessId % 10000}{Random.Shared.Next(1000):d3}";

    public NetTestHost()
    {
        Root = Directory.CreateTempSubdirectory("vireo-netit-").FullName;
        // dnsmasq drops to 'nobody' and re-reads its hosts file from the state root on SIGHUP.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        Host = AddNamespace("h");
    }

    public string Root { get; }

    public string Host { get; }

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
            string? env = Environment.GetEnvironmentVariable("VIREO_EXE");
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
        RunEnv(new Dictionary<string, string> { ["VIREO_ROOT"] = Root }, ["ip", "netns", "exec", Host, VireoBinary, .. args]);

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
