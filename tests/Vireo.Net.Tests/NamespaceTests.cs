using System.Net;
using Vireo.Model;
using Vireo.Net.Namespaces;
using Vireo.Net.Netlink;

namespace Vireo.Net.Tests;

public sealed class NamespaceTests
{
    [Fact]
    public void Created_namespace_is_seen_by_ip_netns_and_deleted_without_trace()
    {
        string name = NetlinkTestNamespace.UniqueName("ns");
        NetNamespace ns = NetNamespace.Create(name);
        try
        {
            Assert.True(NetNamespace.Exists(name));
            Assert.Contains(name, NetNamespace.List());
            Assert.Contains(name, IpTool.Run("netns", "list"));
            // iproute2 can work inside it, and sees only a loopback.
            string links = IpTool.Run("-n", name, "-o", "link", "show");
            Assert.Single(links.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("shared:", MountInfoLine(NetNamespace.RunDirectory + " "));

            var again = Assert.Throws<VireoException>(() => NetNamespace.Create(name));
            Assert.Equal(ErrorKind.AlreadyExists, again.Kind);
            Assert.Equal($"network namespace '{name}' already exists", again.Message);
        }
        finally
        {
            ns.Delete();
        }
        Assert.False(NetNamespace.Exists(name));
        Assert.DoesNotContain(name, IpTool.Run("netns", "list"));
        Assert.DoesNotContain(name, File.ReadAllText("/proc/self/mountinfo"));
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<VireoException>(() => NetNamespace.Delete(name)).Kind);
        Assert.Equal(ErrorKind.NotFound, Assert.Throws<VireoException>(() => NetNamespace.Open(name)).Kind);
    }

    [Fact]
    public void A_namespace_made_by_ip_netns_is_usable_and_deletable_by_vireo()
    {
        string name = NetlinkTestNamespace.UniqueName("ip");
        IpTool.Run("netns", "add", name);
        try
        {
            NetNamespace ns = NetNamespace.Open(name);
            using RtNetlink rtnl = ns.OpenRtNetlink();
            rtnl.CreateBridge("vbr0");
            Assert.Contains("vbr0", IpTool.Run("-n", name, "link", "show"));
            rtnl.DeleteLink("vbr0");
        }
        finally
        {
            NetNamespace.Delete(name);
        }
        Assert.DoesNotContain(name, IpTool.Run("netns", "list"));
    }

    [Fact]
    public void Run_enters_the_namespace_on_its_own_thread_only()
    {
        using var t = new NetlinkTestNamespace("run");
        string hostNet = File.ReadAllText("/proc/thread-self/stat").Length > 0 ? NetInode("/proc/thread-self/ns/net") : "";
        string inside = t.Namespace.Run(() => NetInode("/proc/thread-self/ns/net"));
        string file = NetInode(t.Namespace.Path);
        Assert.Equal(file, inside);
        Assert.NotEqual(hostNet, inside);
        Assert.Equal(hostNet, NetInode("/proc/thread-self/ns/net")); // the caller never moved

        // A socket opened inside stays there: links made through it are the namespace's.
        using (RtNetlink here = RtNetlink.Open())
        {
            Assert.DoesNotContain(here.ListLinks(), l => l.Name == "vbrrun");
        }
        t.Rtnl.CreateBridge("vbrrun");
        Assert.True(t.Namespace.Run(() => { using var r = RtNetlink.Open(); return r.LinkExists("vbrrun"); }));
        t.Rtnl.DeleteLink("vbrrun");

        // Exceptions come back to the caller unchanged.
        var e = Assert.Throws<InvalidOperationException>(() => t.Namespace.Run(() => throw new InvalidOperationException("boom")));
        Assert.Equal("boom", e.Message);
        t.AssertOnlyLoopback();
    }

    [Fact]
    public void ExecArgv_runs_a_program_inside_without_a_shell()
    {
        using var t = new NetlinkTestNamespace("exec");
        t.Rtnl.CreateVeth("vx0", "vx1");
        t.Rtnl.AddAddress("vx0", IPAddress.Parse("192.0.2.77"), 24);
        var argv = t.Namespace.ExecArgv("ip", "-o", "addr", "show", "dev", "vx0");
        Assert.Equal(["nsenter", $"--net=/run/netns/{t.Name}", "--", "ip"], argv.Take(4));
        Assert.Contains("192.0.2.77/24", IpTool.Exec(argv[0], [.. argv.Skip(1)]));
        t.Rtnl.DeleteLink("vx0");
        t.AssertOnlyLoopback();
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("-x")]
    public void Bad_namespace_names_are_refused(string name)
    {
        var e = Assert.Throws<VireoException>(() => NetNamespace.Create(name));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("network namespace name", e.Message);
    }

    private static string NetInode(string path) => new FileInfo(path).Exists ? Stat(path) : throw new FileNotFoundException(path);

    // The inode of an nsfs file identifies the namespace; readlink gives "net:[INODE]" for /proc paths.
    private static string Stat(string path)
    {
        var link = new FileInfo(path).LinkTarget;
        if (link is not null)
        {
            return link;
        }
        return IpTool.Exec("stat", "-L", "-c", "net:[%i]", path).Trim();
    }

    private static string MountInfoLine(string contains) =>
        File.ReadAllLines("/proc/self/mountinfo").FirstOrDefault(l => l.Contains(contains)) ?? "";
}
