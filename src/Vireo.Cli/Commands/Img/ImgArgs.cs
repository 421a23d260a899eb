using System.Globalization;
using System.Text;
using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>
/// qemu-img's getopt grammar: short flags (<c>-f qcow2</c>, <c>-fqcow2</c>, clustered <c>-pc</c>),
/// long options (<c>--output=json</c>, <c>--output json</c>), and positionals in any order.
/// </summary>
internal sealed class ImgArgs
{
    private readonly Dictionary<string, List<string>> _values = [];
    private readonly HashSet<string> _flags = [];

    public List<string> Positionals { get; } = [];

    public static ImgArgs Parse(string sub, IReadOnlyList<string> args, string shortWithValue, string shortFlags, string[] longWithValue, string[] longFlags)
    {
        var r = new ImgArgs();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                r.Positionals.AddRange(args.Skip(i + 1));
                break;
            }

            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                string name = a[2..];
                string? val = null;
                int eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0)
                {
                    val = name[(eq + 1)..];
                    name = name[..eq];
                }

                if (longWithValue.Contains(name))
                {
                    if (val is null)
                    {
                        if (i + 1 >= args.Count)
                        {
                            throw new ImageException($"{sub}: option '--{name}' requires an argument");
                        }

                        val = args[++i];
                    }

                    r.Add(name, val);
                }
                else if (longFlags.Contains(name) && val is null)
                {
                    r._flags.Add(name);
                }
                else
                {
                    throw new ImageException($"{sub}: unrecognized option '--{name}'");
                }

                continue;
            }

            if (a.Length > 1 && a[0] == '-')
            {
                for (int j = 1; j < a.Length; j++)
                {
                    string c = a[j].ToString();
                    if (shortWithValue.Contains(a[j], StringComparison.Ordinal))
                    {
                        string v = j + 1 < a.Length ? a[(j + 1)..] : i + 1 < args.Count ? args[++i] : throw new ImageException($"{sub}: option requires an argument -- '{c}'");
                        r.Add(c, v);
                        break;
                    }

                    if (!shortFlags.Contains(a[j], StringComparison.Ordinal))
                    {
                        throw new ImageException($"{sub}: invalid option -- '{c}'");
                    }

                    r._flags.Add(c);
                }

                continue;
            }

            r.Positionals.Add(a);
        }

        return r;
    }

    private void Add(string name, string value)
    {
        if (!_values.TryGetValue(name, out var list))
        {
            _values[name] = list = [];
        }

        list.Add(value);
    }

    public bool Has(string name) => _flags.Contains(name) || _values.ContainsKey(name);

    public string? Get(string name) => _values.TryGetValue(name, out var l) ? l[^1] : null;

    public IReadOnlyList<string> GetAll(string name) => _values.TryGetValue(name, out var l) ? l : [];

    public bool Json(string sub)
    {
        string? o = Get("output");
        return o switch
        {
            null or "human" => false,
            "json" => true,
            _ => throw new ImageException($"{sub}: --output must be used with human or json as argument."),
        };
    }

    public ImageFormat? Format(string name) => Get(name) is { } f ? DiskImage.ParseFormat(f) : null;

    /// <summary>qemu's size grammar: bytes, or a number with k/K/M/G/T/P/E (powers of 1024); 'b' is bytes.</summary>
    public static long ParseSize(string s, string what)
    {
        if (string.IsNullOrEmpty(s))
        {
            throw new ImageException($"Invalid {what} specified: ''");
        }

        long mult = 1;
        string num = s;
        char last = s[^1];
        int shift = char.ToUpperInvariant(last) switch
        {
            'B' => 0,
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            'P' => 50,
            'E' => 60,
            _ => -1,
        };
        if (shift >= 0)
        {
            num = s[..^1];
            mult = 1L << shift;
        }

        if (!decimal.TryParse(num, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d) || d < 0)
        {
            throw new ImageException($"Invalid {what} specified: '{s}'. You may use k, M, G, T, P or E suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        }

        decimal v = d * mult;
        if (v > long.MaxValue)
        {
            throw new ImageException($"Invalid {what} specified: '{s}' is too large");
        }

        return (long)v;
    }

    /// <summary>qemu's size_to_str: three significant digits and a binary unit.</summary>
    public static string SizeToString(long v)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        int i = 0;
        double d = v;
        while (d >= 1024 && i < units.Length - 1)
        {
            d /= 1024;
            i++;
        }

        return $"{d.ToString("G3", CultureInfo.InvariantCulture)} {units[i]}";
    }

    /// <summary>
    /// qemu's option string split into its parts: comma-separated, ",," standing for a literal comma. Empty parts
    /// are kept, so callers decide whether "a,,,b" style gaps are an error.
    /// </summary>
    public static List<string> SplitQemuOptions(string s)
    {
        var parts = new List<string>();
        var cur = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == ',')
            {
                if (i + 1 < s.Length && s[i + 1] == ',')
                {
                    cur.Append(',');
                    i++;
                    continue;
                }

                parts.Add(cur.ToString());
                cur.Clear();
                continue;
            }

            cur.Append(s[i]);
        }

        parts.Add(cur.ToString());
        return parts;
    }
}
