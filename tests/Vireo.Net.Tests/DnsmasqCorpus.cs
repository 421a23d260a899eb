namespace Vireo.Net.Tests;

/// <summary>libvirt's network test data (dnsmasq configs, firewall rules), read in place beside the repository.</summary>
internal static class DnsmasqCorpus
{
    public static string Dir(string sub)
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Vireo.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        Assert.NotNull(dir);
        string path = Path.GetFullPath(Path.Combine(dir!, "..", "shared", "reference", "libvirt", "netxml", sub));
        Assert.True(Directory.Exists(path), $"reference data missing: {path}");
        return path;
    }

    public static TheoryData<string> Names(string sub, string pattern, string suffix)
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(Dir(sub), pattern).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f)[..^suffix.Length]);
        }

        return data;
    }
}
