using System.Text;
using System.Text.Json;

namespace Vireo.Cli;

/// <summary>Tables laid out as virsh lays them, and JSON written without reflection (the CLI is AOT).</summary>
internal static class Output
{
    /// <summary>virsh's table: a header, a dashed rule, left-aligned columns separated by spaces.</summary>
    public static void Table(TextWriter w, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, string indent = " ")
    {
        var all = rows.ToList();
        var widths = new int[headers.Count];
        for (int c = 0; c < headers.Count; c++)
        {
            widths[c] = headers[c].Length;
            foreach (var r in all)
            {
                widths[c] = Math.Max(widths[c], r[c].Length);
            }
        }

        var sb = new StringBuilder();
        sb.Append(indent);
        for (int c = 0; c < headers.Count; c++)
        {
            sb.Append(c == headers.Count - 1 ? headers[c] : headers[c].PadRight(widths[c] + 3));
        }

        w.WriteLine(sb.ToString().TrimEnd());
        w.WriteLine(new string('-', Math.Max(sb.ToString().TrimEnd().Length, 1) + 1));
        foreach (var r in all)
        {
            sb.Clear();
            sb.Append(indent);
            for (int c = 0; c < headers.Count; c++)
            {
                sb.Append(c == headers.Count - 1 ? r[c] : r[c].PadRight(widths[c] + 3));
            }

            w.WriteLine(sb.ToString().TrimEnd());
        }

        w.WriteLine();
    }

    /// <summary>virsh's key/value info layout: <c>Name:           web1</c>.</summary>
    public static void KeyValues(TextWriter w, IEnumerable<(string Key, string Value)> pairs)
    {
        foreach (var (k, v) in pairs)
        {
            w.WriteLine($"{(k + ":").PadRight(16)}{v}".TrimEnd());
        }

        w.WriteLine();
    }

    /// <summary>Writes one indented JSON document built by <paramref name="build"/>.</summary>
    public static void Json(TextWriter w, Action<Utf8JsonWriter> build)
    {
        using var ms = new MemoryStream();
        using (var jw = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            build(jw);
        }

        w.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
    }

    /// <summary>Writes a listing as a JSON array, one object per item, the object's members by <paramref name="members"/>.</summary>
    public static void JsonArray<T>(TextWriter w, IEnumerable<T> items, Action<Utf8JsonWriter, T> members) => Json(w, jw =>
    {
        jw.WriteStartArray();
        foreach (var item in items)
        {
            jw.WriteStartObject();
            members(jw, item);
            jw.WriteEndObject();
        }

        jw.WriteEndArray();
    });
}
