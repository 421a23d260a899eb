using System.Text;
using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>An image named on the command line: a file name, or an <c>--image-opts</c> option string.</summary>
internal sealed record ImgSource(string Path, ImageFormat? Format, byte[]? Password)
{
    /// <summary>The key of an encrypted backing file (<c>backing.encrypt.key-secret</c>), when not <see cref="Password"/>.</summary>
    public byte[]? BackingPassword { get; init; }

    public ImageOpenOptions OpenOptions => new() { Password = Password, BackingPassword = BackingPassword };
}

/// <summary>
/// qemu-img's secrets: <c>--object secret,id=ID,data=VALUE|file=PATH[,format=raw|base64]</c>, named by
/// <c>encrypt.key-secret=ID</c> in <c>--image-opts</c> or <c>-o</c>, or by Vireo's shorter <c>--key-secret ID</c>.
/// Secret values never appear in messages.
/// </summary>
internal static class ImgSecrets
{
    /// <summary>All <c>--object secret,...</c> definitions, by id.</summary>
    public static Dictionary<string, byte[]> Parse(ImgArgs a)
    {
        var r = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var spec in a.GetAll("object"))
        {
            var kv = SplitOptions(spec, "--object", firstIsType: true, out string type);
            if (type != "secret")
            {
                throw new ImageException($"--object: type '{type}' is not supported (only secret)");
            }

            string id = kv.TryGetValue("id", out var i) && i.Length > 0 ? i : throw new ImageException("--object secret: parameter 'id' is missing");
            kv.TryGetValue("data", out var data);
            kv.TryGetValue("file", out var file);
            foreach (var k in kv.Keys)
            {
                if (k is not ("id" or "data" or "file" or "format"))
                {
                    throw new ImageException($"--object secret '{id}': unknown parameter '{k}'");
                }
            }

            if ((data is null) == (file is null))
            {
                throw new ImageException($"--object secret '{id}': give exactly one of 'data' and 'file'");
            }

            byte[] value;
            if (data is not null)
            {
                value = Encoding.UTF8.GetBytes(data);
            }
            else
            {
                try
                {
                    value = File.ReadAllBytes(file!);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ImageException($"--object secret '{id}': cannot read file '{file}': {e.Message}");
                }
            }

            string format = kv.TryGetValue("format", out var f) ? f : "raw";
            if (format == "base64")
            {
                try
                {
                    value = Convert.FromBase64String(Encoding.ASCII.GetString(value).Trim());
                }
                catch (FormatException)
                {
                    throw new ImageException($"--object secret '{id}': the value is not valid base64");
                }
            }
            else if (format != "raw")
            {
                throw new ImageException($"--object secret '{id}': invalid format '{format}' (raw or base64)");
            }

            if (!r.TryAdd(id, value))
            {
                throw new ImageException($"--object: duplicate id '{id}'");
            }
        }

        return r;
    }

    /// <summary>
    /// The image a positional names: with <c>--image-opts</c> an option string
    /// (<c>driver=qcow2,file.filename=x.qcow2,encrypt.key-secret=sec0</c>), else a file name whose format
    /// is <paramref name="format"/> and whose key is <c>--key-secret</c>.
    /// </summary>
    public static ImgSource Source(ImgArgs a, Dictionary<string, byte[]> secrets, string positional, ImageFormat? format)
    {
        if (!a.Has("image-opts"))
        {
            return new ImgSource(positional, format, a.Get("key-secret") is { } ks ? Lookup(secrets, ks) : null);
        }

        return ParseImageOpts(secrets, positional);
    }

    private static ImgSource ParseImageOpts(Dictionary<string, byte[]> secrets, string positional)
    {
        var kv = SplitOptions(positional, "--image-opts", firstIsType: false, out _);
        string? path = null;
        ImageFormat? fmt = null;
        byte[]? password = null;
        byte[]? backingPassword = null;
        foreach (var (k, v) in kv)
        {
            switch (k)
            {
                case "driver":
                    fmt = DiskImage.ParseFormat(v);
                    break;
                case "file.filename" or "file":
                    path = v;
                    break;
                case "file.driver" when v == "file":
                    break;
                case "encrypt.key-secret" or "key-secret":
                    password = Lookup(secrets, v);
                    break;
                case "backing.encrypt.key-secret" or "backing.key-secret":
                    backingPassword = Lookup(secrets, v);
                    break;
                default:
                    throw new ImageException($"--image-opts: parameter '{k}' is not supported");
            }
        }

        if (path is null)
        {
            throw new ImageException("--image-opts: parameter 'file.filename' is missing");
        }

        return new ImgSource(path, fmt, password) { BackingPassword = backingPassword };
    }

    /// <summary>
    /// The destination of <c>convert -n</c>: with <c>--target-image-opts</c> an option string, else a file
    /// name whose key (if it is encrypted) is <c>--key-secret</c>. A new target takes its key from <c>-o</c>.
    /// </summary>
    public static ImgSource Target(ImgArgs a, Dictionary<string, byte[]> secrets, string positional, ImageFormat? format)
    {
        if (a.Has("target-image-opts"))
        {
            if (!a.Has("n"))
            {
                throw new ImageException("--target-image-opts requires use of -n flag");
            }

            var t = ParseImageOpts(secrets, positional);
            return t with { Format = t.Format ?? format };
        }

        return new ImgSource(positional, format, a.Has("n") && a.Get("key-secret") is { } ks ? Lookup(secrets, ks) : null);
    }

    private static byte[] Lookup(Dictionary<string, byte[]> secrets, string id) =>
        secrets.TryGetValue(id, out var v) ? v : throw new ImageException($"no secret with id '{id}' (define it with --object secret,id={id},data=...)");

    /// <summary>qemu's option string: comma-separated key=value, ",," for a literal comma.</summary>
    internal static Dictionary<string, string> SplitOptions(string s, string what, bool firstIsType, out string type)
    {
        var parts = ImgArgs.SplitQemuOptions(s);
        type = "";
        var r = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < parts.Count; i++)
        {
            string p = parts[i];
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (i == 0 && firstIsType && eq < 0)
            {
                type = p;
                continue;
            }

            if (eq <= 0)
            {
                // The part is not echoed: it may be a secret's value.
                throw new ImageException($"{what}: part {i + 1} is not key=value");
            }

            string key = p[..eq];
            if (key == "qom-type" && firstIsType)
            {
                type = p[(eq + 1)..];
                continue;
            }

            if (!r.TryAdd(key, p[(eq + 1)..]))
            {
                throw new ImageException($"{what}: parameter '{key}' given twice");
            }
        }

        if (firstIsType && type.Length == 0)
        {
            throw new ImageException($"{what}: the object type is missing (e.g. secret,id=sec0,data=...)");
        }

        return r;
    }
}
