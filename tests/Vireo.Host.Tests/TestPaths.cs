using System.Diagnostics;
using Vireo.Tests;

namespace Vireo.Host.Tests;

/// <summary>Where the repository, its fixtures and the shared reference data are, found by walking up to Vireo.sln.</summary>
internal static class TestPaths
{
    public static string RepoRoot => RepoPaths.Root;

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "Vireo.Host.Tests", "Fixtures");

    public static string Expected => Path.Combine(Fixtures, "expected");

    public static string Schemas => RepoPaths.Libvirt("schemas");

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
}
