using System.Globalization;
using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>
/// The <c>Formatting 'x', fmt=... </c> line qemu-img create prints: options in the order of qemu's option list,
/// defaults included, sizes and numbers normalised, strings and booleans echoed as the user typed them.
/// </summary>
internal static class ImgCreateEcho
{
    // qemu 7.2's merged qcow2 + file option list, in the order qemu_opts_print walks it.
    private static readonly string[] Qcow2Order =
    [
        "encryption", "encrypt.format", "encrypt.key-secret", "encrypt.cipher-alg", "encrypt.cipher-mode", "encrypt.ivgen-alg",
        "encrypt.ivgen-hash-alg", "encrypt.hash-alg", "encrypt.iter-time", "cluster_size", "extended_l2", "preallocation",
        "compression_type", "size", "compat", "backing_file", "backing_fmt", "data_file", "data_file_raw", "lazy_refcounts",
        "refcount_bits", "nocow", "extent_size_hint",
    ];

    private static readonly string[] RawOrder = ["size", "preallocation", "nocow", "extent_size_hint"];

    private static readonly string[] LuksOrder =
    [
        "size", "key-secret", "cipher-alg", "cipher-mode", "ivgen-alg", "ivgen-hash-alg", "hash-alg", "iter-time", "preallocation",
        "nocow", "extent_size_hint",
    ];

    private static readonly Dictionary<string, string> Qcow2Defaults = new(StringComparer.Ordinal)
    {
        ["cluster_size"] = "65536",
        ["extended_l2"] = "off",
        ["compression_type"] = "zlib",
        ["lazy_refcounts"] = "off",
        ["refcount_bits"] = "16",
    };

    private static readonly HashSet<string> Numeric = new(StringComparer.Ordinal) { "cluster_size", "size", "extent_size_hint", "refcount_bits", "encrypt.iter-time", "iter-time" };

    public static string Line(string path, ImageFormat fmt, IEnumerable<string> optionStrings, string? backing, string? backingFmt, long size)
    {
        var given = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in optionStrings)
        {
            foreach (var kv in ImgCreateOptions.SplitOptions(s))
            {
                int eq = kv.IndexOf('=', StringComparison.Ordinal);
                string key = eq < 0 ? kv : kv[..eq];
                string val = eq < 0 ? "on" : kv[(eq + 1)..];
                if (Numeric.Contains(key))
                {
                    val = key is "refcount_bits" or "encrypt.iter-time" or "iter-time" ? long.TryParse(val, out long n) ? n.ToString(CultureInfo.InvariantCulture) : val
                        : ImgArgs.ParseSize(val, key).ToString(CultureInfo.InvariantCulture);
                }

                given[key] = val;
            }
        }

        if (backing is not null)
        {
            given["backing_file"] = backing;
        }

        if (backingFmt is not null)
        {
            given["backing_fmt"] = backingFmt;
        }

        given["size"] = size.ToString(CultureInfo.InvariantCulture);
        var parts = new List<string> { $"Formatting '{path}', fmt={DiskImage.FormatName(fmt)}" };
        string[] order = fmt switch
        {
            ImageFormat.Qcow2 => Qcow2Order,
            ImageFormat.Raw => RawOrder,
            _ => LuksOrder,
        };
        foreach (var key in order)
        {
            if (given.TryGetValue(key, out var v) || (fmt == ImageFormat.Qcow2 && Qcow2Defaults.TryGetValue(key, out v)))
            {
                // Secrets are named by id only; no option here carries a secret value.
                parts.Add($"{key}={v}");
            }
        }

        return string.Join(' ', parts);
    }
}
