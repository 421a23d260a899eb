using System.Globalization;

namespace Vireo.Model.Domains;

/// <summary>libvirt's CPU/node set syntax: <c>0-3,8,^2</c> (ranges, single ids, exclusions).</summary>
public static class CpuSet
{
    public const int MaxId = 8191;

    /// <summary>Parses <paramref name="text"/> to a sorted list of ids; errors name <paramref name="field"/>.</summary>
    public static IReadOnlyList<int> Parse(string text, string field)
    {
        var set = new SortedSet<int>();
        var excluded = new HashSet<int>();
        foreach (string raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0)
            {
                throw VireoException.Invalid($"{field} '{text}' has an empty element");
            }
            bool exclude = raw[0] == '^';
            string part = exclude ? raw[1..] : raw;
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            int first = Id(dash < 0 ? part : part[..dash], text, field);
            int last = dash < 0 ? first : Id(part[(dash + 1)..], text, field);
            if (last < first)
            {
                throw VireoException.Invalid($"{field} '{text}' has a descending range '{part}'");
            }
            for (int i = first; i <= last; i++)
            {
                if (exclude)
                {
                    excluded.Add(i);
                }
                else
                {
                    set.Add(i);
                }
            }
        }
        set.ExceptWith(excluded);
        return [.. set];
    }

    /// <summary>Formats ids as ranges: [0,1,2,5] → <c>0-2,5</c>.</summary>
    public static string Format(IEnumerable<int> ids)
    {
        var sorted = ids.Distinct().Order().ToList();
        var parts = new List<string>();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }
            parts.Add(i == j
                ? sorted[i].ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{sorted[i]}-{sorted[j]}"));
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    /// <summary>The contiguous ranges, as QEMU's <c>cpus=a-b</c> lists want them.</summary>
    public static IEnumerable<(int First, int Last)> Ranges(IEnumerable<int> ids)
    {
        var sorted = ids.Distinct().Order().ToList();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }
            yield return (sorted[i], sorted[j]);
            i = j + 1;
        }
    }

    private static int Id(string s, string text, string field)
    {
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int id) && id <= MaxId)
        {
            return id;
        }
        throw VireoException.Invalid($"{field} '{text}' has an invalid id '{s}'");
    }
}
