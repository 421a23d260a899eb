using System.Diagnostics;
using System.Security;
using System.Text;
using Vireo.Engine.Storage;
using Vireo.Model;
using Vireo.Model.Storage;

namespace Vireo.Cli.Commands.Pool;

/// <summary>pool-* handlers: parse, call the manager, print as virsh does.</summary>
internal static class PoolHandlers
{
    private static StoragePoolManager Pools => PoolCli.Manager;

    public static Task<int> Define(CommandContext c)
    {
        int pos = 0;
        string xml = PoolCli.ReadXmlFile(c, ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var def = Pools.Define(xml);
        PoolCli.Done(c, $"Pool {def.Name} defined from {c.Args.Positionals.FirstOrDefault() ?? c.Args.Value("file")}");
        return Task.FromResult(0);
    }

    public static Task<int> DefineAs(CommandContext c)
    {
        string xml = BuildXml(c);
        if (c.Args.Has("print-xml"))
        {
            c.Out.Write(xml);
            return Task.FromResult(0);
        }

        var def = Pools.Define(xml);
        PoolCli.Done(c, $"Pool {def.Name} defined");
        return Task.FromResult(0);
    }

    public static Task<int> Create(CommandContext c)
    {
        int pos = 0;
        string xml = PoolCli.ReadXmlFile(c, ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var def = Pools.Create(xml, c.Args.Has("build") ? PoolCli.BuildMode(c) : null);
        PoolCli.Done(c, $"Pool {def.Name} created from {c.Args.Positionals.FirstOrDefault() ?? c.Args.Value("file")}");
        return Task.FromResult(0);
    }

    public static Task<int> CreateAs(CommandContext c)
    {
        string xml = BuildXml(c);
        if (c.Args.Has("print-xml"))
        {
            c.Out.Write(xml);
            return Task.FromResult(0);
        }

        var def = Pools.Create(xml, c.Args.Has("build") ? PoolCli.BuildMode(c) : null);
        PoolCli.Done(c, $"Pool {def.Name} created");
        return Task.FromResult(0);
    }

    public static Task<int> Build(CommandContext c)
    {
        string name = PoolArg(c);
        Pools.Build(name, PoolCli.BuildMode(c));
        PoolCli.Done(c, $"Pool {name} built");
        return Task.FromResult(0);
    }

    public static Task<int> Start(CommandContext c)
    {
        string name = PoolArg(c);
        Pools.Start(name, c.Args.Has("build") ? PoolCli.BuildMode(c) : null);
        PoolCli.Done(c, $"Pool {name} started");
        return Task.FromResult(0);
    }

    public static Task<int> Destroy(CommandContext c)
    {
        string name = PoolArg(c);
        Pools.Destroy(name, c.Args.Has("force"));
        PoolCli.Done(c, $"Pool {name} destroyed");
        return Task.FromResult(0);
    }

    public static Task<int> Delete(CommandContext c)
    {
        string name = PoolArg(c);
        Pools.Delete(name);
        PoolCli.Done(c, $"Pool {name} deleted");
        return Task.FromResult(0);
    }

    public static Task<int> Undefine(CommandContext c)
    {
        string name = PoolArg(c);
        Pools.Undefine(name);
        PoolCli.Done(c, $"Pool {name} has been undefined");
        return Task.FromResult(0);
    }

    public static Task<int> Autostart(CommandContext c)
    {
        string name = PoolArg(c);
        bool on = !c.Args.Has("disable");
        Pools.SetAutostart(name, on);
        PoolCli.Done(c, on ? $"Pool {name} marked as autostarted" : $"Pool {name} unmarked as autostarted");
        return Task.FromResult(0);
    }

    public static Task<int> Refresh(CommandContext c)
    {
        string name = PoolArg(c);
        Pools.Refresh(name);
        PoolCli.Done(c, $"Pool {name} refreshed");
        return Task.FromResult(0);
    }

    public static Task<int> DumpXml(CommandContext c)
    {
        c.Out.Write(Pools.DumpXml(PoolArg(c), c.Args.Has("inactive")));
        return Task.FromResult(0);
    }

    public static Task<int> Name(CommandContext c)
    {
        c.Out.WriteLine(PoolArg(c));
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> Uuid(CommandContext c)
    {
        c.Out.WriteLine(Pools.Info(PoolArg(c)).Uuid);
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> List(CommandContext c)
    {
        c.Args.NoMorePositionals(0, c.Spec.Name);
        var a = c.Args;
        var types = a.Value("type")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool all = a.Has("all");
        var pools = Pools.List().Where(p =>
            (all || (a.Has("inactive") ? !p.Active : p.Active)) &&
            (!a.Has("persistent") || p.Persistent) && (!a.Has("transient") || !p.Persistent) &&
            (!a.Has("autostart") || p.Autostart) && (!a.Has("no-autostart") || !p.Autostart) &&
            (types is null || types.Contains(p.Type))).ToList();
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartArray();
                foreach (var p in pools)
                {
                    WritePoolJson(w, p);
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        if (a.Has("name") || a.Has("uuid"))
        {
            foreach (var p in pools)
            {
                c.Out.WriteLine(a.Has("uuid") && a.Has("name") ? $"{p.Uuid} {p.Name}" : a.Has("uuid") ? p.Uuid.ToString() : p.Name);
            }

            c.Out.WriteLine();
            return Task.FromResult(0);
        }

        if (a.Has("details"))
        {
            Output.Table(c.Out, ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"],
                pools.Select(p => (IReadOnlyList<string>)
                [
                    p.Name, p.Active ? "running" : "inactive", YesNo(p.Autostart), YesNo(p.Persistent),
                    p.Active ? StorageSize.Human(p.Capacity) : "-", p.Active ? StorageSize.Human(p.Allocation) : "-",
                    p.Active ? StorageSize.Human(p.Available) : "-",
                ]));
        }
        else
        {
            Output.Table(c.Out, ["Name", "State", "Autostart"],
                pools.Select(p => (IReadOnlyList<string>)[p.Name, p.Active ? "active" : "inactive", YesNo(p.Autostart)]));
        }

        return Task.FromResult(0);
    }

    public static Task<int> Info(CommandContext c)
    {
        var p = Pools.Info(PoolArg(c));
        if (c.Json)
        {
            Output.Json(c.Out, w => WritePoolJson(w, p));
            return Task.FromResult(0);
        }

        bool bytes = c.Args.Has("bytes");
        var pairs = new List<(string, string)>
        {
            ("Name", p.Name),
            ("UUID", p.Uuid.ToString()),
            ("State", p.Active ? "running" : "inactive"),
            ("Persistent", YesNo(p.Persistent)),
            ("Autostart", YesNo(p.Autostart)),
        };
        if (p.Active)
        {
            pairs.Add(("Capacity", PoolCli.Figure(p.Capacity, bytes)));
            pairs.Add(("Allocation", PoolCli.Figure(p.Allocation, bytes)));
            pairs.Add(("Available", PoolCli.Figure(p.Available, bytes)));
        }

        Output.KeyValues(c.Out, pairs);
        return Task.FromResult(0);
    }

    /// <summary>pool-edit: the definition in $EDITOR, redefined when it changed, as virsh does.</summary>
    public static async Task<int> Edit(CommandContext c)
    {
        string name = PoolArg(c);
        string before = Pools.GetDefinition(name).ToXml();
        string tmp = Path.Combine(Path.GetTempPath(), $"vireo-pool-{Environment.ProcessId}-{Guid.NewGuid():N}.xml");
        File.WriteAllText(tmp, before);
        try
        {
            string editor = Environment.GetEnvironmentVariable("VISUAL") is { Length: > 0 } v ? v
                : Environment.GetEnvironmentVariable("EDITOR") is { Length: > 0 } e ? e : "vi";
            // $EDITOR may carry flags ("code -w"); split on spaces, as virsh does, and run without a shell.
            var parts = editor.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var psi = new ProcessStartInfo(parts[0]) { UseShellExecute = false };
            foreach (var p in parts.Skip(1))
            {
                psi.ArgumentList.Add(p);
            }

            psi.ArgumentList.Add(tmp);
            using (var proc = Process.Start(psi) ?? throw VireoException.Invalid($"cannot run editor '{editor}'"))
            {
                await proc.WaitForExitAsync().ConfigureAwait(false);
                if (proc.ExitCode != 0)
                {
                    throw VireoException.Invalid($"editor '{editor}' exited with status {proc.ExitCode}; pool {name} not changed");
                }
            }

            string after = await File.ReadAllTextAsync(tmp).ConfigureAwait(false);
            if (after == before)
            {
                PoolCli.Done(c, $"Pool {name} XML configuration not changed.");
                return 0;
            }

            var parsed = StoragePoolDefinition.Parse(after);
            if (parsed.Name != name)
            {
                throw VireoException.Invalid($"pool-edit of '{name}': the name cannot be changed (to '{parsed.Name}')");
            }

            Pools.Define(after);
            PoolCli.Done(c, $"Pool {name} XML configuration edited.");
            return 0;
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static string PoolArg(CommandContext c)
    {
        int pos = 0;
        string name = PoolCli.Pool(c, ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        return name;
    }

    private static string YesNo(bool b) => b ? "yes" : "no";

    private static void WritePoolJson(System.Text.Json.Utf8JsonWriter w, PoolStatus p)
    {
        w.WriteStartObject();
        w.WriteString("name", p.Name);
        w.WriteString("uuid", p.Uuid.ToString());
        w.WriteString("type", p.Type);
        w.WriteString("state", p.Active ? "running" : "inactive");
        w.WriteBoolean("active", p.Active);
        w.WriteBoolean("persistent", p.Persistent);
        w.WriteBoolean("autostart", p.Autostart);
        if (p.Active)
        {
            w.WriteNumber("capacity", p.Capacity);
            w.WriteNumber("allocation", p.Allocation);
            w.WriteNumber("available", p.Available);
        }

        w.WriteEndObject();
    }

    /// <summary>The XML pool-define-as and pool-create-as build from their arguments (virsh's positional order).</summary>
    private static string BuildXml(CommandContext c)
    {
        int pos = 0;
        string name = c.Args.Required("name", ref pos, "<name>");
        string type = c.Args.Required("type", ref pos, "<type>");
        string? host = Arg(c, "source-host", ref pos);
        string? srcPath = Arg(c, "source-path", ref pos);
        string? dev = Arg(c, "source-dev", ref pos);
        string? srcName = Arg(c, "source-name", ref pos);
        string? target = Arg(c, "target", ref pos);
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        string? format = c.Args.Value("source-format");
        static string E(string s) => SecurityElement.Escape(s);
        var sb = new StringBuilder();
        sb.Append($"<pool type='{E(type)}'>\n  <name>{E(name)}</name>\n");
        if (host is not null || srcPath is not null || dev is not null || srcName is not null || format is not null)
        {
            sb.Append("  <source>\n");
            if (host is not null)
            {
                sb.Append($"    <host name='{E(host)}'/>\n");
            }

            if (dev is not null)
            {
                foreach (string d in dev.Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    sb.Append($"    <device path='{E(d)}'/>\n");
                }
            }

            if (srcPath is not null)
            {
                sb.Append($"    <dir path='{E(srcPath)}'/>\n");
            }

            if (srcName is not null)
            {
                sb.Append($"    <name>{E(srcName)}</name>\n");
            }

            if (format is not null)
            {
                sb.Append($"    <format type='{E(format)}'/>\n");
            }

            sb.Append("  </source>\n");
        }

        if (target is not null)
        {
            sb.Append($"  <target>\n    <path>{E(target)}</path>\n  </target>\n");
        }

        sb.Append("</pool>\n");
        string xml = sb.ToString();
        _ = StoragePoolDefinition.Parse(xml);
        return xml;
    }

    /// <summary>An option or the next positional; virsh's "-" placeholder means not given.</summary>
    private static string? Arg(CommandContext c, string option, ref int pos)
    {
        string? v = c.Args.Optional(option, ref pos);
        return v is null or "-" or "" ? null : v;
    }
}
