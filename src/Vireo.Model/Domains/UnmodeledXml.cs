using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>
/// Attributes and child elements of one element that Vireo does not model. They are written back unchanged by
/// <see cref="DomainDefinition.ToXml"/>, so a definition round-trips without loss.
/// </summary>
public sealed class UnmodeledXml
{
    public static readonly UnmodeledXml Empty = new([], []);

    internal UnmodeledXml(IReadOnlyList<XAttribute> attributes, IReadOnlyList<XElement> elements)
    {
        Attributes = attributes;
        Elements = elements;
    }

    internal IReadOnlyList<XAttribute> Attributes { get; }

    internal IReadOnlyList<XElement> Elements { get; }

    public bool IsEmpty => Attributes.Count == 0 && Elements.Count == 0;

    /// <summary>Names of the unmodeled child elements, for diagnostics.</summary>
    public IEnumerable<string> ElementNames => Elements.Select(e => e.Name.LocalName);

    internal void WriteTo(XElement target)
    {
        foreach (XAttribute a in Attributes)
        {
            if (target.Attribute(a.Name) is null)
            {
                target.Add(new XAttribute(a));
            }
        }
        foreach (XElement e in Elements)
        {
            target.Add(new XElement(e));
        }
    }
}
