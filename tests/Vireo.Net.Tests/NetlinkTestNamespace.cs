using Vireo.Net.Namespaces;
using Vireo.Net.Netlink;

namespace Vireo.Net.Tests;

/// <summary>
/// Every network test runs inside its own freshly created namespace, deleted on Dispose; the assertions at the end
/// prove nothing leaked (the namespace file and mount are gone and <c>ip netns list</c> no longer shows it).
/// </summary>
internal sealed class NetlinkTestNamespace : IDisposable
{
    public NetlinkTestNamespace(string tag = "t")
    {
        Namespace = NetNamespace.Create(UniqueName(tag));
        try
        {
            Rtnl = Namespace.OpenRtNetlink();
            Rtnl.SetUp("lo");
        }
        catch
        {
            Namespace.Delete();
            throw;
        }
    }

    public NetNamespace Namespace { get; }

    public RtNetlink Rtnl { get; }

    public string Name => Namespace.Name;

    public static string UniqueName(string tag) => $"vireo-{tag}-{Guid.NewGuid():N}"[..24];

    /// <summary>Asserts the namespace holds only the loopback: whatever the test made, it removed.</summary>
    public void AssertOnlyLoopback()
    {
        var links = Rtnl.ListLinks();
        Assert.True(links.Count == 1 && links[0].Name == "lo",
            $"links left in {Name}: {string.Join(", ", links.Select(l => l.Name))}");
    }

    public void Dispose()
    {
        Rtnl.Dispose();
        Namespace.Delete();
        Assert.False(File.Exists(Namespace.Path), $"{Namespace.Path} still exists");
        Assert.DoesNotContain(Name, NetNamespace.List());
        Assert.DoesNotContain(Name, File.ReadAllText("/proc/self/mountinfo"));
    }
}
