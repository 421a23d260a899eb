using Vireo.Engine.Networks;
using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Networks;
using Vireo.Net.Namespaces;

namespace Vireo.Engine.Tests.Networks;

/// <summary>
/// Definitions, refusals and persistent updates: everything here is decided before any bridge, process or rule
/// exists, so it runs in the test's own namespace without changing it (starting networks is tested in
/// Vireo.Integration/Networks, inside namespaces).
/// </summary>
public sealed class NetworkManagerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vireo-net-").FullName;
    private readonly NetNamespace _ns = NetNamespace.Create($"vtb-{Environment.ProcessId}-{Random.Shared.Next(100000)}");
    private readonly NetworkManager _nets;

    public NetworkManagerTests()
    {
        // Host checks look at a fresh namespace: only a loopback, no routes — the same on every machine.
        _nets = new NetworkManager(new VireoPaths(_root, Path.Combine(_root, "run"))) { HostChecksNamespace = _ns };
    }

    public void Dispose()
    {
        _ns.Delete();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void SubnetCollidingWithARouteIsRefused()
    {
        using (var nl = _ns.OpenRtNetlink())
        {
            nl.CreateBridge("vtb-d0");
            nl.AddAddress("vtb-d0", System.Net.IPAddress.Parse("198.51.100.7"), 25);
            nl.SetUp("vtb-d0");
        }

        var e = Assert.Throws<VireoException>(() => _nets.Define(Isolated("r", "vtb-r", "198.51.100")));
        Assert.Contains("subnet 198.51.100.0/24 collides with the existing route 198.51.100.0/25 dev vtb-d0", e.Message, StringComparison.Ordinal);
        Assert.Empty(_nets.List());
    }

    private static string Isolated(string name, string bridge, string subnet = "192.0.2") => $"""
        <network>
          <name>{name}</name>
          <bridge name='{bridge}'/>
          <ip address='{subnet}.1' netmask='255.255.255.0'>
            <dhcp>
              <range start='{subnet}.100' end='{subnet}.200'/>
              <host mac='52:54:00:00:00:01' name='g1' ip='{subnet}.11'/>
            </dhcp>
          </ip>
        </network>
        """;

    [Fact]
    public void DefineListDumpUndefine()
    {
        var def = _nets.Define(Isolated("lab", "vtb-lab0"));
        var info = Assert.Single(_nets.List());
        Assert.Equal("lab", info.Name);
        Assert.False(info.Active);
        Assert.True(info.Persistent);
        Assert.Equal("vtb-lab0", info.Bridge);
        Assert.Equal(def.Uuid, NetworkXml.Parse(NetworkXml.ToXml(_nets.GetDefinition("lab"))).Uuid);

        _nets.SetAutostart("lab", true);
        Assert.True(_nets.GetInfo("lab").Autostart);
        _nets.Undefine("lab");
        Assert.Empty(_nets.List());
        Assert.False(File.Exists(Path.Combine(_root, "networks", "lab.autostart")));
    }

    [Fact]
    public void RedefineKeepsTheUuid()
    {
        var first = _nets.Define(Isolated("lab", "vtb-lab0"));
        var second = _nets.Define(Isolated("lab", "vtb-lab1"));
        Assert.Equal(first.Uuid, second.Uuid);
        Assert.Equal("vtb-lab1", _nets.GetInfo("lab").Bridge);
    }

    [Fact]
    public void MissingBridgeNameGetsAFreeVirbr()
    {
        var def = _nets.Define("<network><name>n</name><forward mode='nat'/><ip address='198.51.100.1' prefix='24'/></network>");
        Assert.StartsWith("virbr", def.Bridge!.Name, StringComparison.Ordinal);
    }

    [Fact]
    public void SubnetCollidingWithAnotherNetworkIsRefused()
    {
        _nets.Define(Isolated("a", "vtb-a"));
        var e = Assert.Throws<VireoException>(() => _nets.Define(Isolated("b", "vtb-b")));
        Assert.Contains("subnet 192.0.2.0/24 collides with 192.0.2.0/24 of network 'a'", e.Message, StringComparison.Ordinal);
        Assert.Single(_nets.List());
    }

    [Fact]
    public void BridgeNameOfAnotherNetworkIsRefused()
    {
        _nets.Define(Isolated("a", "vtb-same"));
        var e = Assert.Throws<VireoException>(() => _nets.Define(Isolated("b", "vtb-same", "198.51.100")));
        Assert.Contains("<bridge name> 'vtb-same' is already used by network 'a'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BridgeNameOfAnExistingInterfaceIsRefused()
    {
        var e = Assert.Throws<VireoException>(() => _nets.Define(Isolated("a", "lo")));
        Assert.Contains("<bridge name> 'lo' is in use by an existing interface", e.Message, StringComparison.Ordinal);
        Assert.Empty(_nets.List());
    }

    [Fact]
    public void MissingForwardDevIsRefused()
    {
        var e = Assert.Throws<VireoException>(() => _nets.Define(
            "<network><name>n</name><forward mode='nat' dev='vtb-nosuch0'/><bridge name='vtb-n'/><ip address='203.0.113.1' prefix='24'/></network>"));
        Assert.Contains("<forward dev> 'vtb-nosuch0' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLongBridgeNameIsRefused()
    {
        var e = Assert.Throws<VireoException>(() => _nets.Define(Isolated("a", "vtb-much-too-long")));
        Assert.Contains("must be 1 to 15 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StartingAnUndefinedNetworkIsNotFound()
    {
        var e = Assert.ThrowsAsync<VireoException>(() => _nets.StartAsync("nosuch")).GetAwaiter().GetResult();
        Assert.Equal(ErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public void InterfaceOnAnInactiveNetworkNamesIt()
    {
        _nets.Define(Isolated("lab", "vtb-lab0"));
        var e = Assert.Throws<VireoException>(() => _nets.GetActive("lab"));
        Assert.Equal(ErrorKind.InvalidState, e.Kind);
        Assert.Contains("network 'lab' is not active", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NetUpdateConfigAddsAndDeletesHosts()
    {
        _nets.Define(Isolated("lab", "vtb-lab0"));
        _nets.UpdateDhcpHost("lab", NetworkUpdateCommand.Add, "<host mac='52:54:00:00:00:02' name='g2' ip='192.0.2.12'/>", live: false, config: true);
        Assert.Equal(2, _nets.GetDefinition("lab").Ips[0].Hosts.Count);

        var dup = Assert.Throws<VireoException>(() => _nets.UpdateDhcpHost("lab", NetworkUpdateCommand.Add,
            "<host mac='52:54:00:00:00:03' ip='192.0.2.12'/>", live: false, config: true));
        Assert.Contains("192.0.2.12", dup.Message, StringComparison.Ordinal);
        var outside = Assert.Throws<VireoException>(() => _nets.UpdateDhcpHost("lab", NetworkUpdateCommand.Add,
            "<host mac='52:54:00:00:00:04' ip='203.0.113.4'/>", live: false, config: true));
        Assert.Contains("outside the subnet", outside.Message, StringComparison.Ordinal);

        _nets.UpdateDhcpHost("lab", NetworkUpdateCommand.Delete, "<host mac='52:54:00:00:00:01'/>", live: false, config: true);
        var host = Assert.Single(_nets.GetDefinition("lab").Ips[0].Hosts);
        Assert.Equal("g2", host.Name);

        var live = Assert.Throws<VireoException>(() => _nets.UpdateDhcpHost("lab", NetworkUpdateCommand.Add,
            "<host mac='52:54:00:00:00:05' ip='192.0.2.15'/>", live: true, config: false));
        Assert.Contains("not active", live.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LinkNamesAreChecked()
    {
        var links = new LinkManager(_nets);
        var e = Assert.ThrowsAsync<VireoException>(() => links.CreateAsync("fourteen-bytes",
            new LinkEnd(LinkEndKind.Host, null, []), new LinkEnd(LinkEndKind.Netns, "x", []))).GetAwaiter().GetResult();
        Assert.Contains("at most 13 bytes", e.Message, StringComparison.Ordinal);
        var inactive = Assert.ThrowsAsync<VireoException>(() => links.CreateAsync("l1",
            new LinkEnd(LinkEndKind.Network, "nosuch", []), new LinkEnd(LinkEndKind.Host, null, []))).GetAwaiter().GetResult();
        Assert.Equal(ErrorKind.NotFound, inactive.Kind);
        Assert.Empty(links.List());
    }
}
