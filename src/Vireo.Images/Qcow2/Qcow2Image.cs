using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Images.Qcow2;

/// <summary>
/// An open qcow2 image. One lock serializes all calls; I/O underneath is synchronous positional I/O on the
/// file handle, which on Linux is the fastest path for page-cache-backed image files. Split by concern:
/// mapping and reads (.Read), writes and allocation (.Write), snapshots (Snapshot.cs).
/// </summary>
internal sealed partial class Qcow2Image : IBlockImage
{
    private readonly SafeFileHandle _file;
    private readonly SafeFileHandle? _dataFile;
    private readonly Lock _lock = new();
    private readonly MetadataCache _l2Cache;
    private ulong[] _l1;
    private RefcountTable? _refcounts;
    private bool _disposed;

    private Qcow2Image(string path, SafeFileHandle file, Qcow2Header header, bool readOnly, IBlockImage? backing, SafeFileHandle? dataFile)
    {
        Path = path;
        _file = file;
        Header = header;
        ReadOnly = readOnly;
        Backing = backing;
        _dataFile = dataFile;
        // 4 MiB of L2 tables maps 32 GiB of guest space with 64 KiB clusters: ample for convert's and the
        // other commands' mostly sequential walks, and a convert has two or more images open at once.
        _l2Cache = new MetadataCache(header.ClusterSize, 4L * 1024 * 1024, recycle: readOnly);
        _l1 = [];
    }

    public string Path { get; }

    public ImageFormat Format => ImageFormat.Qcow2;

    public long VirtualSize => Header.Size;

    public bool ReadOnly { get; }

    public IBlockImage? Backing { get; private set; }

    internal Qcow2Header Header { get; }

    internal int ClusterBits => Header.ClusterBits;

    internal int ClusterSize => Header.ClusterSize;

    internal SafeFileHandle File => _file;

    /// <summary>The file data clusters' host offsets refer to: the external data file when there is one.</summary>
    internal SafeFileHandle DataHandle => _dataFile ?? _file;

    internal IReadOnlyList<ulong> L1 => _l1;

    internal List<Qcow2Snapshot> Snapshots { get; private set; } = [];

    internal RefcountTable Refcounts => _refcounts ??= new RefcountTable(_file, Path, Header, RandomAccess.GetLength(_file));

    /// <summary>Opens one layer; <paramref name="openBacking"/> opens the next one from the header's name and format.</summary>
    public static Qcow2Image Open(string path, SafeFileHandle file, bool readOnly, Func<Qcow2Header, IBlockImage?> openBacking, bool repairDirty = true, byte[]? password = null)
    {
        long len = RandomAccess.GetLength(file);
        var first = new byte[(int)Math.Min(len, 4096)];
        FileIo.ReadExact(file, first, 0, path, "header");
        var probe = Qcow2Header.Parse(first, len, path);
        var hbuf = first;
        if (probe.ClusterSize > first.Length && len > first.Length)
        {
            hbuf = new byte[(int)Math.Min(len, probe.ClusterSize)];
            FileIo.ReadExact(file, hbuf, 0, path, "header");
        }

        var header = hbuf == first ? probe : Qcow2Header.Parse(hbuf, len, path);
        var luks = OpenEncryption(path, file, header);

        if (!readOnly && (header.Incompatible & IncompatibleFeatures.Corrupt) != 0)
        {
            throw new ImageException($"'{path}': image is marked corrupt; refusing to open it for writing (run 'vireo img check -r all')") { IsCorruption = true };
        }

        SafeFileHandle? dataFile = null;
        if ((header.Incompatible & IncompatibleFeatures.ExternalDataFile) != 0)
        {
            if (!readOnly)
            {
                throw new ImageException($"'{path}': writing images with an external data file is not supported");
            }

            if (header.DataFile is null)
            {
                throw new ImageException($"'{path}': image uses an external data file but does not name it");
            }

            dataFile = System.IO.File.OpenHandle(DiskImage.ResolveRelative(path, header.DataFile), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }

        var img = new Qcow2Image(path, file, header, readOnly, null, dataFile);
        try
        {
            img.UnlockEncryption(luks, password);
            img.LoadL1(len);
            img.Snapshots = Qcow2Snapshot.ReadTable(img, len);
            img.Backing = openBacking(header);
            if (!readOnly && repairDirty && (header.Incompatible & IncompatibleFeatures.Dirty) != 0)
            {
                // Lazy refcounts left the refcounts stale: rebuild them before anything allocates.
                Qcow2Check.Run(img, CheckRepair.All);
                img.ClearIncompatible(IncompatibleFeatures.Dirty);
            }

            if (!readOnly)
            {
                img.PrepareBitmapsForWrite(len);
            }

            return img;
        }
        catch
        {
            img.Backing?.Dispose();
            dataFile?.Dispose();
            throw;
        }
    }

    private void LoadL1(long fileLength)
    {
        var raw = new byte[Header.L1Size * 8];
        FileIo.ReadExact(_file, raw, Header.L1TableOffset, Path, "L1 table");
        _l1 = new ulong[Header.L1Size];
        for (int i = 0; i < _l1.Length; i++)
        {
            ulong e = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            long off = (long)(e & L2Entry.OffsetMask);
            if ((off & (ClusterSize - 1)) != 0)
            {
                throw ImageException.Corrupt(Path, $"L1 entry {i} points to unaligned offset 0x{off:x}");
            }

            if (off != 0 && off + ClusterSize > fileLength)
            {
                throw ImageException.Corrupt(Path, $"L1 entry {i} points to offset 0x{off:x} past the end of the file");
            }

            _l1[i] = e;
        }
    }

    internal void ReloadL1()
    {
        _l2Cache.Clear();
        LoadL1(RandomAccess.GetLength(_file));
    }

    internal void ReplaceL1(ulong[] l1) => _l1 = l1;

    internal void ClearCaches()
    {
        _l2Cache.Clear();
        _refcounts = null;
    }

    /// <summary>Rewrites the header cluster from <see cref="Header"/> (extensions preserved verbatim).</summary>
    internal void WriteHeader()
    {
        FileIo.Write(_file, Header.Serialize(), 0);
    }

    internal void ClearIncompatible(IncompatibleFeatures bit)
    {
        Header.Incompatible &= ~bit;
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)Header.Incompatible);
        if (Header.Version == 3)
        {
            FileIo.Write(_file, b, 72);
        }
    }

    internal void SetIncompatible(IncompatibleFeatures bit)
    {
        if (Header.Version != 3)
        {
            return;
        }

        Header.Incompatible |= bit;
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, (ulong)Header.Incompatible);
        FileIo.Write(_file, b, 72);
    }

    public ValueTask FlushAsync(CancellationToken ct = default)
    {
        if (!ReadOnly)
        {
            lock (_lock)
            {
                RandomAccess.FlushToDisk(_file);
            }
        }

        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        try
        {
            SaveBitmaps();
        }
        finally
        {
            Backing?.Dispose();
            _dataFile?.Dispose();
            _crypto?.Dispose();
            _file.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private void CheckWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (ReadOnly)
        {
            throw new ImageException($"'{Path}': image is open read-only");
        }
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > VirtualSize || length > VirtualSize - offset)
        {
            throw new ImageException($"'{Path}': request at offset {offset} ({length} bytes) is outside the virtual size {VirtualSize}");
        }
    }
}
