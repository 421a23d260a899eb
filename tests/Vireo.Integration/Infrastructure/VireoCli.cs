using System.Diagnostics;
using Vireo.Tests;

namespace Vireo.Integration.Infrastructure;

/// <summary>The result of one vireo invocation.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public CliResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"vireo exited {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
        }

        return this;
    }
}

/// <summary>
/// Runs the real, published vireo binary (as a user would) against a private state root, so tests cover the
/// AOT build, the detached watcher and cross-process locking exactly as they run in production.
/// </summary>
public sealed class VireoCli : IDisposable
{
    public VireoCli(string? root = null)
    {
        Root = root ?? Directory.CreateTempSubdirectory("vireo-it-").FullName;
    }

    public string Root { get; }

    public static string RepoRoot => RepoPaths.Root;

    public static string BinaryPath => VireoBinary.Path;

    public string RunDir(string domain) => Path.Combine(Root, "run", "domains", domain);

    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await p.WaitForExitAsync(cts.Token);
        return new CliResult(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts a command the test keeps talking to, such as <c>console</c>.</summary>
    public InteractiveCli Start(params string[] args) => new(Process.Start(StartInfo(args))!);

    private ProcessStartInfo StartInfo(string[] args)
    {
        var psi = new ProcessStartInfo(VireoBinary.Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["VIREO_ROOT"] = Root;
        return psi;
    }

    /// <summary>Polls domstate until it reads <paramref name="expected"/> (state and reason), or fails with the last answer.</summary>
    public async Task<string> WaitForStateAsync(string domain, string expected, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        string last = "";
        while (sw.Elapsed < timeout)
        {
            var r = await RunAsync("domstate", domain, "--reason");
            last = r.Stdout.Trim() + r.Stderr.Trim();
            if (r.ExitCode == 0 && last == expected)
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"domain '{domain}' did not reach '{expected}' within {timeout.TotalSeconds} s; last: '{last}'");
    }

    public void Dispose()
    {
        // Stop anything a failed test left running, then drop the state root.
        try
        {
            var list = RunAsync("list", "--name").GetAwaiter().GetResult();
            foreach (string name in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                RunAsync("destroy", name).GetAwaiter().GetResult();
            }
        }
        catch (Exception)
        {
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
