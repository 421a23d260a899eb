using Vireo.Images;
using Vireo.Model;

namespace Vireo.Engine.Storage;

internal static partial class VolumeImages
{
    private static ImageFacts InspectCore(string path)
    {
        var info = DiskImage.Inspect(path);
        string? backing = info.FullBackingFile is null ? null : Path.GetFullPath(info.FullBackingFile);
        return new ImageFacts(DiskImage.FormatName(info.Format), info.VirtualSize, backing, info.BackingFormat, info.Compat, info.LazyRefcounts);
    }

    public static ImageFormat Format(string name) => name switch
    {
        "qcow2" => ImageFormat.Qcow2,
        "raw" or "iso" => ImageFormat.Raw,
        _ => throw VireoException.Unsupported($"volume format '{name}' is not supported by the image engine (raw, qcow2)"),
    };

    /// <summary>
    /// Creates a new image at <paramref name="path"/>, which must not exist. The name is claimed with O_EXCL
    /// first, so an existing file or a planted symlink is never overwritten or followed.
    /// </summary>
    public static void Create(string path, VolumeCreateSpec spec)
    {
        using (new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
        }

        var format = Format(spec.Format);
        long allocation = Math.Min(spec.Allocation ?? spec.Capacity, spec.Capacity);
        var options = new ImageCreateOptions
        {
            Format = format,
            Size = spec.Capacity,
            Preallocation = spec.PreallocMetadata && format == ImageFormat.Qcow2 ? Preallocation.Metadata : Preallocation.Off,
            BackingFile = spec.BackingPath,
            BackingFormat = spec.BackingFormat is null ? null : Format(spec.BackingFormat),
            Version = spec.Compat == "0.10" ? 2 : 3,
            LazyRefcounts = spec.LazyRefcounts,
        };
        try
        {
            using var img = DiskImage.Create(path, options);
        }
        catch (ImageException e)
        {
            throw VireoException.Invalid(e.Message);
        }

        if (format == ImageFormat.Raw && allocation > 0)
        {
            // libvirt reserves the allocation of a raw volume (all of it when none is given): fallocate, not zeroes.
            using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            StorageNative.Fallocate(fs.SafeFileHandle, 0, allocation);
        }
    }

    /// <summary>Full copy (qemu-img convert) of a volume into a new or existing one, holes kept as holes.</summary>
    public static async Task CopyAsync(string source, string sourceFormat, string destination, string destinationFormat, bool destinationExists,
        IProgress<double>? progress, CancellationToken ct)
    {
        if (!destinationExists)
        {
            using (new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
            }
        }

        try
        {
            if (!destinationExists && CanCopyFileAsIs(source, sourceFormat, destinationFormat))
            {
                await Task.Run(() => SparseFileCopy.Copy(source, destination, progress, ct), ct).ConfigureAwait(false);
                return;
            }

            await DiskImage.ConvertAsync(new ConvertOptions
            {
                Sources = [source],
                SourceFormat = Format(sourceFormat),
                Destination = destination,
                DestinationFormat = Format(destinationFormat),
                NoCreate = destinationExists,
            }, progress, ct).ConfigureAwait(false);
        }
        catch (ImageException e)
        {
            throw new VireoException(ErrorKind.OperationFailed, e.Message, e);
        }
    }

    /// <summary>
    /// A file holds the whole clone when the format stays and the image depends on no other file (no backing
    /// file, no external data file, no key) and is clean. Anything else goes through the converter.
    /// </summary>
    private static bool CanCopyFileAsIs(string source, string sourceFormat, string destinationFormat)
    {
        if (sourceFormat != destinationFormat || !StorageNative.IsRegularFile(StorageNative.Stat(source).Mode))
        {
            return false;
        }

        if (sourceFormat == "raw")
        {
            return true;
        }

        var info = DiskImage.Inspect(source);
        return info.Format == ImageFormat.Qcow2 && info.BackingFile is null && info.DataFile is null && !info.Encrypted && !info.Dirty && !info.Corrupt;
    }

    public static void Resize(string path, string format, long capacity)
    {
        try
        {
            DiskImage.Resize(path, capacity, shrink: true, Format(format));
        }
        catch (ImageException e)
        {
            throw new VireoException(ErrorKind.OperationFailed, e.Message, e);
        }
    }

    /// <summary>Opens a volume's image: by its format (the guest's view) or as raw (the host file's bytes).</summary>
    public static IBlockImage Open(string path, string format, bool readOnly)
    {
        try
        {
            return DiskImage.Open(path, Format(format), readOnly);
        }
        catch (ImageException e)
        {
            throw new VireoException(ErrorKind.OperationFailed, e.Message, e);
        }
    }
}
