using System.Text.Json;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

internal static class QmpQueries
{
    /// <summary>
    /// Serial/console chardevs QEMU backed with a pty, by device alias: QEMU names them <c>charserial0</c>
    /// and reports <c>filename: "pty:/dev/pts/N"</c>.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> QueryPtysAsync(this QmpClient qmp, CancellationToken ct)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonElement list = await qmp.ExecuteAsync("query-chardev", cancellationToken: ct).ConfigureAwait(false);
        if (list.ValueKind != JsonValueKind.Array)
        {
            return result;
        }

        foreach (var c in list.EnumerateArray())
        {
            string? label = c.TryGetProperty("label", out var l) ? l.GetString() : null;
            string? file = c.TryGetProperty("filename", out var f) ? f.GetString() : null;
            if (label is null || file is null || !file.StartsWith("pty:", StringComparison.Ordinal))
            {
                continue;
            }

            string alias = label.StartsWith("char", StringComparison.Ordinal) ? label[4..] : label;
            result[alias] = file[4..];
        }

        return result;
    }
}
