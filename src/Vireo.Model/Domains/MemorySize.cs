using System.Globalization;

namespace Vireo.Model.Domains;

/// <summary>libvirt's scaled integers: a value with a <c>unit</c> attribute, normalised to KiB as libvirt does.</summary>
public static class MemorySize
{
    /// <summary>
    /// Converts <paramref name="value"/> in <paramref name="unit"/> to KiB, rounding up to a whole KiB.
    /// Units follow libvirt: <c>b</c>/<c>bytes</c>; <c>k</c>, <c>KiB</c> (1024); <c>KB</c> (1000); likewise M, G, T, P, E;
    /// case-insensitive; no unit means <paramref name="defaultUnit"/>.
    /// </summary>
    public static long ToKiB(string value, string? unit, string field, string defaultUnit = "KiB")
    {
        string text = value.Trim();
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number))
        {
            throw VireoException.Invalid($"{field} '{value}' is not a non-negative integer");
        }
        string u = string.IsNullOrWhiteSpace(unit) ? defaultUnit : unit.Trim();
        ulong scale = UnitScale(u) ??
            throw VireoException.Invalid($"{field} has unknown unit '{unit}'; use b, KB, KiB, MB, MiB, GB, GiB, TB, TiB, PB, PiB, EB or EiB");
        ulong bytes;
        try
        {
            bytes = checked(number * scale);
        }
        catch (OverflowException)
        {
            throw VireoException.Invalid($"{field} '{value} {u}' is too large");
        }
        ulong kib = bytes / 1024 + (bytes % 1024 == 0 ? 0UL : 1UL);
        if (kib > long.MaxValue / 1024)
        {
            throw VireoException.Invalid($"{field} '{value} {u}' is too large");
        }
        return (long)kib;
    }

    /// <summary>Bytes per unit, or null for an unknown unit.</summary>
    public static ulong? UnitScale(string unit)
    {
        if (unit.Length == 0)
        {
            return null;
        }
        if (unit.Equals("b", StringComparison.OrdinalIgnoreCase) || unit.Equals("bytes", StringComparison.OrdinalIgnoreCase))
        {
            return 1;
        }
        int power = char.ToLowerInvariant(unit[0]) switch
        {
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            'e' => 6,
            _ => 0,
        };
        if (power == 0)
        {
            return null;
        }
        string rest = unit[1..];
        ulong baseValue;
        if (rest.Length == 0 || rest.Equals("ib", StringComparison.OrdinalIgnoreCase))
        {
            baseValue = 1024;
        }
        else if (rest.Equals("b", StringComparison.OrdinalIgnoreCase))
        {
            baseValue = 1000;
        }
        else
        {
            return null;
        }
        ulong scale = 1;
        for (int i = 0; i < power; i++)
        {
            scale *= baseValue;
        }
        return scale;
    }
}
