using System.Runtime.CompilerServices;

namespace Vireo.Qemu.Tests.Conformance;

/// <summary>libvirt's qemuxml corpus (NAME.xml, NAME.x86_64-latest.args) read in place from ../shared/reference.</summary>
internal static class QemuXmlCorpus
{
    public static string RepoRoot => Find(AppContext.BaseDirectory) ?? Find(SourceDir()) ??
        throw new InvalidOperationException("Vireo.sln not found above " + AppContext.BaseDirectory);

    public static string Directory => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "reference", "libvirt", "qemuxml"));

    public static string Schemas => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "reference", "libvirt", "schemas"));

    public static IEnumerable<string> Cases() =>
        System.IO.Directory.EnumerateFiles(Directory, "*.xml")
            .Where(f => !f.EndsWith(".x86_64-latest.xml", StringComparison.Ordinal))
            .Select(f => Path.GetFileNameWithoutExtension(f))
            .Order(StringComparer.Ordinal);

    public static string Input(string name) => File.ReadAllText(Path.Combine(Directory, name + ".xml"));

    public static string? ExpectedArgs(string name)
    {
        string path = Path.Combine(Directory, name + ".x86_64-latest.args");
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

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
}
