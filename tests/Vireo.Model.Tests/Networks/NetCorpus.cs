using Vireo.Tests;

namespace Vireo.Model.Tests.Networks;

/// <summary>libvirt's network test data, read in place from ../shared/reference beside the repository.</summary>
internal static class NetCorpus
{
    public static string Dir(string sub) => RepoPaths.Libvirt("netxml", sub);

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
