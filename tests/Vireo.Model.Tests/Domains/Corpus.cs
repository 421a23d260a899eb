using System.Runtime.CompilerServices;

namespace Vireo.Model.Tests.Domains;

/// <summary>libvirt's qemuxml test corpus under ../shared/reference, found from the repo root.</summary>
internal static class Corpus
{
    /// <summary>The directory holding Vireo.sln: above the test binaries, else above this source file (builds may put binaries anywhere).</summary>
    public static string RepoRoot => Find(AppContext.BaseDirectory) ?? Find(SourceDir()) ??
        throw new InvalidOperationException("Vireo.sln not found above " + AppContext.BaseDirectory);

    private static string SourceDir([CallerFilePath] string source = "") => Path.GetDirectoryName(source) ?? "/";

    private static string? Find(string start)
    {
        string? dir = start;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Vireo.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir;
    }

    public static string Reference => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "reference", "libvirt"));

    public static string QemuXml => Path.Combine(Reference, "qemuxml");

    /// <summary>The input XML files (not the .x86_64-latest.xml outputs).</summary>
    public static IEnumerable<string> Inputs() =>
        Directory.EnumerateFiles(QemuXml, "*.xml").Where(f => !f.EndsWith(".x86_64-latest.xml", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    public static string Name(string path) => Path.GetFileNameWithoutExtension(path);
}
