using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>Parses <c>-o key=value,...</c> into <see cref="ImageCreateOptions"/>; unknown keys are errors naming the key.</summary>
internal static class ImgCreateOptions
{
    public static ImageCreateOptions Apply(ImageCreateOptions o, IEnumerable<string> optionStrings, ImageFormat format, IReadOnlyDictionary<string, byte[]>? secrets = null)
    {
        foreach (var s in optionStrings)
        {
            foreach (var kv in SplitOptions(s))
            {
                int eq = kv.IndexOf('=', StringComparison.Ordinal);
                string key = eq < 0 ? kv : kv[..eq];
                string val = eq < 0 ? "on" : kv[(eq + 1)..];
                if (ImgEncryptOptions.TryApply(ref o, key, val, format, secrets))
                {
                    continue;
                }

                o = key switch
                {
                    "size" => o with { Size = ImgArgs.ParseSize(val, "image size") },
                    "cluster_size" when format == ImageFormat.Qcow2 => o with { ClusterSize = (int)ImgArgs.ParseSize(val, "cluster_size") },
                    "compat" when format == ImageFormat.Qcow2 => o with
                    {
                        Version = val switch
                        {
                            "0.10" or "v2" => 2,
                            "1.1" or "v3" => 3,
                            _ => throw new ImageException($"Invalid parameter '{val}' for compat"),
                        },
                    },
                    "lazy_refcounts" when format == ImageFormat.Qcow2 => o with { LazyRefcounts = Bool(key, val) },
                    "extended_l2" when format == ImageFormat.Qcow2 => o with { ExtendedL2 = Bool(key, val) },
                    "refcount_bits" when format == ImageFormat.Qcow2 => o with { RefcountBits = int.TryParse(val, out int rb) ? rb : throw new ImageException($"Invalid parameter '{val}' for refcount_bits") },
                    "compression_type" when format == ImageFormat.Qcow2 => o with
                    {
                        CompressionType = val switch
                        {
                            "zlib" => CompressionType.Zlib,
                            "zstd" => CompressionType.Zstd,
                            _ => throw new ImageException($"Invalid parameter '{val}' for compression_type"),
                        },
                    },
                    "preallocation" => o with
                    {
                        Preallocation = val switch
                        {
                            "off" => Preallocation.Off,
                            "metadata" when format == ImageFormat.Qcow2 => Preallocation.Metadata,
                            "falloc" => Preallocation.Falloc,
                            "full" => Preallocation.Full,
                            _ => throw new ImageException($"Invalid parameter '{val}' for preallocation"),
                        },
                    },
                    "backing_file" when format == ImageFormat.Qcow2 => o with { BackingFile = val },
                    "backing_fmt" when format == ImageFormat.Qcow2 => o with { BackingFormat = DiskImage.ParseFormat(val) },
                    // File-level options qemu takes for every format: the hint only matters on XFS (Vireo sets none).
                    "extent_size_hint" => Validated(o, ImgArgs.ParseSize(val, key)),
                    "nocow" => Bool(key, val) ? throw new ImageException("nocow=on is not supported by Vireo (on btrfs, mark the directory with 'chattr +C' instead)") : o,
                    "data_file" or "data_file_raw" when format == ImageFormat.Qcow2 =>
                        throw new ImageException($"{key}: creating a qcow2 image with an external data file is not supported (Vireo reads such images, it does not create them)"),
                    "encryption" when format == ImageFormat.Qcow2 => Bool(key, val)
                        ? throw new ImageException("encryption=on (qcow2's legacy AES) is not supported: qemu deprecates it; use LUKS")
                        : o,
                    _ => throw new ImageException($"Invalid parameter '{key}' for format '{DiskImage.FormatName(format)}'"),
                };
            }
        }

        ImgEncryptOptions.Validate(o, format);
        return o;
    }

    private static ImageCreateOptions Validated(ImageCreateOptions o, long value) => value >= 0 ? o : throw new ImageException($"Invalid size {value}");

    private static bool Bool(string key, string v) => v switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new ImageException($"Parameter '{key}' expects 'on' or 'off', not '{v}'"),
    };

    /// <summary>The non-empty parts of a -o string (qemu-img skips empty ones there).</summary>
    internal static IEnumerable<string> SplitOptions(string s) => ImgArgs.SplitQemuOptions(s).Where(p => p.Length > 0);
}
