using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>
/// LUKS create options as qemu-img names them: unprefixed for <c>-f luks</c> (<c>key-secret</c>,
/// <c>iter-time</c>, <c>cipher-alg</c>, ...), under <c>encrypt.</c> for qcow2 (<c>encrypt.format=luks</c>,
/// <c>encrypt.key-secret</c>, ...). Only aes in xts mode with plain64 IVs is written; anything else is
/// refused by name rather than silently replaced.
/// </summary>
internal static class ImgEncryptOptions
{
    public static bool TryApply(ref ImageCreateOptions o, string key, string val, ImageFormat format, IReadOnlyDictionary<string, byte[]>? secrets)
    {
        string? name = format switch
        {
            ImageFormat.Luks => key,
            ImageFormat.Qcow2 when key.StartsWith("encrypt.", StringComparison.Ordinal) => key["encrypt.".Length..],
            ImageFormat.Qcow2 when key == "encryption" => key,
            _ => null,
        };
        switch (name)
        {
            case "encryption":
                // qemu maps encryption=on to the legacy qcow2 AES scheme, which is broken by design.
                o = Bool(key, val)
                    ? throw new ImageException("encryption=on asks for legacy qcow2 AES encryption, which is not supported: use -o encrypt.format=luks,encrypt.key-secret=ID")
                    : o;
                return true;
            case "format" when format == ImageFormat.Qcow2:
                o = val switch
                {
                    "luks" => o with { Encrypted = true },
                    "aes" => throw new ImageException("encrypt.format=aes (legacy qcow2 AES encryption) is not supported: use encrypt.format=luks"),
                    _ => throw new ImageException($"Invalid parameter '{val}' for encrypt.format (luks)"),
                };
                return true;
            case "key-secret":
                o = o with
                {
                    Password = secrets is not null && secrets.TryGetValue(val, out var pw) ? pw
                        : throw new ImageException($"no secret with id '{val}' (define it with --object secret,id={val},data=...)"),
                };
                return true;
            case "iter-time":
                o = o with
                {
                    LuksIterTimeMs = int.TryParse(val, out int it) && it is > 0 and <= 600_000 ? it : throw new ImageException($"Invalid parameter '{val}' for {key} (milliseconds, 1 to 600000)"),
                };
                return true;
            case "cipher-alg":
                o = o with { LuksCipher = val is "aes-128" or "aes-192" or "aes-256" ? val : throw new ImageException($"{key}={val} is not supported (aes-128, aes-192, aes-256)") };
                return true;
            case "hash-alg":
                o = o with { LuksHash = IsHash(val) ? val : throw new ImageException($"{key}={val} is not supported (sha1, sha256, sha384, sha512)") };
                return true;
            case "cipher-mode":
                return val == "xts" ? true : throw new ImageException($"{key}={val} is not supported (only xts)");
            case "ivgen-alg":
                return val == "plain64" ? true : throw new ImageException($"{key}={val} is not supported (only plain64)");
            case "ivgen-hash-alg":
                // Only essiv uses it; with plain64 qemu ignores it too.
                return IsHash(val) ? true : throw new ImageException($"{key}={val} is not supported (sha1, sha256, sha384, sha512)");
            default:
                return false;
        }
    }

    /// <summary>Options that only make sense together, checked once all are read.</summary>
    public static void Validate(ImageCreateOptions o, ImageFormat format)
    {
        if (format == ImageFormat.Qcow2 && !o.Encrypted && o.Password is not null)
        {
            throw new ImageException("Parameter 'encrypt.format' is missing (encrypt.format=luks)");
        }
    }

    private static bool IsHash(string v) => v is "sha1" or "sha256" or "sha384" or "sha512";

    private static bool Bool(string key, string v) => v switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new ImageException($"Parameter '{key}' expects 'on' or 'off', not '{v}'"),
    };
}
