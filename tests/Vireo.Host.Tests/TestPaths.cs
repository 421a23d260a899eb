using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Vireo.Host.Tests;

/// <summary>Where the repository, its fixtures and the shared reference data are, found by walking up to Vireo.sln.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "Vireo.Host.Tests", "Fixtures");

    public static string Expected => Path.Combine(Fixtures, "expected");

    public static string Schemas => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "reference", "libvirt", "schemas"));

    public static HostRoot Fixture(string name) => new(Path.Combine(Fixtures, name));

    /// <summary>Compares with a golden file; VIREO_UPDATE_GOLDEN=1 rewrites it instead (then review the diff).</summary>
    public static void AssertGolden(string name, string actual)
    {
        string path = Path.Combine(Expected, name);
        if (Environment.GetEnvironmentVariable("VIREO_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Expected);
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"golden file {path} is missing (run with VIREO_UPDATE_GOLDEN=1)");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    /// <summary>Copies a fixture tree, symlinks kept as symlinks, so a test can write into it.</summary>
    public static HostRoot CopyFixture(string name, string dest)
    {
        CopyTree(Path.Combine(Fixtures, name), dest);
        return new HostRoot(dest);
    }

    /// <summary>Runs xmllint --relaxng and returns its exit code and messages.</summary>
    public static (int Code, string Output) ValidateXml(string xml, string schema)
    {
        string file = Path.Combine(Path.GetTempPath(), $"vireo-host-{Guid.NewGuid():N}.xml");
        File.WriteAllText(file, xml);
        try
        {
            var psi = new ProcessStartInfo("xmllint") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string a in new[] { "--noout", "--relaxng", Path.Combine(Schemas, schema), file })
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, err);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static void CopyTree(string src, string dest)
    {
        Directory.CreateDirectory(dest);
        foreach (string entry in Directory.EnumerateFileSystemEntries(src))
        {
            string target = Path.Combine(dest, Path.GetFileName(entry));
            var info = new FileInfo(entry);
            if (info.LinkTarget is string link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (Directory.Exists(entry))
            {
                CopyTree(entry, target);
            }
            else
            {
                File.Copy(entry, target);
            }
        }
    }

    // Builds go to an --artifacts-path outside the tree, so start from this source file, then the output, then the cwd.
    private static string FindRepoRoot([CallerFilePath] string source = "")
    {
        foreach (string start in new[] { Path.GetDirectoryName(source) ?? "", AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = start.Length > 0 ? new DirectoryInfo(start) : null; dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Vireo.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Vireo.sln not found above " + source + " or " + AppContext.BaseDirectory);
    }
}
