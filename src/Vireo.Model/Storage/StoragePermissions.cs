using System.Globalization;
using System.Xml.Linq;

namespace Vireo.Model.Storage;

/// <summary>
/// <c>&lt;permissions&gt;</c> of a pool target or volume: mode (octal), owner and group (numeric ids, -1 meaning
/// "leave as is"), and a security label.
/// </summary>
public sealed record StoragePermissions(int? Mode, long? Owner, long? Group, string? Label)
{
    internal static StoragePermissions? Parse(XElement? e, string what)
    {
        if (e is null)
        {
            return null;
        }

        int? mode = null;
        string? m = e.Element("mode")?.Value.Trim();
        if (!string.IsNullOrEmpty(m))
        {
            try
            {
                int v = Convert.ToInt32(m, 8);
                if (v is < 0 or > 0x1FF + 0xE00)
                {
                    throw new FormatException();
                }

                mode = v;
            }
            catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
            {
                throw VireoException.Invalid($"{what} permissions: mode '{m}' is not an octal file mode");
            }
        }

        return new StoragePermissions(mode, Id(e.Element("owner"), what, "owner"), Id(e.Element("group"), what, "group"),
            e.Element("label")?.Value.Trim());
    }

    private static long? Id(XElement? e, string what, string field)
    {
        if (e is null)
        {
            return null;
        }

        string v = e.Value.Trim();
        if (!long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long id) || id < -1 || id > uint.MaxValue)
        {
            throw VireoException.Invalid($"{what} permissions: {field} '{v}' is not a numeric id");
        }

        return id == -1 ? null : id;
    }

    internal void Write(LibvirtXmlWriter w)
    {
        w.Open("permissions");
        if (Mode is int mode)
        {
            w.Text("mode", "0" + Convert.ToString(mode, 8));
        }

        w.Text("owner", Owner?.ToString(CultureInfo.InvariantCulture));
        w.Text("group", Group?.ToString(CultureInfo.InvariantCulture));
        w.Text("label", Label);
        w.Close("permissions");
    }
}
