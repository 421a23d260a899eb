using System.Globalization;
using Vireo.Host;
using Vireo.Host.Xml;
using Vireo.Model;

namespace Vireo.Cli.Commands.Host;

/// <summary>Handlers of the host commands: read facts, print them as virsh does or as JSON.</summary>
internal static partial class HostHandlers
{
    public static Task<int> Capabilities(CommandContext ctx)
    {
        NoPositionals(ctx);
        var facts = HostEnvironment.Facts();
        var guests = HostEnvironment.Guests();
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WritePropertyName("host");
                HostFactsJson.Write(w, facts);
                w.WriteStartArray("guests");
                foreach (var g in guests)
                {
                    w.WriteStartObject();
                    w.WriteString("arch", g.Arch);
                    w.WriteString("emulator", g.Emulator);
                    w.WriteStartArray("machines");
                    foreach (var m in g.Machines)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", m.Name);
                        HostFactsJsonHelpers.StringOrNull(w, "alias", m.Alias);
                        w.WriteBoolean("default", m.IsDefault);
                        w.WriteBoolean("deprecated", m.Deprecated);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteStartArray("domainTypes");
                    foreach (string t in g.DomainTypes)
                    {
                        w.WriteStringValue(t);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        ctx.Out.Write(CapabilitiesXml.Format(facts, guests));
        return Task.FromResult(0);
    }

    public static Task<int> NodeInfo(CommandContext ctx)
    {
        NoPositionals(ctx);
        var f = HostEnvironment.Facts();
        int cpus = f.OnlineCpus.Count;
        long mhz = (long)Math.Round(f.Cpu.Mhz ?? 0);
        // virsh's "CPU socket(s)" is sockets per NUMA cell.
        int socketsPerCell = Math.Max(1, f.Cpu.Sockets / Math.Max(1, f.Cells.Count));
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("cpuModel", f.Cpu.Arch);
                w.WriteNumber("cpus", cpus);
                w.WriteNumber("cpuFrequencyMHz", mhz);
                w.WriteNumber("cpuSockets", socketsPerCell);
                w.WriteNumber("coresPerSocket", f.Cpu.CoresPerSocket);
                w.WriteNumber("threadsPerCore", f.Cpu.ThreadsPerCore);
                w.WriteNumber("numaCells", f.Cells.Count);
                w.WriteNumber("memoryKiB", f.MemoryKiB);
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        var rows = new (string, string)[]
        {
            ("CPU model:", f.Cpu.Arch),
            ("CPU(s):", I(cpus)),
            ("CPU frequency:", $"{I(mhz)} MHz"),
            ("CPU socket(s):", I(socketsPerCell)),
            ("Core(s) per socket:", I(f.Cpu.CoresPerSocket)),
            ("Thread(s) per core:", I(f.Cpu.ThreadsPerCore)),
            ("NUMA cell(s):", I(f.Cells.Count)),
            ("Memory size:", $"{I(f.MemoryKiB)} KiB"),
        };
        foreach (var (k, v) in rows)
        {
            ctx.Out.WriteLine($"{k,-21}{v}");
        }

        ctx.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> FreeCell(CommandContext ctx)
    {
        int pos = 0;
        string? cellText = ctx.Args.Optional("cellno", ref pos);
        ctx.Args.NoMorePositionals(pos, "freecell");
        var f = HostEnvironment.Facts();
        bool all = ctx.Args.Has("all");
        if (all && cellText is not null)
        {
            throw VireoException.Invalid("options --cellno and --all are mutually exclusive");
        }

        var cells = cellText is null ? f.Cells : [Cell(f, cellText)];
        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("cells");
                foreach (var c in cells)
                {
                    w.WriteStartObject();
                    w.WriteNumber("cell", c.Id);
                    w.WriteNumber("freeKiB", c.FreeKiB);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteNumber("totalFreeKiB", cells.Sum(c => c.FreeKiB));
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        if (cellText is not null)
        {
            ctx.Out.WriteLine($"{I(cells[0].Id)}: {I(cells[0].FreeKiB)} KiB");
        }
        else if (all)
        {
            foreach (var c in cells)
            {
                ctx.Out.WriteLine($"{I(c.Id),5}: {I(c.FreeKiB),10} KiB");
            }

            ctx.Out.WriteLine("--------------------");
            ctx.Out.WriteLine($"{"Total",5}: {I(cells.Sum(c => c.FreeKiB)),10} KiB");
        }
        else
        {
            // libvirt sums the NUMA nodes' free memory, so freecell and freecell --all agree.
            ctx.Out.WriteLine($"Total: {I(f.Cells.Count > 0 ? f.Cells.Sum(c => c.FreeKiB) : f.FreeMemoryKiB)} KiB");
        }

        return Task.FromResult(0);
    }

    public static Task<int> FreePages(CommandContext ctx)
    {
        int pos = 0;
        string? cellText = ctx.Args.Optional("cellno", ref pos);
        string? sizeText = ctx.Args.Optional("pagesize", ref pos);
        ctx.Args.NoMorePositionals(pos, "freepages");
        var f = HostEnvironment.Facts();
        if (ctx.Args.Has("all") && (cellText is not null || sizeText is not null))
        {
            throw VireoException.Invalid("option --all is mutually exclusive with --cellno and --pagesize");
        }

        long? size = sizeText is null ? null : PageSize(f, sizeText);
        var cells = cellText is null ? f.Cells : [Cell(f, cellText)];
        if (ctx.Json)
        {
            Output.JsonArray(ctx.Out, cells, (w, c) =>
            {
                w.WriteNumber("cell", c.Id);
                w.WriteStartArray("pages");
                foreach (var p in c.Pages.Where(p => size is null || p.SizeKiB == size))
                {
                    w.WriteStartObject();
                    w.WriteNumber("sizeKiB", p.SizeKiB);
                    w.WriteNumber("free", p.Free);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        foreach (var c in cells)
        {
            if (cellText is null || size is null)
            {
                ctx.Out.WriteLine($"Node {I(c.Id)}:");
            }

            foreach (var p in c.Pages.Where(p => size is null || p.SizeKiB == size))
            {
                ctx.Out.WriteLine($"{I(p.SizeKiB)}KiB: {I(p.Free)}");
            }

            if (cellText is null || size is null)
            {
                ctx.Out.WriteLine();
            }
        }

        return Task.FromResult(0);
    }

    public static Task<int> AllocPages(CommandContext ctx)
    {
        int pos = 0;
        string sizeText = ctx.Args.Required("pagesize", ref pos, "<pagesize>");
        string countText = ctx.Args.Required("pagecount", ref pos, "<pagecount>");
        ctx.Args.NoMorePositionals(pos, "allocpages");
        var root = HostEnvironment.Root;
        var f = Vireo.Host.Discovery.HostDiscovery.Discover(root);
        long size = PageSize(f, sizeText);
        if (!long.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out long count))
        {
            throw VireoException.Invalid($"page count '{countText}' is not a non-negative number");
        }

        string? cellText = ctx.Args.Value("cellno");
        if (cellText is not null && ctx.Args.Has("all"))
        {
            throw VireoException.Invalid("options --cellno and --all are mutually exclusive");
        }

        IReadOnlyList<int?> targets = cellText is not null ? [Cell(f, cellText).Id] : ctx.Args.Has("all") ? [.. f.Cells.Select(c => (int?)c.Id)] : [null];
        var results = new List<(int? Cell, long Pages)>();
        foreach (int? cell in targets)
        {
            results.Add((cell, HugePages.Allocate(root, size, count, cell, ctx.Args.Has("add"))));
        }

        if (ctx.Json)
        {
            Output.Json(ctx.Out, w =>
            {
                w.WriteStartArray();
                foreach (var (cell, pages) in results)
                {
                    w.WriteStartObject();
                    if (cell is int c)
                    {
                        w.WriteNumber("cell", c);
                    }

                    w.WriteNumber("sizeKiB", size);
                    w.WriteNumber("pages", pages);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        foreach (var (cell, pages) in results)
        {
            long wanted = ctx.Args.Has("add") ? -1 : count;
            if (wanted >= 0 && pages < wanted)
            {
                ctx.Err.WriteLine($"warning: the kernel could reserve only {I(pages)} of {I(wanted)} pages of {I(size)} KiB{(cell is int c ? $" on cell {I(c)}" : "")} (memory is fragmented or short)");
            }
        }

        return Task.FromResult(0);
    }

    internal static NumaCell Cell(HostFacts f, string text)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
        {
            throw VireoException.Invalid($"cell number '{text}' is not a number");
        }

        return f.Cell(id) ?? throw VireoException.Invalid($"NUMA cell {id} does not exist on this host (cells: {f.NumaNodes})");
    }

    internal static long PageSize(HostFacts f, string text)
    {
        long size = HugePages.ParseSize(text) ?? throw VireoException.Invalid($"page size '{text}' is not a size (use KiB, or a suffix: 4K, 2M, 1G)");
        if (!f.PageSizesKiB.Contains(size))
        {
            throw VireoException.Invalid($"page size {I(size)} KiB is not offered by this host (it offers {string.Join(", ", f.PageSizesKiB.Select(s => I(s) + " KiB"))})");
        }

        return size;
    }

    internal static void NoPositionals(CommandContext ctx) => ctx.Args.NoMorePositionals(0, ctx.Spec.Name);

    internal static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Small JSON helpers shared by the host handlers.</summary>
internal static class HostFactsJsonHelpers
{
    public static void StringOrNull(System.Text.Json.Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
