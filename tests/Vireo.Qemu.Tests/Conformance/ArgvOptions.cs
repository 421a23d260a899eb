using System.Text;
using System.Text.Json;

namespace Vireo.Qemu.Tests.Conformance;

/// <summary>One QEMU option with its value parsed into properties, from key=value or JSON syntax alike.</summary>
internal sealed record ArgvOption(string Flag, string Raw, IReadOnlyDictionary<string, string> Props)
{
    public string? Get(string key) => Props.TryGetValue(key, out string? v) ? v : null;

    public override string ToString() => Flag + " " + string.Join(',', Props.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
}

/// <summary>Parses libvirt's .args files and Vireo's argv into comparable <see cref="ArgvOption"/>s.</summary>
internal static class ArgvOptions
{
    /// <summary>Flags without a value.</summary>
    private static readonly HashSet<string> Switches = ["-S", "-no-user-config", "-nodefaults", "-no-shutdown", "-no-acpi", "-no-hpet", "-enable-kvm"];

    /// <summary>The key an option's leading bare value stands for.</summary>
    private static string ImpliedKey(string flag) => flag switch
    {
        "-device" => "driver",
        "-netdev" => "type",
        "-chardev" => "backend",
        "-object" => "qom-type",
        "-machine" => "type",
        "-accel" => "accel",
        "-cpu" => "model",
        "-smp" => "cpus",
        "-vnc" => "display",
        "-numa" => "type",
        "-tpmdev" => "type",
        "-m" => "size",
        _ => "value",
    };

    /// <summary>The words of a libvirt .args file: env assignments and the emulator path dropped, shell quoting undone.</summary>
    public static IReadOnlyList<string> ParseArgsFile(string text)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                i++;
                continue;
            }
            if (c == '\'')
            {
                int end = text.IndexOf('\'', i + 1);
                sb.Append(text, i + 1, end - i - 1);
                i = end;
                inWord = true;
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(sb.ToString());
                    sb.Clear();
                    inWord = false;
                }
                continue;
            }
            sb.Append(c);
            inWord = true;
        }
        if (inWord)
        {
            words.Add(sb.ToString());
        }
        int start = words.FindIndex(w => w.StartsWith('/'));
        return words.Skip(start + 1).ToList();
    }

    public static List<ArgvOption> Parse(IReadOnlyList<string> argv)
    {
        var result = new List<ArgvOption>();
        for (int i = 0; i < argv.Count; i++)
        {
            string flag = argv[i];
            if (Switches.Contains(flag) || i + 1 >= argv.Count)
            {
                result.Add(new ArgvOption(flag, "", new Dictionary<string, string>()));
                continue;
            }
            string value = argv[++i];
            result.Add(new ArgvOption(flag, value, value.StartsWith('{') ? FromJson(value) : FromKeyValue(flag, value)));
        }
        return result;
    }

    private static Dictionary<string, string> FromJson(string json)
    {
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        using JsonDocument doc = JsonDocument.Parse(json);
        Flatten(doc.RootElement, "", props);
        return props;
    }

    private static void Flatten(JsonElement e, string prefix, Dictionary<string, string> props)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + "." + p.Name, props);
                }
                break;
            case JsonValueKind.Array:
                props[prefix] = string.Join(',', e.EnumerateArray().Select(x => x.ToString()));
                break;
            case JsonValueKind.True:
                props[prefix] = "on";
                break;
            case JsonValueKind.False:
                props[prefix] = "off";
                break;
            case JsonValueKind.Null:
                props[prefix] = "";
                break;
            default:
                props[prefix] = e.ToString();
                break;
        }
    }

    private static Dictionary<string, string> FromKeyValue(string flag, string value)
    {
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        var parts = new List<string>();
        var sb = new StringBuilder();
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == ',')
            {
                if (i + 1 < value.Length && value[i + 1] == ',')
                {
                    sb.Append(',');
                    i++;
                    continue;
                }
                parts.Add(sb.ToString());
                sb.Clear();
                continue;
            }
            sb.Append(value[i]);
        }
        parts.Add(sb.ToString());
        for (int i = 0; i < parts.Count; i++)
        {
            string part = parts[i];
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            bool bare = eq < 0 || (flag == "-vnc" && i == 0);
            if (bare && i == 0)
            {
                props[ImpliedKey(flag)] = part;
            }
            else if (bare)
            {
                props[part] = "on";
            }
            else
            {
                string key = part[..eq];
                string v = part[(eq + 1)..];
                // Repeated keys (-numa cpus=1-3,cpus=5) accumulate.
                props[key] = props.TryGetValue(key, out string? prev) ? prev + "," + v : v;
            }
        }
        return props;
    }
}
