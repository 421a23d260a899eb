using Microsoft.Win32.SafeHandles;
using Vireo.Images.Qcow2;
using Vireo.Images.Raw;

namespace Vireo.Images;

/// <summary>
/// The engine's front door: open, create, inspect, check, convert and resize images. Storage pools and the
/// <c>vireo img</c> command both stand on these methods.
/// </summary>
public static partial class DiskImage
{
    /// <summary>Opens an image and its whole backing chain (backing layers read-only).</summary>
    public static IBlockImage Open(string path, ImageFormat? format = null, bool readOnly = false, ImageOpenOptions? options = null)
    {
        options ??= new ImageOpenOptions();
        return OpenLayer(path, format, readOnly, options, [], 0, top: true);
    }

    /// <summary>Reads the first bytes: qcow2 by its magic, anything else is raw.</summary>
    public static ImageFormat Probe(string path)
    {
        using var h = OpenHandle(path, readOnly: true);
        Span<byte> magic = stackalloc byte[4];
        int n = FileIo.ReadAtMost(h, magic, 0);
        if (n == 4 && magic[0] == 0x51 && magic[1] == 0x46 && magic[2] == 0x49 && magic[3] == 0xfb)
        {
            return ImageFormat.Qcow2;
        }

        Span<byte> luks = stackalloc byte[6];
        if (FileIo.ReadAtMost(h, luks, 0) == 6 && luks.SequenceEqual(Crypto.LuksHeader.Magic))
        {
            return ImageFormat.Luks;
        }

        return ImageFormat.Raw;
    }

    /// <summary>Parses a format name as qemu-img spells it.</summary>
    public static ImageFormat ParseFormat(string name) => name switch
    {
        "qcow2" => ImageFormat.Qcow2,
        "raw" => ImageFormat.Raw,
        "luks" => ImageFormat.Luks,
        _ => throw new ImageException($"unknown or unsupported image format '{name}' (supported: raw, qcow2, luks)"),
    };

    public static string FormatName(ImageFormat f) => f switch
    {
        ImageFormat.Qcow2 => "qcow2",
        ImageFormat.Luks => "luks",
        _ => "raw",
    };

    /// <summary>Creates an image and returns it open for writing.</summary>
    public static IBlockImage Create(string path, ImageCreateOptions options) => CreateCore(path, options, openBacking: true);

    /// <summary>
    /// Creates an image and closes it, never opening its backing file (which may be encrypted with a key
    /// the caller does not have): what <c>img create</c> needs.
    /// </summary>
    public static void CreateFile(string path, ImageCreateOptions options)
    {
        using (CreateCore(path, options, openBacking: false))
        {
        }
    }

    private static IBlockImage CreateCore(string path, ImageCreateOptions options, bool openBacking)
    {
        long size = options.Size;
        if (options.BackingFile is not null)
        {
            if (options.Format != ImageFormat.Qcow2)
            {
                throw new ImageException($"format '{FormatName(options.Format)}' does not support backing files");
            }

            if (size == 0)
            {
                using var b = Open(ResolveRelative(path, options.BackingFile), options.BackingFormat, readOnly: true);
                size = b.VirtualSize;
            }
        }

        if (size < 0)
        {
            throw new ImageException($"invalid size {size}");
        }

        size = (size + 511) & ~511L;
        if (options.Format == ImageFormat.Luks)
        {
            var pw = options.Password ?? throw new ImageException("a LUKS image needs a key: -o key-secret=ID with --object secret,id=ID,...");
            Crypto.LuksWriter.CreateRaw(path, size, Crypto.LuksParams.From(options, pw));
            return Open(path, ImageFormat.Luks, options: new ImageOpenOptions { Password = pw });
        }

        if (options.Format == ImageFormat.Raw)
        {
            using (var fs = File.Open(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.ReadWrite }))
            {
                fs.SetLength(size);
                if (options.Preallocation == Preallocation.Falloc && size > 0)
                {
                    LinuxFile.Allocate(fs.SafeFileHandle, 0, size);
                }
                else if (options.Preallocation == Preallocation.Full)
                {
                    var zero = new byte[1 << 20];
                    for (long p = 0; p < size; p += zero.Length)
                    {
                        RandomAccess.Write(fs.SafeFileHandle, zero.AsSpan(0, (int)Math.Min(zero.Length, size - p)), p);
                    }
                }
            }

            return Open(path, ImageFormat.Raw);
        }

