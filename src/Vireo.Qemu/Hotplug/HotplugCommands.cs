using System.Globalization;
using System.Text;
using System.Text.Json;
using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu.Argv;

namespace Vireo.Qemu.Hotplug;

/// <summary>One QMP command: its name and its <c>arguments</c> object as JSON.</summary>
public sealed record QmpCommand(string Name, string ArgumentsJson)
{
    public override string ToString() => $"{Name} {ArgumentsJson}";
}

/// <summary>The host-side pieces of one hot-plugged device that the engine prepared.</summary>
public sealed record HotplugInputs
{
    /// <summary>The path a <c>&lt;disk type='volume'&gt;</c> resolved to.</summary>
    public string? ResolvedDiskSource { get; init; }

    /// <summary>The name the TAP fd was registered under with <c>getfd</c>.</summary>
    public string? TapFdName { get; init; }
}

/// <summary>
/// The QMP commands that hot-plug one device. They come from the very properties the command line is built
/// from: the whole definition (with the new device in it) goes through the argv writers, and the options that
/// belong to the device — its <c>-blockdev</c> chain, throttle group, <c>-netdev</c> and <c>-device</c> — become
/// <c>blockdev-add</c>, <c>object-add</c>, <c>netdev_add</c> and <c>device_add</c>. The PCI plan sees every running
/// device at its pinned address (<see cref="DeviceLayout"/>), so the new one lands on a free slot or root port.
/// </summary>
public static class HotplugCommands
{
    /// <summary>Commands that add the device whose alias is <paramref name="alias"/> in <paramref name="def"/>.</summary>
    public static IReadOnlyList<QmpCommand> Attach(DomainDefinition def, string alias, HotplugInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(def);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgvWriter w = QemuCommandLine.Write(def, PlaceholderOptions(def, alias, inputs));
        foreach (Controller added in w.Pci.Controllers)
        {
            if (!def.Devices.Controllers.Any(c => c.Type == "pci" && c.Index == added.Index))
            {
                throw VireoException.Unsupported(
                    $"device '{alias}' needs a new PCI controller ({added.Model}), which cannot be hot-plugged; " +
                    "add a <controller type='pci'> for it to the definition and restart the domain");
            }
        }

        QemuOpts device = w.Typed.FirstOrDefault(t => t.Flag == "-device" && Prop(t.Opts, "id") == alias).Opts
            ?? throw VireoException.Unsupported($"device '{alias}' has no QEMU device to hot-plug");
        var commands = new List<QmpCommand>();
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Prop(device, "drive") is string top)
        {
            var nodes = Reachable(w.Typed, top);
            foreach (var (flag, opts) in w.Typed)
            {
                if (flag == "-blockdev" && Prop(opts, "node-name") is string n && nodes.Contains(n))
                {
                    rename[n] = NodeName(alias, n);
                }
            }

            foreach (var (flag, opts) in w.Typed)
            {
                if (flag == "-object" && Prop(opts, "id") is string g && w.Typed.Any(t => t.Flag == "-blockdev" && nodes.Contains(Prop(t.Opts, "node-name") ?? "") && Prop(t.Opts, "throttle-group") == g))
                {
                    commands.Add(new QmpCommand("object-add", ToJson(opts, rename)));
                }
                else if (flag == "-blockdev" && rename.ContainsKey(Prop(opts, "node-name") ?? ""))
                {
                    commands.Add(new QmpCommand("blockdev-add", ToJson(opts, rename)));
                }
            }
        }

        if (Prop(device, "netdev") is string netdev)
        {
            QemuOpts backend = w.Typed.FirstOrDefault(t => t.Flag == "-netdev" && Prop(t.Opts, "id") == netdev).Opts
                ?? throw VireoException.Unsupported($"interface '{alias}' has no network backend");
            if (Prop(backend, "fd") is not null)
            {
                rename[Prop(backend, "fd")!] = inputs.TapFdName ?? throw new VireoException(ErrorKind.InvalidState, $"interface '{alias}' needs a TAP fd and none was passed");
            }

            commands.Add(new QmpCommand("netdev_add", ToJson(backend, rename, "fd")));
        }

