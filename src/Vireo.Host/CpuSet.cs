using System.Globalization;
using System.Text;
using Vireo.Model;

namespace Vireo.Host;

/// <summary>
/// A set of CPU (or NUMA node) numbers in the kernel's and libvirt's list syntax: <c>0-3,^2,8</c> — ranges,
/// single numbers, and <c>^N</c> exclusions applied after everything they follow. Immutable and sorted.
/// </summary>
public sealed class CpuSet : IEquatable<CpuSet>
{
    /// <summary>Upper bound on a member; the kernel's own NR_CPUS maximum is 8192.</summary>
    public const int MaxId = 8191;

    private readonly int[] _ids;

    private CpuSet(int[] ids)
    {
        _ids = ids;
    }

    public static CpuSet Empty { get; } = new([]);

    public IReadOnlyList<int> Ids => _ids;

    public int Count => _ids.Length;

    public bool IsEmpty => _ids.Length == 0;

    public int Max => _ids.Length == 0 ? -1 : _ids[^1];

    public bool Contains(int id) => Array.BinarySearch(_ids, id) >= 0;

    public static CpuSet Of(IEnumerable<int> ids) => new(ids.Distinct().Order().ToArray());

    /// <summary>Parses <paramref name="text"/>; <paramref name="field"/> names the field in the error (e.g. "vcpupin cpuset").</summary>
    public static CpuSet Parse(string? text, string field = "cpuset")
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw VireoException.Invalid($"{field} is empty");
        }

        var set = new SortedSet<int>();
        bool anyPositive = false;
        foreach (string raw in text.Split(','))
        {
            string part = raw.Trim();
            if (part.Length == 0)
            {
                throw VireoException.Invalid($"{field} '{text}' has an empty element");
            }

            bool exclude = part[0] == '^';
            if (exclude)
            {
                part = part[1..];
            }

            int dash = part.IndexOf('-', StringComparison.Ordinal);
            int lo, hi;
            if (dash < 0)
            {
                lo = hi = Number(part, text, field);
            }
            else
            {
                lo = Number(part[..dash], text, field);
                hi = Number(part[(dash + 1)..], text, field);
                if (hi < lo)
                {
                    throw VireoException.Invalid($"{field} '{text}' has a backwards range '{part}'");
                }
            }

            for (int i = lo; i <= hi; i++)
            {
                if (exclude)
                {
                    set.Remove(i);
                }
                else
                {
                    set.Add(i);
                }
            }

            anyPositive |= !exclude;
        }

        if (!anyPositive || set.Count == 0)
        {
            throw VireoException.Invalid($"{field} '{text}' selects no CPU");
        }

        return new CpuSet([.. set]);
    }

    /// <summary>Parses a kernel list file (<c>cpulist</c>, <c>online</c>), where an empty string is an empty set.</summary>
    public static CpuSet ParseKernelList(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Empty;
        }

        try
        {
            return Parse(text, "kernel cpu list");
        }
        catch (VireoException)
        {
            return Empty;
        }
    }

    /// <summary>Parses a kernel hex mask such as <c>00000000,0000000f</c> (cpumap, thread_siblings).</summary>
    public static CpuSet ParseMask(string text)
    {
        var ids = new List<int>();
        string hex = text.Replace(",", "", StringComparison.Ordinal).Trim();
        for (int i = 0; i < hex.Length; i++)
        {
            int nibble = int.Parse(hex.AsSpan(hex.Length - 1 - i, 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            for (int b = 0; b < 4; b++)
            {
                if ((nibble & (1 << b)) != 0)
                {
                    ids.Add(i * 4 + b);
                }
            }
        }

        return Of(ids);
    }

    /// <summary>The shortest list form: <c>0-3,8</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        int i = 0;
        while (i < _ids.Length)
        {
            int start = _ids[i];
            int end = start;
            while (i + 1 < _ids.Length && _ids[i + 1] == end + 1)
            {
                end = _ids[++i];
            }

            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(start.ToString(CultureInfo.InvariantCulture));
            if (end > start)
            {
                sb.Append('-').Append(end.ToString(CultureInfo.InvariantCulture));
            }

            i++;
        }

        return sb.ToString();
    }

    /// <summary>virsh's vcpuinfo affinity row: one 'y' or '-' per host CPU.</summary>
    public string ToAffinityString(int hostCpus)
    {
        var chars = new char[hostCpus];
        for (int c = 0; c < hostCpus; c++)
        {
            chars[c] = Contains(c) ? 'y' : '-';
        }

        return new string(chars);
    }

    public CpuSet Except(CpuSet other) => Of(_ids.Where(i => !other.Contains(i)));

    public bool Equals(CpuSet? other) => other is not null && _ids.AsSpan().SequenceEqual(other._ids);

    public override bool Equals(object? obj) => obj is CpuSet c && Equals(c);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int i in _ids)
        {
            h.Add(i);
        }

        return h.ToHashCode();
    }

    private static int Number(string s, string text, string field)
    {
        if (s.Length == 0 || !s.All(char.IsAsciiDigit) || !int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            throw VireoException.Invalid($"{field} '{text}' has '{s}', which is not a CPU number");
        }

        if (n > MaxId)
        {
            throw VireoException.Invalid($"{field} '{text}' names CPU {n}, beyond the largest possible {MaxId}");
        }

        return n;
    }
}
