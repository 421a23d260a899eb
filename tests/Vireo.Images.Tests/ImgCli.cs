using System.Diagnostics;

namespace Vireo.Images.Tests;

/// <summary>
/// Runs the real <c>vireo img</c> binary and the real qemu-img in a working directory, so relative names print
/// the same way. The binary is found as the integration tests find it (tests/Vireo.Integration/Infrastructure/
/// VireoCli.cs): <c>VIREO_EXE</c> when it names a file (scripts/test.sh sets it to the ./vireo publish), else
/// <c>./vireo</c> publishes it into .build/vireo.
/// </summary>
internal static class ImgCli
{
    private static readonly Lazy<string> Binary = new(FindBinary);

    public static (int Exit, string Out, string Err) VireoImg(string cwd, params string[] args) => Run(Binary.Value, cwd, ["img", .. args]);

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

    private static string FindBinary()
    {
        string? env = Environment.GetEnvironmentVariable("VIREO_EXE");
        if (!string.IsNullOrEmpty(env) && File.Exists(env))
        {
            return env;
        }

        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Vireo.sln")))
        {
            dir = dir.Parent;
        }

        string repo = dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Vireo.sln)");
        var (_, _, err) = Run(Path.Combine(repo, "vireo"), repo, ["--version"], 20 * 60_000);
        string path = Path.Combine(repo, ".build", "vireo", "vireo");
        return File.Exists(path) ? path : throw new InvalidOperationException($"./vireo did not produce {path}: {err}");
    }
}
