using Vireo.Engine.Networks;
using Vireo.Model;
using Vireo.Model.Networks;

namespace Vireo.Cli.Commands.Network;

/// <summary>link-create, link-delete, link-list: veth pairs between networks, namespaces and the host.</summary>
internal static class LinkHandlers
{
    private static LinkManager Links => new(NetworkHandlers.Networks);

    public static async Task<int> Create(CommandContext c)
    {
        int pos = 0;
        string name = c.Args.Required("name", ref pos, "<name>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var addresses = c.Args.Values("address").Select(a => IpNetwork.TryParse(a, out var n) && a.Contains('/', StringComparison.Ordinal)
            ? n : throw VireoException.Invalid($"--address '{a}' is not an address with a prefix (e.g. 203.0.113.2/24)")).ToList();
        var ends = new List<LinkEnd>();
        ends.AddRange(c.Args.Values("network").Select(n => new LinkEnd(LinkEndKind.Network, n, [])));
        ends.AddRange(c.Args.Values("netns").Select(n => new LinkEnd(LinkEndKind.Netns, n, [])));
        if (c.Args.Has("host"))
        {
            ends.Add(new LinkEnd(LinkEndKind.Host, null, []));
        }

        if (ends.Count != 2)
        {
            throw VireoException.Invalid($"link-create needs exactly two ends (--network, --netns, --host); got {ends.Count}");
        }

        if (addresses.Count > 0)
        {
            // Addresses go to the namespace end, else to the host end; network ends use their bridge's addresses.
            int at = ends.FindIndex(e => e.Kind == LinkEndKind.Netns);
            at = at >= 0 ? at : ends.FindIndex(e => e.Kind == LinkEndKind.Host);
            if (at < 0)
            {
                throw VireoException.Invalid("--address needs a --netns or --host end to put the addresses on");
            }

            ends[at] = ends[at] with { Addresses = addresses };
        }

        var link = await Links.CreateAsync(name, ends[0], ends[1]).ConfigureAwait(false);
        c.Out.WriteLine($"Link {link.Name} created: {link.NameA} on {link.A}, {link.NameB} on {link.B}");
        c.Out.WriteLine();
        return 0;
    }

    public static async Task<int> Delete(CommandContext c)
    {
        int pos = 0;
        string name = c.Args.Required("name", ref pos, "<name>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        await Links.DeleteAsync(name).ConfigureAwait(false);
        c.Out.WriteLine($"Link {name} deleted");
        c.Out.WriteLine();
        return 0;
    }

    public static Task<int> List(CommandContext c)
    {
        c.Args.NoMorePositionals(0, c.Spec.Name);
        var links = Links.List();
        if (c.Json)
        {
            Output.JsonArray(c.Out, links, (w, l) =>
            {
                w.WriteString("name", l.Name);
                w.WriteBoolean("present", l.Present);
                foreach (var (key, ifname, end) in new[] { ("a", l.NameA, l.A), ("b", l.NameB, l.B) })
                {
                    w.WriteStartObject(key);
                    w.WriteString("interface", ifname);
                    w.WriteString("kind", end.Kind.ToString().ToLowerInvariant());
                    w.WriteString("target", end.Target);
                    w.WriteStartArray("addresses");
                    foreach (var a in end.Addresses)
                    {
                        w.WriteStringValue($"{a.Address}/{a.PrefixLength}");
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

            });
            return Task.FromResult(0);
        }

        Output.Table(c.Out, ["Name", "State", "End A", "End B"],
            links.Select(l => (IReadOnlyList<string>)[l.Name, l.Present ? "present" : "gone", $"{l.NameA}: {l.A}", $"{l.NameB}: {l.B}"]));
        return Task.FromResult(0);
    }
}
