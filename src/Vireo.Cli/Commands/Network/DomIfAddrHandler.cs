using Vireo.Engine;
using Vireo.Engine.Domains;
using Vireo.Engine.Networks;
using Vireo.Model;

namespace Vireo.Cli.Commands.Network;

/// <summary><c>domifaddr</c>: a running domain's addresses, as dnsmasq leased them on Vireo's networks.</summary>
internal static class DomIfAddrHandler
{
    public static Task<int> Run(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        string source = c.Args.Value("source") ?? "lease";
        if (source != "lease")
        {
            throw source is "agent" or "arp"
                ? VireoException.Unsupported($"domifaddr --source '{source}' is not supported yet; use --source lease")
                : VireoException.Invalid($"--source '{source}' is not one of lease, agent, arp");
        }

        var domains = VireoEngine.Local.Domains;
        var info = domains.GetInfo(domain);
        if (info.Status.State is DomainState.Shutoff or DomainState.Crashed or DomainState.NoState)
        {
            throw VireoException.State($"domain '{info.Definition.Name}' is not running");
        }

        var live = domains.GetDefinition(info.Definition.Name, inactive: false);
        var rows = DomainInterfaceAddresses.FromLeases(live, NetworkHandlers.Networks, c.Args.Value("interface"));
        bool full = c.Args.Has("full");
        if (c.Json)
        {
            Output.JsonArray(c.Out, rows, (w, r) =>
            {
                w.WriteString("name", r.Name);
                w.WriteString("mac", r.Mac);
                w.WriteString("protocol", r.Protocol);
                w.WriteString("addr", r.Address);
                w.WriteNumber("prefix", r.Prefix);
            });
            return Task.FromResult(0);
        }

        // virsh prints an interface's name and MAC only on its first row unless --full.
        string? last = null;
        Output.Table(c.Out, ["Name", "MAC address", "Protocol", "Address"], rows.Select(r =>
        {
            bool first = full || r.Name != last;
            last = r.Name;
            return (IReadOnlyList<string>)[first ? r.Name : "-", first ? r.Mac : "-", r.Protocol, $"{r.Address}/{r.Prefix}"];
        }).ToList());
        return Task.FromResult(0);
    }
}
