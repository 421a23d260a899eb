using System.Diagnostics;
using Vireo.Model;

namespace Vireo.Net;

/// <summary>The result of running a helper program.</summary>
public sealed record ToolResult(int ExitCode, string StdOut, string StdErr);

/// <summary>
/// Runs the real components Vireo drives (dnsmasq, nft, ovs-vsctl) with an argument array — never a shell — and
/// finds them in the sbin directories a non-login root shell may not have on PATH.
/// </summary>
public static class ExternalTool
{
    private static readonly string[] SearchDirs = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"];

    /// <summary>The absolute path of <paramref name="name"/>, or a HostUnavailable error naming the Debian package.</summary>
    public static string Locate(string name, string package)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(SearchDirs);
        foreach (string dir in dirs)
        {
            string p = Path.Combine(dir, name);
            if (File.Exists(p))
            {
                return p;
            }
        }

        throw new VireoException(ErrorKind.HostUnavailable, $"'{name}' is not installed (Debian package {package})");
    }

    public static async Task<ToolResult> RunAsync(string file, IReadOnlyList<string> args, string? stdin = null, CancellationToken ct = default)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new VireoException(ErrorKind.OperationFailed, $"cannot start {file}");
        var outTask = p.StandardOutput.ReadToEndAsync(ct);
        var errTask = p.StandardError.ReadToEndAsync(ct);
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin.AsMemory(), ct).ConfigureAwait(false);
            p.StandardInput.Close();
        }

        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        return new ToolResult(p.ExitCode, await outTask.ConfigureAwait(false), await errTask.ConfigureAwait(false));
    }

    /// <summary>Runs and throws an OperationFailed error with the tool's own message when it exits non-zero.</summary>
    public static async Task<string> RunCheckedAsync(string file, IReadOnlyList<string> args, string what, string? stdin = null, CancellationToken ct = default)
    {
        var r = await RunAsync(file, args, stdin, ct).ConfigureAwait(false);
        if (r.ExitCode != 0)
        {
            string msg = (r.StdErr.Trim().Length > 0 ? r.StdErr : r.StdOut).Trim();
            throw new VireoException(ErrorKind.OperationFailed, $"{what} failed ({Path.GetFileName(file)} exit {r.ExitCode}): {msg}");
        }

        return r.StdOut;
    }
}
