using System.Diagnostics;
using Vireo.Model;

namespace Vireo.Engine.Storage;

/// <summary>
/// Runs a storage tool (lvm2, mkfs, mount) with an argument array, never a shell, and turns a failure into a
/// <see cref="VireoException"/> carrying the tool's own words.
/// </summary>
internal static class ExternalTool
{
    public static string Run(string what, IReadOnlyList<string> argv, bool allowFailure = false) => RunFull(what, argv, allowFailure).Stdout;

    public static (int ExitCode, string Stdout, string Stderr) RunFull(string what, IReadOnlyList<string> argv, bool allowFailure = false)
    {
        var psi = new ProcessStartInfo(argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        for (int i = 1; i < argv.Count; i++)
        {
            psi.ArgumentList.Add(argv[i]);
        }

        // lvm2 complains about every inherited descriptor; the complaint is noise, not an error.
        psi.Environment["LVM_SUPPRESS_FD_WARNINGS"] = "1";
        psi.Environment["LC_ALL"] = "C";
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new VireoException(ErrorKind.HostUnavailable, $"{what}: cannot run {argv[0]}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VireoException(ErrorKind.HostUnavailable, $"{what}: cannot run {argv[0]}: {e.Message} (is it installed?)");
        }

        using (p)
        {
            p.StandardInput.Close();
            var stderrTask = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = stderrTask.GetAwaiter().GetResult();
            p.WaitForExit();
            if (p.ExitCode != 0 && !allowFailure)
            {
                string detail = string.Join(' ', stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(l => !l.StartsWith("WARNING:", StringComparison.Ordinal)));
                throw new VireoException(ErrorKind.OperationFailed,
                    $"{what}: {Path.GetFileName(argv[0])} failed (exit {p.ExitCode}): {(detail.Length > 0 ? detail : stderr.Trim())}");
            }

            return (p.ExitCode, stdout, stderr);
        }
    }
}
