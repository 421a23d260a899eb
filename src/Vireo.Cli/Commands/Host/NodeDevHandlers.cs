using Vireo.Host;
using Vireo.Host.Xml;
using Vireo.Model;

namespace Vireo.Cli.Commands.Host;

/// <summary>nodedev-list, -dumpxml, -detach and -reattach over the host's PCI, net and storage devices.</summary>
internal static class NodeDevHandlers
{
    public static Task<int> List(CommandContext ctx)
    {
        HostHandlers.NoPositionals(ctx);
        var root = HostEnvironment.Root;
        var facts = Vireo.Host.Discovery.HostDiscovery.Discover(root);
        var devices = NodeDevices.List(root, facts);
        var caps = (ctx.Args.Value("cap") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string c in caps)
        {
            if (!NodeDevices.Capabilities.Contains(c))
            {
                throw VireoException.Invalid($"capability '{c}' is not one of {string.Join(", ", NodeDevices.Capabilities)}");
            }
        }

        var shown = caps.Length == 0 ? devices : [.. devices.Where(d => caps.Contains(d.Capability))];
        if (ctx.Args.Has("tree") && caps.Length > 0)
        {
            throw VireoException.Invalid("options --tree and --cap are mutually exclusive");
        }

        if (ctx.Json)
        {
            Output.JsonArray(ctx.Out, shown, (w, d) =>
            {
                w.WriteString("name", d.Name);
                w.WriteString("capability", d.Capability);
                HostFactsJsonHelpers.StringOrNull(w, "parent", d.Parent);
                HostFactsJsonHelpers.StringOrNull(w, "path", d.SysfsPath);
                if (d.Capability == "pci" && facts.PciDevices.FirstOrDefault(p => p.Name == d.Name) is { } pci)
                {
                    HostFactsJsonHelpers.StringOrNull(w, "driver", pci.Driver);
                    if (pci.IommuGroup is int g)
                    {
                        w.WriteNumber("iommuGroup", g);
                    }

                    if (pci.Sriov is { } s)
                    {
                        w.WriteNumber("sriovTotalVfs", s.TotalVfs);
                        w.WriteNumber("sriovNumVfs", s.NumVfs);
                    }

                    if (pci.PhysicalFunction is PciAddress pf)
                    {
                        w.WriteString("physicalFunction", pf.NodeDeviceName);
                    }
                }

            });
            return Task.FromResult(0);
        }

        if (ctx.Args.Has("tree"))
        {
            PrintTree(ctx.Out, devices, NodeDevices.Computer, "");
            return Task.FromResult(0);
        }

        foreach (var d in shown)
        {
            ctx.Out.WriteLine(d.Name);
        }

        ctx.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> DumpXml(CommandContext ctx)
    {
        var (root, facts, device) = Resolve(ctx, "nodedev-dumpxml");
        string xml = NodeDevices.DumpXml(root, facts, device);
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("name", device.Name);
                w.WriteString("xml", xml);
                w.WriteEndObject();
            });
        }
        else
        {
            ctx.Out.Write(xml);
        }

        return Task.FromResult(0);
    }

    public static Task<int> Detach(CommandContext ctx)
    {
        string driver = ctx.Args.Value("driver") ?? "vfio";
        if (driver != "vfio")
        {
            throw VireoException.Unsupported($"driver '{driver}': only vfio device assignment is supported");
        }

        var (root, _, device) = Resolve(ctx, "nodedev-detach");
        var address = PciDevice(device);
        bool changed = PciBinding.Detach(root, address);
        return Done(ctx, device.Name, changed ? "detached" : "detached (it already was bound to vfio-pci)");
    }

    public static Task<int> Reattach(CommandContext ctx)
    {
        var (root, _, device) = Resolve(ctx, "nodedev-reattach");
        var address = PciDevice(device);
        bool changed = PciBinding.Reattach(root, address);
        return Done(ctx, device.Name, changed ? "re-attached" : "re-attached (it was not detached)");
    }

    private static Task<int> Done(CommandContext ctx, string name, string what)
    {
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("device", name);
                w.WriteString("result", what);
                w.WriteEndObject();
            });
        }
        else
        {
            ctx.Out.WriteLine($"Device {name} {what}");
            ctx.Out.WriteLine();
        }

        return Task.FromResult(0);
    }

    private static PciAddress PciDevice(NodeDevice device) =>
        device.Capability == "pci"
            ? PciAddress.ParseDeviceName(device.Name)
            : throw VireoException.Invalid($"device '{device.Name}' is a {device.Capability} device; only PCI devices can be detached");

    private static (HostRoot Root, HostFacts Facts, NodeDevice Device) Resolve(CommandContext ctx, string command)
    {
        int pos = 0;
        string name = ctx.Args.Required("device", ref pos, "<device>");
        ctx.Args.NoMorePositionals(pos, command);
        var root = HostEnvironment.Root;
        var facts = Vireo.Host.Discovery.HostDiscovery.Discover(root);
        return (root, facts, NodeDevices.Find(NodeDevices.List(root, facts), name));
    }

    /// <summary>virsh's --tree layout: "+- child" under "|" rails, a blank rail line after each nested group.</summary>
    private static void PrintTree(TextWriter w, IReadOnlyList<NodeDevice> all, string name, string indent)
    {
        w.WriteLine(name);
        var children = all.Where(d => d.Parent == name).ToList();
        if (children.Count == 0)
        {
            return;
        }

        w.WriteLine($"{indent}  |");
        for (int i = 0; i < children.Count; i++)
        {
            bool last = i == children.Count - 1;
            w.Write($"{indent}  +- ");
            PrintTree(w, all, children[i].Name, indent + (last ? "    " : "  | "));
            if (!last && all.Any(d => d.Parent == children[i].Name))
            {
                w.WriteLine($"{indent}  |");
            }
        }

        if (indent.Length == 0)
        {
            w.WriteLine();
        }
    }
}
