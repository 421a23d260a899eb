using System.Globalization;

namespace Vireo.Model.Storage;

/// <summary>
/// libvirt's scaled integers (<c>&lt;capacity unit='G'&gt;5&lt;/capacity&gt;</c>, <c>vol-create-as ... 10G</c>):
/// a single letter or <c>KiB</c>-style suffix is a power of 1024, <c>KB</c>-style a power of 1000, as virScaleInteger does.
/// </summary>
public static class StorageSize
{
    /// <summary>Parses a number with an optional unit suffix glued on (<c>10G</c>, <c>512MiB</c>, <c>4096</c>).</summary>
    public static long ParseWithSuffix(string text, string what, long defaultScale = 1)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        int i = 0;
        while (i < t.Length && char.IsAsciiDigit(t[i]))
        {
            i++;
        }

        if (i == 0)
        {
            throw VireoException.Invalid($"{what} '{text}' is not a size (expected a number with an optional unit such as 10G or 512MiB)");
        }

        string suffix = t[i..];
        return Scale(t[..i], suffix.Length == 0 ? null : suffix, what, defaultScale);
    }

    /// <summary>Parses the text of a sizing element with its <c>unit</c> attribute.</summary>
    public static long Parse(string value, string? unit, string what) => Scale(value.Trim(), unit, what, 1);

    private static long Scale(string number, string? unit, string what, long defaultScale)
    {
        if (!ulong.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n))
        {
            throw VireoException.Invalid($"{what} '{number}' is not a non-negative integer");
        }

        ulong scale = unit is null ? (ulong)defaultScale : UnitScale(unit, what);
        if (n != 0 && scale > long.MaxValue / n)
        {
            throw VireoException.Invalid($"{what} '{number}{unit}' is too large");
        }

        return checked((long)(n * scale));
    }

    private static ulong UnitScale(string unit, string what)
    {
        if (unit.Length == 0 || unit.Equals("b", StringComparison.OrdinalIgnoreCase) || unit.Equals("byte", StringComparison.OrdinalIgnoreCase) ||
            unit.Equals("bytes", StringComparison.OrdinalIgnoreCase))
        {
            return 1;
        }

        ulong b;
        if (unit.Length == 1 || unit[1..].Equals("iB", StringComparison.OrdinalIgnoreCase))
        {
            b = 1024;
        }
        else if (unit.Length == 2 && char.ToLowerInvariant(unit[1]) == 'b')
        {
            b = 1000;
        }
        else
        {
            throw VireoException.Invalid($"{what}: unknown unit '{unit}' (use b, K, KiB, KB, M, MiB, MB, G, GiB, GB, T, TiB, TB, P, E)");
        }

        int power = char.ToLowerInvariant(unit[0]) switch
        {
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            'e' => 6,
            _ => throw VireoException.Invalid($"{what}: unknown unit '{unit}' (use b, K, KiB, KB, M, MiB, MB, G, GiB, GB, T, TiB, TB, P, E)"),
        };
        ulong scale = 1;
        for (int p = 0; p < power; p++)
        {
            scale *= b;
        }

        return scale;
    }

    /// <summary>virsh's human figure (vshPrettyCapacity): <c>1.50 GiB</c>, <c>512.00 B</c>.</summary>
    public static string Human(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }

        return $"{v.ToString("0.00", CultureInfo.InvariantCulture)} {units[u]}";
    }
}
