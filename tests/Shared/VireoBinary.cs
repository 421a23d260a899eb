namespace Vireo.Tests;

/// <summary>
/// The vireo CLI the tests run: <c>VIREO_EXE</c> when it names a file (scripts/test.sh sets it to the Native AOT
/// publish), else <c>./vireo</c> publishes it into .build/vireo (only when the sources changed).
/// </summary>
internal static class VireoBinary
{
    private static readonly Lazy<string> Binary = new(Find);

    public static string Path => Binary.Value;

    private static string Find()
    {
        string? env = Environment.GetEnvironmentVariable("VIREO_EXE");
        if (!string.IsNullOrEmpty(env) && File.Exists(env))
        {
            return env;
        }

        string repo = RepoPaths.Root;
        var (_, _, err) = Tool.Run(System.IO.Path.Combine(repo, "vireo"), "--version");
        string path = System.IO.Path.Combine(repo, ".build", "vireo", "vireo");
        return File.Exists(path) ? path : throw new InvalidOperationException($"./vireo did not produce {path}: {err}");
    }
}
