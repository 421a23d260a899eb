using Vireo.Cli.Commands.Network;

namespace Vireo.Cli.Commands;

/// <summary>Networking commands: virsh's net-* set, <c>net-define-default</c>, and veth links.</summary>
internal static class NetworkCommands
{
    public const string Group = "Networking";

    private static readonly OptionSpec NetworkOpt = new("network", "network name", "network");
    private static readonly OptionSpec FileOpt = new("file", "file containing an XML network description", "file");
    private static readonly OptionSpec JsonOpt = new("json", "print JSON instead of text");

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("net-define", Group, "define (but don't start) a network from an XML file", "net-define <file>", [FileOpt], NetworkHandlers.Define),
        new("net-create", Group, "create (start) a transient network from an XML file", "net-create <file>", [FileOpt], NetworkHandlers.Create),
        new("net-start", Group, "start a (previously defined) inactive network", "net-start <network>", [NetworkOpt], NetworkHandlers.Start),
        new("net-destroy", Group, "destroy (stop) a network: its bridge, dnsmasq and firewall rules go", "net-destroy <network>", [NetworkOpt], NetworkHandlers.Destroy),
        new("net-undefine", Group, "undefine a persistent network", "net-undefine <network>", [NetworkOpt], NetworkHandlers.Undefine),
        new("net-autostart", Group, "autostart a network", "net-autostart <network> [--disable]",
            [NetworkOpt, new("disable", "disable autostarting")], NetworkHandlers.Autostart),
        new("net-list", Group, "list networks", "net-list [--all] [--inactive] [--name] [--uuid] [--json]",
            [
                new("all", "list inactive and active networks"),
                new("inactive", "list inactive networks"),
                new("persistent", "list persistent networks"),
                new("transient", "list transient networks"),
                new("autostart", "list networks with autostart enabled"),
                new("no-autostart", "list networks with autostart disabled"),
                new("name", "list network names only"),
                new("uuid", "list uuids only"),
                new("table", "list as a table (default)"),
                JsonOpt,
            ], NetworkHandlers.List),
        new("net-info", Group, "network information", "net-info <network> [--json]", [NetworkOpt, JsonOpt], NetworkHandlers.Info),
        new("net-uuid", Group, "convert a network name to its uuid", "net-uuid <network>", [NetworkOpt], NetworkHandlers.Uuid),
        new("net-dumpxml", Group, "network information in XML", "net-dumpxml <network> [--inactive]",
            [NetworkOpt, new("inactive", "show the persistent definition of an active network")], NetworkHandlers.DumpXml),
        new("net-edit", Group, "edit the XML configuration of a network with $EDITOR", "net-edit <network>", [NetworkOpt], NetworkHandlers.Edit),
        new("net-update", Group, "update parts of an existing network's configuration",
            "net-update <network> <add|delete|modify> ip-dhcp-host <xml|file> [--live] [--config] [--current] [--parent-index N]",
            [
                NetworkOpt,
                new("command", "add, delete or modify (add-last and add-first mean add)", "command"),
                new("section", "the section to change: ip-dhcp-host", "section"),
                new("xml", "the <host> element, or a file containing it", "xml"),
                new("parent-index", "which <ip> element (0-based) holds the host", "index"),
                new("live", "change the running network"),
                new("config", "change the persistent definition"),
                new("current", "change the running network if active, else the persistent one"),
            ], NetworkHandlers.Update),
        new("net-dhcp-leases", Group, "print lease info for a given network", "net-dhcp-leases <network> [--mac <mac>] [--json]",
            [NetworkOpt, new("mac", "only the lease of this MAC address", "mac"), JsonOpt], NetworkHandlers.DhcpLeases),
        new("domifaddr", Group, "a running domain's interface addresses (from the DHCP leases of its networks)",
            "domifaddr <domain> [--interface <name|mac>] [--full] [--source lease] [--json]",
            [
                new("domain", "domain name, id or uuid", "domain"),
                new("interface", "only this interface (its host name or MAC)", "name"),
                new("full", "repeat the name and MAC on every row"),
                new("source", "where addresses come from: lease (the default; agent and arp are not supported)", "source"),
                JsonOpt,
            ], DomIfAddrHandler.Run),
        new("net-define-default", Group, "define libvirt's 'default' network (NAT, virbr0, 192.168.122.0/24, DHCP)",
            "net-define-default [--name N] [--bridge BR] [--subnet CIDR] [--start] [--autostart]",
            [
                new("name", "network name (default: default)", "name"),
                new("bridge", "bridge name (default: virbr0)", "bridge"),
                new("subnet", "the host's address and prefix on the bridge (default: 192.168.122.1/24)", "cidr"),
                new("start", "also start it"),
                new("autostart", "also mark it autostart"),
            ], NetworkHandlers.DefineDefault)
        {
            Details = "Writes the same definition libvirt ships as /usr/share/libvirt/networks/default.xml: NAT through any\n" +
                "host interface, bridge virbr0, 192.168.122.1/24 with DHCP for .2-.254. Nothing is created until you run\n" +
                "this command; nothing is started unless --start is given.",
        },
        new("link-create", Group, "join two networks, or a network/the host and a namespace, with a veth pair",
            "link-create <name> (--network NET | --netns NS | --host) x2 [--address CIDR ...]",
            [
                new("name", "link name (at most 13 bytes; its interfaces are NAME-a and NAME-b)", "name"),
                new("network", "an end on this active network's bridge (repeatable)", "network"),
                new("netns", "an end inside this network namespace (ip netns)", "netns"),
                new("host", "an end left in the host namespace, not on any bridge"),
                new("address", "address (CIDR) for the netns end, or the host end when there is no netns end (repeatable)", "cidr"),
            ], LinkHandlers.Create)
        {
            Details = "Ends are taken in the order --network, --network, --netns, --host: the first is NAME-a, the second\n" +
                "NAME-b. Examples:\n" +
                "  vireo link-create lab1 --network red --network blue        # a cable between two networks\n" +
                "  vireo link-create up0 --network lan --netns outside         # a network plugged into a namespace\n" +
                "  vireo link-create wan0 --host --netns outside --address 203.0.113.2/24",
        },
        new("link-delete", Group, "delete a veth link (both ends)", "link-delete <name>",
            [new("name", "link name", "name")], LinkHandlers.Delete),
        new("link-list", Group, "list veth links", "link-list [--json]", [JsonOpt], LinkHandlers.List),
    ];
}
