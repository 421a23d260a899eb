using System.Globalization;
using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// Reads one element of user XML and remembers which attributes and children the model consumed, so that
/// whatever is left over can be preserved on write (or refused when it would change the VM).
/// </summary>
internal sealed class XmlCursor
{
    private readonly HashSet<XName> _usedAttributes = [];
    private readonly HashSet<XElement> _usedChildren = [];

    public XmlCursor(XElement element, string path, ParseContext context)
    {
        Element = element;
        Path = path;
        Context = context;
    }

    public XElement Element { get; }

    /// <summary>Where this element sits, e.g. <c>devices/disk</c>, for error messages.</summary>
    public string Path { get; }

    public ParseContext Context { get; }

    public string? Attr(string name)
    {
        _usedAttributes.Add(name);
        return Element.Attribute(name)?.Value;
    }

    public string Require(string name)
    {
        string? value = Attr(name);
        if (string.IsNullOrEmpty(value))
        {
            throw VireoException.Invalid($"<{Path}> is missing the attribute '{name}'");
        }
        return value;
    }

    public int? IntAttr(string name) => ParseInt(Attr(name), name);

    public long? LongAttr(string name) => ParseLong(Attr(name), name);

    /// <summary>libvirt writes many numbers (PCI address parts, ports) in hex with <c>0x</c> or in decimal.</summary>
    public int? IntAttrAnyBase(string name)
    {
        string? v = Attr(name);
        if (v is null)
        {
            return null;
        }
        v = v.Trim();
        if (v.StartsWith("0x", StringComparison.OrdinalIgnoreCase) &&
            int.TryParse(v.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int hex) && hex >= 0)
        {
            return hex;
        }
        return ParseInt(v, name);
    }

    public bool? YesNo(string name)
    {
        string? v = Attr(name);
        return v switch
        {
            null => null,
            "yes" or "on" => true,
            "no" or "off" => false,
            _ => throw VireoException.Invalid($"<{Path} {name}='{v}'> must be 'yes' or 'no'"),
        };
    }

    public T? Enum<T>(string name, IReadOnlyDictionary<string, T> values) where T : struct
    {
        string? v = Attr(name);
        if (v is null)
        {
            return null;
        }
        if (values.TryGetValue(v, out T result))
        {
            return result;
        }
        throw VireoException.Invalid($"<{Path} {name}='{v}'> is not one of: {string.Join(", ", values.Keys)}");
    }

    /// <summary>An attribute limited to a set of words; anything else is refused as unsupported.</summary>
    public string? OneOf(string name, params string[] allowed)
    {
        string? v = Attr(name);
        if (v is null || Array.IndexOf(allowed, v) >= 0)
        {
            return v;
        }
        throw VireoException.Unsupported($"unsupported value '{v}' for <{Path} {name}>; Vireo supports: {string.Join(", ", allowed)}");
    }

    public XmlCursor? Child(string name)
    {
        XElement? e = Element.Element(name);
        if (e is null)
        {
            return null;
        }
        _usedChildren.Add(e);
        return new XmlCursor(e, Sub(name), Context);
    }

    public IEnumerable<XmlCursor> Children(string name)
    {
        foreach (XElement e in Element.Elements(name))
        {
            _usedChildren.Add(e);
            yield return new XmlCursor(e, Sub(name), Context);
        }
    }

    public string? ChildText(string name)
    {
        XElement? e = Element.Element(name);
        if (e is null)
        {
            return null;
        }
        _usedChildren.Add(e);
        return e.Value;
    }

    public bool HasChild(string name)
    {
        XElement? e = Element.Element(name);
        if (e is null)
        {
            return false;
        }
        _usedChildren.Add(e);
        return true;
    }

    public string Text => Element.Value;

    private string Sub(string name) => Path.Length == 0 ? name : Path + "/" + name;

    public int? ParseInt(string? value, string field)
    {
        if (value is null)
        {
            return null;
        }
        if (int.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int result))
        {
            return result;
        }
        throw VireoException.Invalid($"<{Path} {field}='{value}'> is not an integer");
    }

    public long? ParseLong(string? value, string field)
    {
        if (value is null)
        {
            return null;
        }
        if (long.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long result))
        {
            return result;
        }
        throw VireoException.Invalid($"<{Path} {field}='{value}'> is not an integer");
    }

    /// <summary>
    /// The attributes and children the model did not read. They are kept for the writer, and each child element is
    /// reported to the context, which refuses those that are not known to be harmless.
    /// </summary>
    public UnmodeledXml Leftovers()
    {
        List<XAttribute>? attributes = null;
        foreach (XAttribute a in Element.Attributes())
        {
            if (a.IsNamespaceDeclaration || _usedAttributes.Contains(a.Name))
            {
                continue;
            }
            (attributes ??= []).Add(new XAttribute(a));
        }
        List<XElement>? elements = null;
        foreach (XElement e in Element.Elements())
        {
            if (_usedChildren.Contains(e))
            {
                continue;
            }
            Context.ReportUnmodeled(Path, e);
            (elements ??= []).Add(new XElement(e));
        }
        return attributes is null && elements is null
            ? UnmodeledXml.Empty
            : new UnmodeledXml(attributes ?? [], elements ?? []);
    }
}
