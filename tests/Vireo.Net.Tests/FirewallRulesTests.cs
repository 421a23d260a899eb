using Vireo.Model.Networks;
using Vireo.Net.Firewall;

namespace Vireo.Net.Tests;

/// <summary>
/// Vireo's rules against libvirt's by meaning: libvirt's nftables commands (its own tables, <c>iif</c>, rule-by-rule
/// inserts) are parsed into the same rule shape, replayed to get each chain's final order, and compared.
/// </summary>
public sealed class FirewallRulesTests
{
    public static TheoryData<string> Cases => DnsmasqCorpus.Names("networkxml2firewalldata", "*.xml", ".xml");

    [Theory]
    [MemberData(nameof(Cases))]
    public void RulesMeanWhatLibvirtsMean(string name)
    {
        string dir = DnsmasqCorpus.Dir("networkxml2firewalldata");
        var def = NetworkXml.Parse(File.ReadAllText(Path.Combine(dir, name + ".xml")));
        var expected = ParseLibvirt(File.ReadAllText(Path.Combine(dir, name + "-linux.nftables")));
        var actual = FirewallRules.Build(def, def.Bridge!.Name!)
            .GroupBy(r => (r.Family, r.Chain))
            .ToDictionary(g => g.Key, g => g.Select(Key).ToList());

        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (chain, rules) in expected)
        {
            Assert.Equal(rules.Order(StringComparer.Ordinal), actual[chain].Order(StringComparer.Ordinal));

            // Order matters among rules of one subnet (returns before masquerade), and the catch-all reject is last.
            foreach (var bySubnet in rules.GroupBy(SubnetOf))
            {
                var mine = actual[chain].Where(r => SubnetOf(r) == bySubnet.Key).ToList();
                Assert.Equal(bySubnet.ToList(), mine);
            }

            int firstReject = actual[chain].FindIndex(r => r.Contains("verdict=reject", StringComparison.Ordinal));
            Assert.True(firstReject < 0 || firstReject == actual[chain].Count - 1);
        }
    }

    [Fact]
    public void NatAddressAndPortRangesBecomeSnat()
    {
        var def = NetworkXml.Parse("""
            <network><name>n</name><forward mode='nat' dev='eth9'><nat><address start='203.0.113.10' end='203.0.113.20'/><port start='2000' end='3000'/></nat></forward>
            <bridge name='vbr1'/><ip address='192.0.2.1' prefix='24'/></network>
            """);
        var rules = FirewallRules.Build(def, "vbr1");
        var tcp = rules.Single(r => r.Chain == FirewallChain.Nat && r.L4Proto == "tcp");
        Assert.Equal("meta l4proto tcp oifname \"eth9\" ip saddr 192.0.2.0/24 ip daddr != 192.0.2.0/24 counter snat ip to 203.0.113.10-203.0.113.20:2000-3000", NftTable.Render(tcp));
        var all = rules.Single(r => r.Chain == FirewallChain.Nat && r.L4Proto is null && r.Verdict == FirewallVerdict.Snat);
        Assert.EndsWith("snat ip to 203.0.113.10-203.0.113.20", NftTable.Render(all), StringComparison.Ordinal);
        Assert.Contains(rules, r => r.Chain == FirewallChain.Output && r.OutInterface == "eth9" && r.InInterface == "vbr1");
    }

    [Fact]
    public void OpenAndHostBridgeNetworksHaveNoRules()
    {
        Assert.Empty(FirewallRules.Build(NetworkXml.Parse("<network><name>o</name><forward mode='open'/><bridge name='b'/><ip address='192.0.2.1' prefix='24'/></network>"), "b"));
        Assert.Empty(FirewallRules.Build(NetworkXml.Parse("<network><name>h</name><forward mode='bridge'/><bridge name='br0'/></network>"), "br0"));
    }

    [Fact]
    public void EmptyScriptOnlyRemovesVireosTable()
    {
        string script = NftTable.Script([]);
        Assert.Equal(["table inet vireo", "delete table inet vireo"], script.Split('\n').Where(l => l.Length > 0 && l[0] != '#'));
    }

    private static string SubnetOf(string key)
    {
        var t = key.Split(' ');
        string src = t.First(x => x.StartsWith("src=", StringComparison.Ordinal))[4..];
        return src.Length > 0 ? src : t.First(x => x.StartsWith("dst=", StringComparison.Ordinal))[4..];
    }

    private static string Key(FirewallRule r) => string.Join(' ', new[]
    {
        $"in={r.InInterface}", $"out={r.OutInterface}", $"src={r.Source}",
        $"dst={(r.DestinationNot ? "!" : "")}{r.Destination}", $"ct={r.CtState}", $"proto={r.L4Proto}",
        $"verdict={r.Verdict.ToString().ToLowerInvariant()}", $"ports={r.NatPorts}",
    });

    /// <summary>libvirt's "nft -ae insert rule FAMILY libvirt_network CHAIN …" commands, replayed into final chain order.</summary>
    private static Dictionary<(FirewallFamily, FirewallChain), List<string>> ParseLibvirt(string text)
    {
        var chains = new Dictionary<(FirewallFamily, FirewallChain), List<string>>();
        foreach (string cmd in text.Replace(" \\\n", " ", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var t = cmd.Replace("'", "", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["nft", "-ae", "insert", "rule"], t[..4]);
            var family = t[4] == "ip" ? FirewallFamily.Ip : FirewallFamily.Ip6;
            var chain = t[6] switch
            {
                "guest_output" => FirewallChain.Output,
                "guest_input" => FirewallChain.Input,
                "guest_cross" => FirewallChain.Cross,
                "guest_nat" => FirewallChain.Nat,
                var c => throw new InvalidDataException(c),
            };
            string? inIf = null, outIf = null, src = null, dst = null, ct = null, proto = null, verdict = null, ports = null;
            bool not = false;
            for (int i = 7; i < t.Length; i++)
            {
                switch (t[i])
                {
                    case "iif": inIf = t[++i]; break;
                    case "oif": outIf = t[++i]; break;
                    case "ip" or "ip6" when t[i + 1] == "saddr": src = t[i + 2]; i += 2; break;
                    case "ip" or "ip6" when t[i + 1] == "daddr":
                        i += 2;
                        if (t[i] == "!=")
                        {
                            not = true;
                            i++;
                        }

                        dst = t[i];
                        break;
                    case "ct": ct = t[i + 2]; i += 2; break;
                    case "meta": proto = t[i + 2]; i += 2; break;
                    case "counter": break;
                    case "to": ports = t[++i].TrimStart(':'); break;
                    default: verdict = t[i]; break;
                }
            }

            string key = string.Join(' ', new[]
            {
                $"in={inIf}", $"out={outIf}", $"src={src}", $"dst={(not ? "!" : "")}{dst}", $"ct={ct}", $"proto={proto}",
                $"verdict={verdict}", $"ports={ports}",
            });
            if (!chains.TryGetValue((family, chain), out var list))
            {
                chains[(family, chain)] = list = [];
            }

            list.Insert(0, key);
        }

        return chains;
    }
}