        commands.Add(new QmpCommand("device_add", ToJson(device, rename)));
        return commands;
    }

    /// <summary>QEMU limits node names to 31 characters; derive stable ones from the alias.</summary>
    internal static string NodeName(string alias, string startName)
    {
        // libvirt-N-storage / libvirt-N-format / libvirt-ALIAS-throttle
        string kind = startName.EndsWith("-storage", StringComparison.Ordinal) ? "s"
            : startName.EndsWith("-format", StringComparison.Ordinal) ? "f" : "t";
        string n = startName.Split('-') is [_, var num, _] && int.TryParse(num, out _) ? num : "";
        string prefix = alias.Length <= 20 ? alias : "h" + ((uint)StableHash(alias)).ToString("x8", CultureInfo.InvariantCulture);
        return $"{prefix}-{kind}{n}";
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s)
        {
            h = unchecked((h * 31) + c);
        }

        return h;
    }

    /// <summary>Options with placeholders where the engine decides host things at start; only the new device's are real.</summary>
    private static QemuArgvOptions PlaceholderOptions(DomainDefinition def, string alias, HotplugInputs inputs)
    {
        var taps = new Dictionary<int, int>();
        var sources = new Dictionary<int, string>();
        for (int i = 0; i < def.Devices.Interfaces.Count; i++)
        {
            taps[i] = 1000 + i;
        }

        for (int i = 0; i < def.Devices.Disks.Count; i++)
        {
            Disk d = def.Devices.Disks[i];
            if (d.Type == "volume")
            {
                sources[i] = d.Alias == alias && inputs.ResolvedDiskSource is not null ? inputs.ResolvedDiskSource : "/dev/null";
            }
        }

        return new QemuArgvOptions
        {
            RuntimeDirectory = "/nonexistent",
            InterfaceTapFds = taps,
            ResolvedDiskSources = sources,
            DefaultEfiLoader = "/dev/null",
            NvramPath = "/dev/null",
            TpmEmulatorSocket = "/dev/null",
            VncAutoPort = 5900,
        };
    }

    private static HashSet<string> Reachable(List<(string Flag, QemuOpts Opts)> typed, string top)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([top]);
        while (stack.TryPop(out string? n))
        {
            if (!set.Add(n))
            {
                continue;
            }

            QemuOpts? node = typed.FirstOrDefault(t => t.Flag == "-blockdev" && Prop(t.Opts, "node-name") == n).Opts;
            foreach (string key in (string[])["file", "backing"])
            {
                if (node is not null && Prop(node, key) is string child)
                {
                    stack.Push(child);
                }
            }
        }

        return set;
    }

    internal static string? Prop(QemuOpts o, string key)
    {
        foreach (var (k, v) in o.Properties)
        {
            if (k == key)
            {
                return v as string;
            }
        }

        return null;
    }

    /// <summary>
    /// QMP arguments from the option's typed properties: dotted keys (<c>cache.direct</c>, <c>limits.iops-total</c>)
    /// become nested objects, and string values that name nodes or fds are renamed.
    /// </summary>
    internal static string ToJson(QemuOpts opts, IReadOnlyDictionary<string, string> rename, params string[] renamedKeys)
    {
        var order = new List<(string[] Path, object Value)>();
        if (opts.Head is not null)
        {
            order.Add(([opts.HeadKey], opts.Head));
        }

        foreach (var (k, v) in opts.Properties)
        {
            object value = v;
            if (v is string s && rename.TryGetValue(s, out string? r) && (k is "node-name" or "file" or "backing" or "drive" || renamedKeys.Contains(k)))
            {
                value = r;
            }
            else if (k == "write-cache" && v is bool b)
            {
                // An OnOffAuto property: over QMP it takes the string, not a JSON bool.
                value = b ? "on" : "off";
            }

            order.Add((k.Split('.'), value));
        }

        using var ms = new MemoryStream();
        using (var jw = new Utf8JsonWriter(ms))
        {
            WriteObject(jw, order, 0);
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteObject(Utf8JsonWriter jw, List<(string[] Path, object Value)> items, int depth)
    {
        jw.WriteStartObject();
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, value) in items)
        {
            string key = path[depth];
            if (path.Length == depth + 1)
            {
                jw.WritePropertyName(key);
                WriteValue(jw, value);
            }
            else if (done.Add(key))
            {
                jw.WritePropertyName(key);
                WriteObject(jw, items.Where(i => i.Path.Length > depth + 1 && i.Path[depth] == key).ToList(), depth + 1);
            }
        }

        jw.WriteEndObject();
    }

    private static void WriteValue(Utf8JsonWriter jw, object value)
    {
        switch (value)
        {
            case string s:
                jw.WriteStringValue(s);
                break;
            case bool b:
                jw.WriteBooleanValue(b);
                break;
            case long l:
                jw.WriteNumberValue(l);
                break;
            case IReadOnlyList<long> list:
                jw.WriteStartArray();
                foreach (long x in list)
                {
                    jw.WriteNumberValue(x);
                }

                jw.WriteEndArray();
                break;
            default:
                jw.WriteNullValue();
                break;
        }
    }
}
