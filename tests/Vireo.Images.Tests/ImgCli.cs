using System.Diagnostics;
using Vireo.Tests;

namespace Vireo.Images.Tests;

/// <summary>
/// Runs the real <c>vireo img</c> binary and the real qemu-img in a working directory, so relative names print
/// the same way. The binary is <see cref="VireoBinary"/>'s, as in the integration tests.
/// </summary>
internal static class ImgCli
{
    public static (int Exit, string Out, string Err) VireoImg(string cwd, params string[] args) => Run(VireoBinary.Path, cwd, ["img", .. args]);

    public static (int Exit, string Out, string Err) QemuImg(string cwd, params string[] args) => Run("qemu-img", cwd, args);

    public static (int Exit, string Out, string Err) Run(string exe, string cwd, IEnumerable<string> args, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = cwd,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill();
            throw new TimeoutException($"{exe} {string.Join(' ', args)} did not finish");
        }

        return (p.ExitCode, so.Result, se.Result);
    }
}
