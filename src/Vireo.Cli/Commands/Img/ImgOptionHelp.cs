using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>
/// <c>-o help</c> (or <c>-o ?</c>) for create, convert, measure and amend: the options Vireo takes for a
/// format, in qemu-img's words and layout. What qemu lists and Vireo refuses (an external data file, legacy
/// AES, nocow, key-slot changes) is left out, so the list is what works.
/// </summary>
internal static class ImgOptionHelp
{
    private static readonly (string Name, string Type, string Help)[] Size = [("size", "size", "Virtual disk size")];

    private static readonly (string Name, string Type, string Help)[] Qcow2 =
    [
        ("backing_file", "str", "File name of a base image"),
        ("backing_fmt", "str", "Image format of the base image"),
        ("cluster_size", "size", "qcow2 cluster size"),
        ("compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"),
        ("compression_type", "str", "Compression method used for image cluster compression"),
        ("encrypt.cipher-alg", "str", "Name of encryption cipher algorithm"),
        ("encrypt.cipher-mode", "str", "Name of encryption cipher mode"),
        ("encrypt.format", "str", "Encrypt the image, format choices: 'luks'"),
        ("encrypt.hash-alg", "str", "Name of encryption hash algorithm"),
        ("encrypt.iter-time", "num", "Time to spend in PBKDF in milliseconds"),
        ("encrypt.ivgen-alg", "str", "Name of IV generator algorithm"),
        ("encrypt.ivgen-hash-alg", "str", "Name of IV generator hash algorithm"),
        ("encrypt.key-secret", "str", "ID of secret providing qcow AES key or LUKS passphrase"),
        ("extended_l2", "bool (on/off)", "Extended L2 tables"),
        ("lazy_refcounts", "bool (on/off)", "Postpone refcount updates"),
        ("preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)"),
        ("refcount_bits", "num", "Width of a reference count entry in bits"),
        .. Size,
    ];

    private static readonly (string Name, string Type, string Help)[] Luks =
    [
        ("cipher-alg", "str", "Name of encryption cipher algorithm"),
        ("cipher-mode", "str", "Name of encryption cipher mode"),
        ("hash-alg", "str", "Name of encryption hash algorithm"),
        ("iter-time", "num", "Time to spend in PBKDF in milliseconds"),
        ("ivgen-alg", "str", "Name of IV generator algorithm"),
        ("ivgen-hash-alg", "str", "Name of IV generator hash algorithm"),
        ("key-secret", "str", "ID of the secret that provides the keyslot passphrase"),
        .. Size,
    ];

    // The file protocol's own options, which qemu merges in when a file name is given.
    private static readonly (string Name, string Type, string Help)[] File =
    [
        ("extent_size_hint", "size", "Extent size hint for the image file, 0 to disable"),
        ("preallocation", "str", "Preallocation mode (allowed values: off, falloc, full)"),
        .. Size,
    ];

    private static readonly (string Name, string Type, string Help)[] Qcow2Amend =
    [
        ("backing_file", "str", "File name of a base image"),
        ("backing_fmt", "str", "Image format of the base image"),
        ("compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])"),
        ("lazy_refcounts", "bool (on/off)", "Postpone refcount updates"),
    ];

    /// <summary>True when an -o string asks for help: a <c>help</c> or <c>?</c> item anywhere in it, as qemu-img reads it.</summary>
    public static bool Asked(IEnumerable<string> optionStrings) =>
        optionStrings.Any(s => ImgCreateOptions.SplitOptions(s).Any(kv => kv is "help" or "?"));

    /// <summary>
    /// The creation options of <paramref name="format"/>; with a file name, merged with the file's own and
    /// sorted, under qemu's "Supported options:" heading.
    /// </summary>
    public static int PrintCreate(TextWriter o, ImageFormat format, string? fileName)
    {
        var own = format switch
        {
            ImageFormat.Qcow2 => Qcow2,
            ImageFormat.Luks => Luks,
            _ => Size,
        };
        if (fileName is null)
        {
            Print(o, $"Supported {DiskImage.FormatName(format)} options:", own);
            o.WriteLine();
            o.WriteLine("The protocol level may support further options.");
            o.WriteLine("Specify the target filename to include those options.");
            return 0;
        }

        var merged = own.Concat(File).DistinctBy(e => e.Name).OrderBy(e => e.Name, StringComparer.Ordinal).ToArray();
        Print(o, "Supported options:", merged);
        return 0;
    }

    public static int PrintAmend(TextWriter o, ImageFormat format)
    {
        if (format != ImageFormat.Qcow2)
        {
            throw new ImageException($"Format driver '{DiskImage.FormatName(format)}' does not support option amendment");
        }

        Print(o, "Amend options for 'qcow2':", Qcow2Amend);
        return 0;
    }

    private static void Print(TextWriter o, string heading, IEnumerable<(string Name, string Type, string Help)> options)
    {
        o.WriteLine(heading);
        foreach (var (name, type, help) in options)
        {
            o.WriteLine($"  {$"{name}=<{type}>",-22} - {help}");
        }
    }
}
