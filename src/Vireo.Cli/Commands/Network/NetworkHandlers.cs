using System.Diagnostics;
using System.Globalization;
using Vireo.Engine.Networks;
using Vireo.Engine.State;
using Vireo.Model;
using Vireo.Model.Networks;

namespace Vireo.Cli.Commands.Network;

/// <summary>The net-* handlers: parse arguments, call <see cref="NetworkManager"/>, print as virsh does.</summary>
internal static class NetworkHandlers
{
    private static NetworkManager? s_networks;

    /// <summary>The network manager for <c>$VIREO_ROOT</c>.</summary>
    public static NetworkManager Networks => s_networks ??= new NetworkManager(VireoPaths.FromEnvironment());

    private static string NetworkArg(CommandContext c)
    {
        int pos = 0;
        string n = c.Args.Required("network", ref pos, "<network>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        return n;
    }

    private static string ReadFile(string file, string what)
    {
        try
        {
            var fi = new FileInfo(file);
            if (fi.Exists && fi.Length > SafeXml.MaxDocumentChars)
            {
                throw VireoException.Invalid($"{what} '{file}' is {fi.Length} bytes, more than the limit of {SafeXml.MaxDocumentChars}");
            }

            return File.ReadAllText(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw VireoException.Invalid($"failed to read {what} '{file}': no such file");
        }
    }

    private static string FileArg(CommandContext c)
    {
        int pos = 0;
        string file = c.Args.Required("file", ref pos, "<file>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        return file;
    }

    public static Task<int> Define(CommandContext c)
    {
        string file = FileArg(c);
        var def = Networks.Define(ReadFile(file, "file"));
        c.Out.WriteLine($"Network {def.Name} defined from {file}");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static async Task<int> Create(CommandContext c)
    {
        string file = FileArg(c);
        var def = await Networks.CreateAsync(ReadFile(file, "file")).ConfigureAwait(false);
        c.Out.WriteLine($"Network {def.Name} created from {file}");
        c.Out.WriteLine();
        return 0;
    }

    public static async Task<int> Start(CommandContext c)
    {
        var def = await Networks.StartAsync(NetworkArg(c)).ConfigureAwait(false);
        c.Out.WriteLine($"Network {def.Name} started");
        c.Out.WriteLine();
        return 0;
    }

    public static async Task<int> Destroy(CommandContext c)
    {
        string name = NetworkArg(c);
        await Networks.DestroyAsync(name).ConfigureAwait(false);
        c.Out.WriteLine($"Network {name} destroyed");
        c.Out.WriteLine();
        return 0;
    }

    public static Task<int> Undefine(CommandContext c)
    {
        string name = NetworkArg(c);
        Networks.Undefine(name);
        c.Out.WriteLine($"Network {name} has been undefined");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> Autostart(CommandContext c)
    {
        string name = NetworkArg(c);
        bool disable = c.Args.Has("disable");
        Networks.SetAutostart(name, !disable);
        c.Out.WriteLine(disable ? $"Network {name} unmarked as autostarted" : $"Network {name} marked as autostarted");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> List(CommandContext c)
    {
        c.Args.NoMorePositionals(0, c.Spec.Name);
        var a = c.Args;
        IEnumerable<NetworkInfo> nets = Networks.List();
        if (a.Has("inactive"))
        {
            nets = nets.Where(n => !n.Active);
        }
        else if (!a.Has("all"))
        {
            nets = nets.Where(n => n.Active);
        }

        nets = nets.Where(n => (!a.Has("persistent") || n.Persistent) && (!a.Has("transient") || !n.Persistent)
            && (!a.Has("autostart") || n.Autostart) && (!a.Has("no-autostart") || !n.Autostart));
        var list = nets.ToList();
        if (c.Json)
        {
            Output.Json(c.Out, w =>
            {
                w.WriteStartArray();
                foreach (var n in list)
                {
                    WriteInfo(w, n);
                }

                w.WriteEndArray();
            });
            return Task.FromResult(0);
        }

        if (a.Has("name") || a.Has("uuid"))
        {
            foreach (var n in list)
            {
                c.Out.WriteLine(a.Has("name") && a.Has("uuid") ? $"{n.Uuid} {n.Name}" : a.Has("uuid") ? n.Uuid.ToString() : n.Name);
            }

            c.Out.WriteLine();
            return Task.FromResult(0);
        }

        Output.Table(c.Out, ["Name", "State", "Autostart", "Persistent"],
            list.Select(n => (IReadOnlyList<string>)[n.Name, State(n), YesNo(n.Autostart), YesNo(n.Persistent)]));
        return Task.FromResult(0);
    }

    public static Task<int> Info(CommandContext c)
    {
        var n = Networks.GetInfo(NetworkArg(c));
        if (c.Json)
        {
            Output.Json(c.Out, w => WriteInfo(w, n));
            return Task.FromResult(0);
        }

        Output.KeyValues(c.Out,
        [
            ("Name", n.Name),
            ("UUID", n.Uuid.ToString()),
            ("Active", YesNo(n.Active)),
            ("Persistent", YesNo(n.Persistent)),
            ("Autostart", YesNo(n.Autostart)),
            ("Bridge", n.Bridge ?? ""),
        ]);
        return Task.FromResult(0);
    }

    public static Task<int> Uuid(CommandContext c)
    {
        c.Out.WriteLine(Networks.GetInfo(NetworkArg(c)).Uuid);
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> DumpXml(CommandContext c)
    {
        c.Out.Write(NetworkXml.ToXml(Networks.GetDefinition(NetworkArg(c), c.Args.Has("inactive"))));
        return Task.FromResult(0);
    }

    public static async Task<int> Edit(CommandContext c)
    {
        string name = NetworkArg(c);
        string original = NetworkXml.ToXml(Networks.GetDefinition(name, inactive: true));
        string tmp = Path.Combine(Path.GetTempPath(), $"vireo-net-{name}-{Environment.ProcessId}.xml");
        await File.WriteAllTextAsync(tmp, original).ConfigureAwait(false);
        try
        {
            // $EDITOR may carry arguments ("code -w"): split on spaces, no shell.
            var editor = (Environment.GetEnvironmentVariable("VISUAL") ?? Environment.GetEnvironmentVariable("EDITOR") ?? "vi")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var psi = new ProcessStartInfo(editor[0]) { UseShellExecute = false };
            foreach (string arg in editor.Skip(1))
            {
                psi.ArgumentList.Add(arg);
            }

            psi.ArgumentList.Add(tmp);
            using var p = Process.Start(psi) ?? throw new VireoException(ErrorKind.OperationFailed, $"cannot run editor '{editor[0]}'");
            await p.WaitForExitAsync().ConfigureAwait(false);
            if (p.ExitCode != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"editor '{editor[0]}' exited with status {p.ExitCode}; network {name} not changed");
            }

            string edited = await File.ReadAllTextAsync(tmp).ConfigureAwait(false);
            if (edited == original)
            {
                c.Out.WriteLine($"Network {name} XML configuration not changed.");
                c.Out.WriteLine();
                return 0;
            }

            var def = NetworkXml.Parse(edited);
            if (def.Name != name)
            {
                throw VireoException.Invalid($"net-edit cannot rename network '{name}' to '{def.Name}'");
            }

            Networks.Define(edited);
            c.Out.WriteLine($"Network {name} XML configuration edited.");
            c.Out.WriteLine();
            return 0;
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    public static Task<int> Update(CommandContext c)
    {
        int pos = 0;
        string name = c.Args.Required("network", ref pos, "<network>");
        string command = c.Args.Required("command", ref pos, "<command>");
        string section = c.Args.Required("section", ref pos, "<section>");
        string xml = c.Args.Required("xml", ref pos, "<xml>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        var cmd = command switch
        {
            "add" or "add-last" or "add-first" => NetworkUpdateCommand.Add,
            "delete" => NetworkUpdateCommand.Delete,
            "modify" => NetworkUpdateCommand.Modify,
            _ => throw VireoException.Invalid($"net-update command '{command}' must be add, add-first, add-last, delete or modify"),
        };
        if (section != "ip-dhcp-host")
        {
            throw VireoException.Unsupported($"net-update section '{section}' is not supported (only ip-dhcp-host)");
        }

        if (!xml.TrimStart().StartsWith('<'))
        {
            xml = ReadFile(xml, "XML file");
        }

        int? parent = null;
        if (c.Args.Value("parent-index") is { } pi)
        {
            parent = int.TryParse(pi, NumberStyles.None, CultureInfo.InvariantCulture, out int idx)
                ? idx : throw VireoException.Invalid($"--parent-index '{pi}' is not a number");
        }

        bool live = c.Args.Has("live"), config = c.Args.Has("config");
        if (c.Args.Has("current") && (live || config))
        {
            throw VireoException.Invalid("--current cannot be combined with --live or --config");
        }

        Networks.UpdateDhcpHost(name, cmd, xml, live, config, parent);
        c.Out.WriteLine($"Updated network {name} {(live && config ? "persistent config and live state" : live ? "live state" : config ? "persistent config" : "")}".TrimEnd());
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    public static Task<int> DhcpLeases(CommandContext c)
    {
        var leases = Networks.GetLeases(NetworkArg(c), c.Args.Value("mac"));
        if (c.Json)
        {
            Output.JsonArray(c.Out, leases, (w, l) =>
            {
                w.WriteString("expiry", l.Expiry == DateTimeOffset.MaxValue ? null : l.Expiry.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
                w.WriteString("mac", l.Mac);
                w.WriteString("iaid", l.Iaid);
                w.WriteString("protocol", l.Protocol);
                w.WriteString("address", l.Address);
                w.WriteString("hostname", l.Hostname);
                w.WriteString("clientId", l.ClientId);
            });
            return Task.FromResult(0);
        }

        Output.Table(c.Out, ["Expiry Time", "MAC address", "Protocol", "IP address", "Hostname", "Client ID or DUID"],
            leases.Select(l => (IReadOnlyList<string>)[
                l.Expiry == DateTimeOffset.MaxValue ? "never" : l.Expiry.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                l.Mac ?? "-", l.Protocol, l.Address, l.Hostname ?? "-", l.ClientId ?? "-"]));
        return Task.FromResult(0);
    }

    public static async Task<int> DefineDefault(CommandContext c)
    {
        c.Args.NoMorePositionals(0, c.Spec.Name);
        string name = c.Args.Value("name") ?? "default";
        string bridge = c.Args.Value("bridge") ?? "virbr0";
        string subnetText = c.Args.Value("subnet") ?? "192.168.122.1/24";
        if (!IpNetwork.TryParse(subnetText, out var subnet) || subnet.IsIpv6 || subnet.PrefixLength is < 8 or > 29)
        {
            throw VireoException.Invalid($"--subnet '{subnetText}' must be an IPv4 host address with a prefix of 8 to 29, e.g. 192.168.122.1/24");
        }

        // DHCP hands out everything in the subnet after the host's address, like libvirt's .2-.254.
        var first = IpNetwork.FromInteger(IpNetwork.ToInteger(subnet.Address) + 1, false);
        var last = IpNetwork.FromInteger(IpNetwork.ToInteger(subnet.LastAddress) - 1, false);
        string xml = $"""
            <network>
              <name>{System.Security.SecurityElement.Escape(name)}</name>
              <forward mode='nat'/>
              <bridge name='{System.Security.SecurityElement.Escape(bridge)}' stp='on' delay='0'/>
              <ip address='{subnet.Address}' netmask='{IpNetwork.NetmaskFromPrefix(subnet.PrefixLength)}'>
                <dhcp>
                  <range start='{first}' end='{last}'/>
                </dhcp>
              </ip>
            </network>
            """;
        var def = Networks.Define(xml);
        c.Out.WriteLine($"Network {def.Name} defined (NAT, bridge {bridge}, {subnet}, DHCP {first}-{last})");
        if (c.Args.Has("autostart"))
        {
            Networks.SetAutostart(def.Name, true);
            c.Out.WriteLine($"Network {def.Name} marked as autostarted");
        }

        if (c.Args.Has("start"))
        {
            await Networks.StartAsync(def.Name).ConfigureAwait(false);
            c.Out.WriteLine($"Network {def.Name} started");
        }

        c.Out.WriteLine();
        return 0;
    }

    private static void WriteInfo(System.Text.Json.Utf8JsonWriter w, NetworkInfo n)
    {
        w.WriteStartObject();
        w.WriteString("name", n.Name);
        w.WriteString("uuid", n.Uuid.ToString());
        w.WriteBoolean("active", n.Active);
        w.WriteBoolean("persistent", n.Persistent);
        w.WriteBoolean("autostart", n.Autostart);
        w.WriteString("bridge", n.Bridge);
        w.WriteString("forward", n.Forward.ToString().ToLowerInvariant());
        w.WriteEndObject();
    }

    private static string State(NetworkInfo n) => n.Active ? "active" : n.State is null ? "inactive" : n.State.Value.ToString().ToLowerInvariant();

    private static string YesNo(bool b) => b ? "yes" : "no";
}
