using System.Globalization;
using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>Small helpers for writing libvirt-style XML: attributes only when set, numbers invariant.</summary>
internal static class XmlOut
{
    public static XElement Attr(this XElement e, string name, string? value)
    {
        if (value is not null)
        {
            e.SetAttributeValue(name, value);
        }
        return e;
    }

    public static XElement Attr(this XElement e, string name, long? value) =>
        value is long v ? e.Attr(name, v.ToString(CultureInfo.InvariantCulture)) : e;

    public static XElement YesNo(this XElement e, string name, bool? value) =>
        value is bool v ? e.Attr(name, v ? "yes" : "no") : e;

    public static XElement OnOff(this XElement e, string name, bool? value) =>
        value is bool v ? e.Attr(name, v ? "on" : "off") : e;

    public static XElement Child(this XElement e, XElement? child)
    {
        if (child is not null)
        {
            e.Add(child);
        }
        return e;
    }

    public static XElement TextChild(this XElement e, string name, string? text)
    {
        if (text is not null)
        {
            e.Add(new XElement(name, text));
        }
        return e;
    }

    public static XElement With(this XElement e, UnmodeledXml extra)
    {
        extra.WriteTo(e);
        return e;
    }

    public static string Text(long v) => v.ToString(CultureInfo.InvariantCulture);
}