        Qcow2Creator.Validate(options);
        Qcow2Creator.Create(path, options, size);
        var img = Open(path, ImageFormat.Qcow2, options: new ImageOpenOptions { NoBacking = options.BackingFile is null || !openBacking, Password = options.Encrypted ? options.Password : null });
        if (options.Preallocation != Preallocation.Off)
        {
            Qcow2Creator.Preallocate((Qcow2Image)img, options.Preallocation);
        }

        return img;
    }

    /// <summary>Describes one image without opening its backing chain.</summary>
    public static ImageInfo Inspect(string path, ImageFormat? format = null)
    {
        var fmt = format ?? Probe(path);
        using var img = OpenLayer(path, fmt, true, new ImageOpenOptions { NoBacking = true }, [], 0, top: true);
        if (img is RawImage raw)
        {
            return new ImageInfo { Path = path, Format = ImageFormat.Raw, VirtualSize = raw.VirtualSize, ActualSize = FileStat.AllocatedBytes(raw.File) };
        }

        if (img is Crypto.LuksImage luks)
        {
            return new ImageInfo { Path = path, Format = ImageFormat.Luks, VirtualSize = luks.VirtualSize, ActualSize = FileStat.AllocatedBytes(luks.File), Encrypted = true, Luks = DescribeLuks(luks.Header) };
        }

        var q = (Qcow2Image)img;
        var h = q.Header;
        return new ImageInfo
        {
            Path = path,
            Format = ImageFormat.Qcow2,
            VirtualSize = h.Size,
            ActualSize = FileStat.AllocatedBytes(q.File),
            ClusterSize = h.ClusterSize,
            BackingFile = h.BackingFile,
            FullBackingFile = h.BackingFile is null ? null : ResolveRelative(path, h.BackingFile),
            BackingFormat = h.BackingFormat,
            Dirty = (h.Incompatible & IncompatibleFeatures.Dirty) != 0,
            Corrupt = (h.Incompatible & IncompatibleFeatures.Corrupt) != 0,
            Compat = h.Version == 2 ? "0.10" : "1.1",
            LazyRefcounts = h.LazyRefcounts,
            RefcountBits = h.RefcountBits,
            CompressionType = h.CompressionType,
            ExtendedL2 = h.ExtendedL2,
            DataFile = h.DataFile,
            DataFileRaw = (h.Autoclear & 2) != 0,
            Encrypted = h.CryptMethod != 0,
            Luks = q.Luks is { } lh ? DescribeLuks(lh) : null,
            Snapshots = q.Snapshots.Select(s => s.ToInfo()).ToList(),
            Bitmaps = Qcow2Bitmaps.List(q),
        };
    }

    /// <summary>Checks (and with <paramref name="repair"/> repairs) a qcow2 image's metadata.</summary>
    public static CheckResult Check(string path, CheckRepair repair = CheckRepair.None, ImageFormat? format = null)
    {
        var fmt = format ?? Probe(path);
        if (fmt != ImageFormat.Qcow2)
        {
            throw new ImageException("This image format does not support checks");
        }

        bool ro = repair == CheckRepair.None;
        using var h = OpenHandle(path, ro);
        using var q = Qcow2Image.Open(path, h, ro, _ => null, repairDirty: false);
        var r = Qcow2Check.Run(q, repair);
        if (!ro && r.Corruptions == 0)
        {
            q.ClearIncompatible(IncompatibleFeatures.Dirty);
            q.ClearIncompatible(IncompatibleFeatures.Corrupt);
        }

        return r;
    }

    /// <summary>Changes the virtual size; shrinking needs <paramref name="shrink"/>, as qemu-img's --shrink.</summary>
    public static void Resize(string path, long newSize, bool shrink, ImageFormat? format = null, ImageOpenOptions? options = null)
    {
        using var img = OpenLayer(path, format ?? Probe(path), false, (options ?? new ImageOpenOptions()) with { NoBacking = true }, [], 0, top: true);
        if (newSize < img.VirtualSize && !shrink)
        {
            throw new ImageException("Use the --shrink option to perform a shrink operation.");
        }

        switch (img)
        {
            case Qcow2Image q:
                q.Resize((newSize + 511) & ~511L);
                break;
            case RawImage r:
                r.Resize(newSize);
                break;
        }
    }

    /// <summary>A backing or data file name as qemu resolves it: relative to the directory of the image naming it.</summary>
    public static string ResolveRelative(string imagePath, string name)
    {
        if (System.IO.Path.IsPathRooted(name))
        {
            return name;
        }

        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(imagePath)) ?? ".";
        return System.IO.Path.Combine(dir, name);
    }

    internal static SafeFileHandle OpenHandle(string path, bool readOnly)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (FileNotFoundException)
        {
            throw new ImageException($"Could not open '{path}': No such file or directory");
        }
        catch (DirectoryNotFoundException)
        {
            throw new ImageException($"Could not open '{path}': No such file or directory");
        }
    }

    private static IBlockImage OpenLayer(string path, ImageFormat? format, bool readOnly, ImageOpenOptions options, HashSet<string> chain, int depth, bool top)
    {
        if (depth > options.MaxChainDepth)
        {
            throw new ImageException($"backing chain of '{path}' is deeper than {options.MaxChainDepth} images");
        }

        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            // Before ResolveLinkTarget, whose FileNotFoundException has no readable message under Native AOT.
            throw new ImageException($"Could not open '{path}': No such file or directory");
        }

        string real = new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        if (!chain.Add(real))
        {
            throw new ImageException($"backing chain loop: '{path}' is its own backing file (directly or through others)");
        }

        var fmt = format ?? Probe(path);
        var handle = OpenHandle(path, readOnly);
        try
        {
            if (fmt == ImageFormat.Raw)
            {
                return new RawImage(path, handle, readOnly);
            }

            if (fmt == ImageFormat.Luks)
            {
                return new Crypto.LuksImage(path, handle, readOnly, options.Password);
            }

            return Qcow2Image.Open(path, handle, readOnly, h =>
            {
                string? name = top && options.BackingOverride is not null ? options.BackingOverride : h.BackingFile;
                if (options.NoBacking || string.IsNullOrEmpty(name))
                {
                    return null;
                }

                ImageFormat? bf = top && options.BackingOverride is not null ? options.BackingOverrideFormat
                    : h.BackingFormat is null ? null : ParseFormat(h.BackingFormat);
                string resolved = ResolveRelative(path, name);
                var below = options.BackingPassword is null ? options : options with { Password = options.BackingPassword };
                return OpenLayer(resolved, bf, true, below, chain, depth + 1, top: false);
            }, password: options.Password);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}

public static partial class DiskImage
{
    /// <summary>Copies one or more images (concatenated) into a new or existing image of any format.</summary>
    public static Task ConvertAsync(ConvertOptions options, IProgress<double>? progress = null, CancellationToken ct = default) =>
        Converter.RunAsync(options, progress, ct);
}

public static partial class DiskImage
{
    /// <summary>Validates qcow2 creation options without creating anything (sizes, widths, compat).</summary>
    public static void ValidateCreateOptions(ImageCreateOptions options) => Qcow2Creator.Validate(options);
}
