using System.Xml.Linq;
using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Networks;

namespace Vireo.Engine.Networks;

/// <summary>Where a network is in its life, as its runtime record says.</summary>
public enum NetworkRunState
{
    /// <summary>Written before anything is created: if it is found by a later command, the start died half-way.</summary>
    Starting,
    Active,
    /// <summary>Written before teardown begins: a later command finishes the teardown.</summary>
    Stopping,
}

/// <summary>
/// The runtime record of an active network (<c>RunNetworks/NAME/status.xml</c>): its state, the bridge it owns
/// and the live definition. It is an intent log as much as a status: every resource is named in it before it is
/// created, so reconciliation after a SIGKILL knows exactly what to remove.
/// </summary>
public sealed record NetworkRecord(NetworkRunState State, string? Bridge, bool OwnsBridge, bool Persistent, NetworkDefinition Definition)
{
    public string ToXml()
    {
        var root = new XElement("networkstatus",
            new XAttribute("state", State.ToString().ToLowerInvariant()),
            new XAttribute("persistent", Persistent ? "yes" : "no"),
            new XAttribute("ownsBridge", OwnsBridge ? "yes" : "no"));
        if (Bridge is not null)
        {
            root.Add(new XAttribute("bridge", Bridge));
        }

        root.Add(XElement.Parse(NetworkXml.ToXml(Definition)));
        return root.ToString() + "\n";
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToXml());

    public static NetworkRecord? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var root = SafeXml.Parse(File.ReadAllText(path), $"network status {path}").Root!;
        var netEl = root.Element("network") ?? throw new VireoException(ErrorKind.Corrupt, $"network status {path} has no <network>");
        var state = (string?)root.Attribute("state") switch
        {
            "starting" => NetworkRunState.Starting,
            "active" => NetworkRunState.Active,
            "stopping" => NetworkRunState.Stopping,
            var s => throw new VireoException(ErrorKind.Corrupt, $"network status {path}: unknown state '{s}'"),
        };
        return new NetworkRecord(
            state,
            (string?)root.Attribute("bridge"),
            (string?)root.Attribute("ownsBridge") == "yes",
            (string?)root.Attribute("persistent") == "yes",
            NetworkXml.Parse(netEl.ToString()));
    }
}

/// <summary>The files of one network under <see cref="VireoPaths.RunNetworks"/>.</summary>
public sealed class NetworkRunFiles
{
    public NetworkRunFiles(VireoPaths paths, string name)
    {
        Directory = Path.Combine(paths.RunNetworks, name);
    }

    public string Directory { get; }

    public string Status => Path.Combine(Directory, "status.xml");

    public string DnsmasqConf => Path.Combine(Directory, "dnsmasq.conf");

    public string DnsmasqPid => Path.Combine(Directory, "dnsmasq.pid");

    public string Leases => Path.Combine(Directory, "dnsmasq.leases");

    public string HostsFile => Path.Combine(Directory, "dnsmasq.hostsfile");

    public string AddnHosts => Path.Combine(Directory, "dnsmasq.addnhosts");
}
