using System.Globalization;
using System.Security;
using System.Text;
using System.Xml.Linq;

namespace Vireo.Host.Xml;

/// <summary>
/// Serializes an element the way libvirt prints XML: two-space indent, single-quoted attributes, empty
/// elements as <c>&lt;x/&gt;</c>, text-only elements on one line. Users diff our output against virsh's.
/// </summary>
public static class LibvirtXml
{
    public static string Format(XElement root)
    {
        var sb = new StringBuilder();
        Write(sb, root, 0);
        return sb.ToString();
    }

    internal static XElement Attr(this XElement e, string name, object? value)
    {
        if (value is not null)
        {
            e.SetAttributeValue(name, Convert.ToString(value, CultureInfo.InvariantCulture));
        }

        return e;
    }

    internal static XElement Text(string name, object value) =>
        new(name, Convert.ToString(value, CultureInfo.InvariantCulture));

    private static void Write(StringBuilder sb, XElement e, int depth)
    {
        string indent = new(' ', depth * 2);
        sb.Append(indent).Append('<').Append(e.Name.LocalName);
        foreach (var a in e.Attributes())
        {
            sb.Append(' ').Append(a.Name.LocalName).Append("='").Append(Escape(a.Value).Replace("'", "&apos;", StringComparison.Ordinal)).Append('\'');
        }

        var children = e.Elements().ToList();
        if (children.Count == 0)
        {
            if (e.Value.Length == 0)
            {
                sb.Append("/>\n");
            }
            else
            {
                sb.Append('>').Append(Escape(e.Value)).Append("</").Append(e.Name.LocalName).Append(">\n");
            }

            return;
        }

        sb.Append(">\n");
        foreach (var c in children)
        {
            // libvirt separates the capabilities' host and guest sections with a blank line.
            if (e.Name.LocalName == "capabilities")
            {
                sb.Append('\n');
            }

            Write(sb, c, depth + 1);
        }

        if (e.Name.LocalName == "capabilities")
        {
            sb.Append('\n');
        }

        sb.Append(indent).Append("</").Append(e.Name.LocalName).Append(">\n");
    }

    private static string Escape(string s) => SecurityElement.Escape(s)!.Replace("&apos;", "'", StringComparison.Ordinal).Replace("&quot;", "\"", StringComparison.Ordinal);
}
