using System.Globalization;
using System.Text.Json;
using Vireo.Engine.Domains;

namespace Vireo.Cli.Commands;

internal static partial class DomainCommands
{
    private static Task<int> ListDomains(CommandContext c)
    {
        var a = c.Args;
        c.Args.NoMorePositionals(0, c.Spec.Name);
        bool all = a.Has("all");
        bool inactiveOnly = a.Has("inactive");
        IEnumerable<DomainInfo> domains = Domains.List();
        domains = domains.Where(d => all || (inactiveOnly ? !d.IsActive : d.IsActive));
        if (a.Has("persistent") != a.Has("transient"))
        {
            domains = domains.Where(d => d.Persistent == a.Has("persistent"));
        }

        if (a.Has("autostart") != a.Has("no-autostart"))
        {
            domains = domains.Where(d => d.Autostart == a.Has("autostart"));
        }

        bool anyState = a.Has("state-running") || a.Has("state-paused") || a.Has("state-shutoff") || a.Has("state-other");
        if (anyState)
        {
            domains = domains.Where(d => d.Status.State switch
            {
                DomainState.Running => a.Has("state-running"),
                DomainState.Paused => a.Has("state-paused"),
                DomainState.Shutoff => a.Has("state-shutoff"),
                _ => a.Has("state-other"),
            });
        }

        // virsh lists active domains by id, then inactive ones by name.
        var list = domains.OrderBy(d => d.Id ?? int.MaxValue).ThenBy(d => d.Name, StringComparer.Ordinal).ToList();
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartArray();
                foreach (var d in list)
                {
                    WriteDomainJson(w, d, full: false);
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        if (a.Has("name") || a.Has("uuid") || a.Has("id"))
        {
            foreach (var d in list)
            {
                var parts = new List<string>();
                if (a.Has("id"))
                {
                    if (d.Id is null && !a.Has("name") && !a.Has("uuid"))
                    {
                        continue;
                    }

                    parts.Add(FormatId(d.Id));
                }

                if (a.Has("uuid"))
                {
                    parts.Add(d.Uuid.ToString());
                }

                if (a.Has("name"))
                {
                    parts.Add(d.Name);
                }

                c.Out.WriteLine(string.Join(' ', parts));
            }

            c.Out.WriteLine();
            return Task.FromResult(0);
        }

        var headers = a.Has("title") ? new[] { "Id", "Name", "State", "Title" } : new[] { "Id", "Name", "State" };
        Output.Table(c.Out, headers, list.Select(d => (IReadOnlyList<string>)(a.Has("title")
            ? [FormatId(d.Id), d.Name, d.Status.StateName, d.Definition.Title ?? ""]
            : [FormatId(d.Id), d.Name, d.Status.StateName])));
        return Task.FromResult(0);
    }

    private static Task<int> DomInfo(CommandContext c)
    {
        var d = Domains.GetInfo(DomainArg(c));
        if (c.Json)
        {
            Output.Json(c.Out, w => WriteDomainJson(w, d, full: true));
            return Task.FromResult(0);
        }

        var def = d.Definition;
        Output.KeyValues(c.Out,
        [
            ("Id", FormatId(d.Id)),
            ("Name", d.Name),
            ("UUID", d.Uuid.ToString()),
            ("OS Type", def.Os.Type),
            ("State", d.Status.StateName),
            ("CPU(s)", def.Vcpus.ToString(CultureInfo.InvariantCulture)),
            .. d.CpuTimeSeconds is double t ? new[] { ("CPU time", t.ToString("0.0", CultureInfo.InvariantCulture) + "s") } : [],
            ("Max memory", $"{def.MemoryKiB} KiB"),
            ("Used memory", $"{def.CurrentMemoryKiB} KiB"),
            ("Persistent", d.Persistent ? "yes" : "no"),
            ("Autostart", d.Autostart ? "enable" : "disable"),
            ("Managed save", "no"),
            ("Security model", "none"),
            ("Security DOI", "0"),
        ]);
        return Task.FromResult(0);
    }

    private static Task<int> DomState(CommandContext c)
    {
        var d = Domains.GetInfo(DomainArg(c));
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("state", d.Status.StateName);
                w.WriteString("reason", d.Status.Reason);
                w.WriteEndObject();
            });
            return Task.FromResult(0);
        }

        c.Out.WriteLine(c.Args.Has("reason") ? d.Status.ToString() : d.Status.StateName);
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static Task<int> DomId(CommandContext c)
    {
        var d = Domains.GetInfo(DomainArg(c));
        c.Out.WriteLine(FormatId(d.Id));
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static Task<int> DomUuid(CommandContext c)
    {
        var d = Domains.GetInfo(DomainArg(c));
        c.Out.WriteLine(d.Uuid.ToString());
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static Task<int> DomName(CommandContext c)
    {
        var d = Domains.GetInfo(DomainArg(c));
        c.Out.WriteLine(d.Name);
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static Task<int> DumpXml(CommandContext c)
    {
        var def = Domains.GetDefinition(DomainArg(c), c.Args.Has("inactive"));
        c.Out.Write(def.ToXml());
        return Task.FromResult(0);
    }

    private static void WriteDomainJson(Utf8JsonWriter w, DomainInfo d, bool full)
    {
        w.WriteStartObject();
        if (d.Id is int id)
        {
            w.WriteNumber("id", id);
        }
        else
        {
            w.WriteNull("id");
        }

        w.WriteString("name", d.Name);
        w.WriteString("uuid", d.Uuid.ToString());
        w.WriteString("state", d.Status.StateName);
        w.WriteString("reason", d.Status.Reason);
        w.WriteBoolean("persistent", d.Persistent);
        w.WriteBoolean("autostart", d.Autostart);
        if (full)
        {
            var def = d.Definition;
            w.WriteString("osType", def.Os.Type);
            w.WriteNumber("vcpus", def.Vcpus);
            w.WriteNumber("maxMemoryKiB", def.MemoryKiB);
            w.WriteNumber("usedMemoryKiB", def.CurrentMemoryKiB);
            if (d.CpuTimeSeconds is double t)
            {
                w.WriteNumber("cpuTimeSeconds", t);
            }

            if (d.Pid is int pid)
            {
                w.WriteNumber("pid", pid);
            }

            if (def.Title is not null)
            {
                w.WriteString("title", def.Title);
            }
        }

        w.WriteEndObject();
    }
}
