using Vireo.Tests;

namespace Vireo.Net.Tests;

/// <summary>libvirt's network test data (dnsmasq configs, firewall rules), read in place beside the repository.</summary>
internal static class DnsmasqCorpus
{
    public static string Dir(string sub) => RepoPaths.Libvirt("netxml", sub);

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
