using System.Text;

namespace Vireo.Model.Storage;

/// <summary>
/// Writes XML the way libvirt's virBuffer does: two-space indent, single-quoted attributes, attributes with a
/// null value left out. Byte-for-byte output matters because users diff dumpxml against libvirt's.
/// </summary>
internal sealed class LibvirtXmlWriter
{
    private readonly StringBuilder _sb = new();
    private int _depth;

    public void Open(string name, params (string Name, string? Value)[] attributes)
    {
        StartTag(name, attributes);
        _sb.Append(">\n");
        _depth++;
    }

    public void Close(string name)
    {
        _depth--;
        Indent();
        _sb.Append("</").Append(name).Append(">\n");
    }

    public void Empty(string name, params (string Name, string? Value)[] attributes)
    {
        StartTag(name, attributes);
        _sb.Append("/>\n");
    }

    public void Text(string name, string? text, params (string Name, string? Value)[] attributes)
    {
        if (text is null)
        {
            return;
        }

        StartTag(name, attributes);
        _sb.Append('>').Append(Escape(text)).Append("</").Append(name).Append(">\n");
    }

    public override string ToString() => _sb.ToString();

    private void StartTag(string name, (string Name, string? Value)[] attributes)
    {
        Indent();
        _sb.Append('<').Append(name);
        foreach (var (n, v) in attributes)
        {
            if (v is not null)
            {
                _sb.Append(' ').Append(n).Append("='").Append(Escape(v)).Append('\'');
            }
        }
    }

    private void Indent() => _sb.Append(' ', _depth * 2);

    private static string Escape(string s)
    {
        if (s.AsSpan().IndexOfAny("<>&'\"") < 0)
        {
            return s;
        }

        var sb = new StringBuilder(s.Length + 8);
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '<' => "&lt;",
                '>' => "&gt;",
                '&' => "&amp;",
                '\'' => "&apos;",
                '"' => "&quot;",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }
}
