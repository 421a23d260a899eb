using System.Xml;
using System.Xml.Linq;

namespace Vireo.Model;

/// <summary>
/// The one way Vireo reads XML from users: no DTD (a DOCTYPE is refused, so no entity expansion or external
/// fetches), no resolver, and a size limit. Every model parser (domain, network, pool, volume) goes through it.
/// </summary>
public static class SafeXml
{
    /// <summary>Largest document accepted: libvirt's own largest test files are under 40 KiB.</summary>
    public const int MaxDocumentChars = 4 * 1024 * 1024;

    /// <summary>Parses <paramref name="xml"/>, naming <paramref name="what"/> (e.g. "domain XML") in errors.</summary>
    public static XDocument Parse(string xml, string what)
    {
        if (xml.Length > MaxDocumentChars)
        {
            throw VireoException.Invalid($"{what} is {xml.Length} characters, more than the limit of {MaxDocumentChars}");
        }

        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxDocumentChars,
            MaxCharactersFromEntities = 0,
            IgnoreComments = false,
            CloseInput = true,
        };
        try
        {
            using var sr = new StringReader(xml);
            using var reader = XmlReader.Create(sr, settings);
            return XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e) when (e.Message.Contains("DTD", StringComparison.OrdinalIgnoreCase))
        {
            throw VireoException.Invalid($"{what}: DTDs and entity declarations are not allowed (line {e.LineNumber})");
        }
        catch (XmlException e)
        {
            throw VireoException.Invalid($"malformed {what}: {e.Message}");
        }
    }
}
