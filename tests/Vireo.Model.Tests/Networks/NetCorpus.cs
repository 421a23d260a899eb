namespace Vireo.Model.Tests.Networks;

/// <summary>libvirt's network test data, read in place from ../shared/reference beside the repository.</summary>
internal static class NetCorpus
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

    public static TheoryData<string> Files(string sub)
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(Dir(sub), "*.xml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(f));
        }

        return data;
    }
}
