using System.Runtime.CompilerServices;

namespace Vireo.Tests;

/// <summary>
/// Where the repository and the shared reference data are, for every test project (linked in by
/// tests/Directory.Build.props). $VIREO_REPO_ROOT wins; else the first Vireo.sln above the test assembly, this
/// source file (builds with --artifacts-path put the assembly outside the tree) or the working directory.
/// </summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> RootDir = new(() => Find());

    public static string Root => RootDir.Value;

    /// <summary>../shared/reference beside the repository: specifications and libvirt's test data, read in place.</summary>
    public static string Reference => Path.GetFullPath(Path.Combine(Root, "..", "shared", "reference"));

    /// <summary>A directory of libvirt's test data (qemuxml, netxml/..., storagexml, schemas), which must exist.</summary>
    public static string Libvirt(params string[] parts)
    {
        string path = Path.Combine([Reference, "libvirt", .. parts]);
        return Directory.Exists(path) ? path : throw new DirectoryNotFoundException($"reference data missing: {path}");
    }

    private static string Find([CallerFilePath] string source = "")
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("VIREO_REPO_ROOT");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(source) ?? "", Directory.GetCurrentDirectory() })
        {
            for (var dir = start.Length > 0 ? new DirectoryInfo(start) : null; dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Vireo.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException(
            $"no Vireo.sln above {AppContext.BaseDirectory}, {source} or {Directory.GetCurrentDirectory()}; set VIREO_REPO_ROOT");
    }
}
