using System.Diagnostics;
using Vireo.Tests;

namespace Vireo.Integration.Guest;

/// <summary>
/// The project's test guest: the Debian kernel plus a busybox initramfs built by guest/build-guest.sh
/// (see docs/test-guest.md). The build runs once per test run, however many test classes ask for it
/// in parallel; the script itself also holds a file lock, so separate test processes do not race either.
/// </summary>
public sealed class TestGuest
{
    /// <summary>
    /// What every test guest's kernel command line starts with: serial console; no kernel noise (it
    /// costs ~0.7 s of emulated serial output); reset at once on a panic instead of hanging a test until
    /// its timeout; trust the TSC, so a loaded host does not make the kernel fall back to a slower
    /// clocksource; no crypto self-tests (~0.5 s of CPU under TCG). Measured in docs/test-guest.md.
    /// </summary>
    public const string BaseCommandLine = "console=ttyS0 quiet panic=-1 tsc=reliable no_timer_check cryptomgr.notests";

    private static readonly Lazy<Task<TestGuest>> Shared = new(() => BuildAsync(outDir: null, environment: null));

    private TestGuest(string repoRoot, string outDir)
    {
        RepoRoot = repoRoot;
        OutDir = outDir;
    }

    /// <summary>The directory holding Vireo.sln.</summary>
    public string RepoRoot { get; }

    /// <summary>Where the kernel and initrd are (guest/out unless built elsewhere).</summary>
    public string OutDir { get; }

    /// <summary>
    /// The kernel to boot: the uncompressed ELF vmlinux when the build could make one (QEMU boots it
    /// through PVH and skips the bzImage's self-decompression, ~40% of a TCG boot), else the Debian
    /// bzImage. Either works as <c>-kernel</c> or a domain's <c>&lt;kernel&gt;</c>.
    /// </summary>
    public string KernelPath => File.Exists(UncompressedKernelPath) ? UncompressedKernelPath : CompressedKernelPath;

    /// <summary>The copy of the Debian kernel (bzImage).</summary>
    public string CompressedKernelPath => Path.Combine(OutDir, "vmlinuz");

    /// <summary>The same kernel as an ELF vmlinux with a PVH entry; absent when the build could not extract it.</summary>
    public string UncompressedKernelPath => Path.Combine(OutDir, "vmlinux");

    public string InitrdPath => Path.Combine(OutDir, "initrd.img");

    /// <summary>The guest in guest/out, built (or found up to date) once per test run.</summary>
    public static Task<TestGuest> GetAsync() => Shared.Value;

    /// <summary>Blocking form of <see cref="GetAsync"/> for constructors and fixtures.</summary>
    public static TestGuest Get() => Shared.Value.GetAwaiter().GetResult();

    /// <summary>
    /// The kernel command line for a test guest: <see cref="BaseCommandLine"/> followed by the given
    /// words, e.g. <c>TestGuest.CommandLine("vireo.hostname=web1", "vireo.dhcp=1")</c>.
    /// </summary>
    public static string CommandLine(params string[] words)
        => words.Length == 0 ? BaseCommandLine : BaseCommandLine + " " + string.Join(' ', words);

    /// <summary>
    /// Runs the build script into <paramref name="outDir"/> (guest/out when null) with extra environment
    /// variables. Tests of the script itself use this; everyone else wants <see cref="GetAsync"/>.
    /// </summary>
    public static async Task<TestGuest> BuildAsync(string? outDir, IReadOnlyDictionary<string, string>? environment)
    {
        string root = FindRepoRoot();
        outDir ??= Path.Combine(root, "guest", "out");
        BuildResult result = await RunBuildScriptAsync(root, outDir, environment).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"guest/build-guest.sh failed with exit code {result.ExitCode}:\n{result.Output}");
        }
        var guest = new TestGuest(root, outDir);
        if (!File.Exists(guest.CompressedKernelPath) || !File.Exists(guest.InitrdPath))
        {
            throw new InvalidOperationException($"guest/build-guest.sh succeeded but left no guest in {outDir}:\n{result.Output}");
        }
        return guest;
    }

    /// <summary>Runs guest/build-guest.sh and returns its exit code and combined output, without judging them.</summary>
    public static async Task<BuildResult> RunBuildScriptAsync(string repoRoot, string outDir, IReadOnlyDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(Path.Combine(repoRoot, "guest", "build-guest.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(outDir);
        if (environment is not null)
        {
            foreach (KeyValuePair<string, string> pair in environment)
            {
                start.Environment[pair.Key] = pair.Value;
            }
        }
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start guest/build-guest.sh");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().ConfigureAwait(false);
        return new BuildResult(process.ExitCode, await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
    }

    /// <summary>The directory holding Vireo.sln (see <see cref="RepoPaths"/>).</summary>
    public static string FindRepoRoot() => RepoPaths.Root;
}

/// <summary>Exit code and combined stdout/stderr of one build-script run.</summary>
public sealed record BuildResult(int ExitCode, string Output);
