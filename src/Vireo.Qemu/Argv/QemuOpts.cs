using System.Globalization;
using System.Text;

namespace Vireo.Qemu.Argv;

/// <summary>
/// One option value (<c>-device</c>, <c>-blockdev</c>, <c>-chardev</c>...) as an ordered list of typed properties.
/// Renders as QEMU's key=value syntax with commas doubled, or as JSON when it holds a list (which key=value
/// cannot express).
/// </summary>
internal sealed class QemuOpts
{
    private readonly List<(string Key, object Value)> _props = [];

    /// <param name="head">The implied first value (driver, backend type), rendered bare; null for none.</param>
    /// <param name="headKey">The key the head has in JSON (<c>driver</c>, <c>qom-type</c>, <c>type</c>, <c>backend</c>).</param>
    public QemuOpts(string? head = null, string headKey = "driver")
    {
        Head = head;
        HeadKey = headKey;
    }

    public string? Head { get; }

    public string HeadKey { get; }

    public IReadOnlyList<(string Key, object Value)> Properties => _props;

    public QemuOpts Add(string key, string? value)
    {
        if (value is not null)
        {
            _props.Add((key, value));
        }
        return this;
    }

    public QemuOpts Add(string key, long? value)
    {
        if (value is long v)
        {
            _props.Add((key, v));
        }
        return this;
    }

    public QemuOpts Add(string key, bool? value)
    {
        if (value is bool v)
        {
            _props.Add((key, v));
        }
        return this;
    }

    /// <summary>A null value: <c>key=</c> in key=value syntax (QEMU's keyval null), <c>null</c> in JSON.</summary>
    public QemuOpts AddNull(string key)
    {
        _props.Add((key, NullValue.Instance));
        return this;
    }

    public QemuOpts AddList(string key, IReadOnlyList<long> values)
    {
        _props.Add((key, values));
        return this;
    }

    public bool Has(string key) => _props.Exists(p => p.Key == key);

    /// <summary>A comma inside a value must be doubled for QEMU's option parser.</summary>
    public static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    public bool NeedsJson => _props.Exists(p => p.Value is IReadOnlyList<long>);

    public override string ToString() => NeedsJson ? ToJson() : ToKeyValue();

    public string ToKeyValue()
    {
        var sb = new StringBuilder();
        if (Head is not null)
        {
            sb.Append(Escape(Head));
        }
        foreach (var (key, value) in _props)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }
            sb.Append(key).Append('=').Append(Escape(Text(value)));
        }
        return sb.ToString();
    }

    public string ToJson()
    {
        var sb = new StringBuilder("{");
        bool first = true;
        if (Head is not null)
        {
            AppendJson(sb, HeadKey, Head, ref first);
        }
        foreach (var (key, value) in _props)
        {
            AppendJson(sb, key, value, ref first);
        }
        return sb.Append('}').ToString();
    }

    private static void AppendJson(StringBuilder sb, string key, object value, ref bool first)
    {
        if (!first)
        {
            sb.Append(',');
        }
        first = false;
        JsonString(sb, key);
        sb.Append(':');
        switch (value)
        {
            case string s:
                JsonString(sb, s);
                break;
            case bool b:
                sb.Append(b ? "true" : "false");
                break;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case NullValue:
                sb.Append("null");
                break;
            case IReadOnlyList<long> list:
                sb.Append('[').AppendJoin(',', list.Select(x => x.ToString(CultureInfo.InvariantCulture))).Append(']');
                break;
        }
    }

    private static void JsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"':
                    sb.Append("\\\"");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                case < ' ':
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    private static string Text(object value) => value switch
    {
        string s => s,
        bool b => b ? "on" : "off",
        long l => l.ToString(CultureInfo.InvariantCulture),
        NullValue => "",
        _ => throw new InvalidOperationException("lists are rendered as JSON"),
    };
}

/// <summary>Marks a property whose value is JSON null.</summary>
internal sealed class NullValue
{
    public static readonly NullValue Instance = new();

    private NullValue()
    {
    }
}
