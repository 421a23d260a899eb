namespace Vireo.Images;

/// <summary>How much of a new image is allocated up front (qemu-img's <c>preallocation</c>).</summary>
public enum Preallocation
{
    Off,
    Metadata,
    Falloc,
    Full,
}

/// <summary>Compression algorithm of qcow2 compressed clusters.</summary>
public enum CompressionType
{
    Zlib,
    Zstd,
}

/// <summary>Options for <see cref="DiskImage.Open"/>.</summary>
public sealed record ImageOpenOptions
{
    /// <summary>Do not open the backing file (reads of unallocated ranges return zeroes).</summary>
    public bool NoBacking { get; init; }

    /// <summary>Refuse chains deeper than this (a loop guard as much as a limit).</summary>
    public int MaxChainDepth { get; init; } = 64;

    /// <summary>Overrides the backing file recorded in the image (for <c>rebase</c> and tests).</summary>
    public string? BackingOverride { get; init; }

    /// <summary>Format of <see cref="BackingOverride"/>; probed when null.</summary>
    public ImageFormat? BackingOverrideFormat { get; init; }

    /// <summary>
    /// The password (secret bytes) that unlocks LUKS-encrypted layers; without it an encrypted image can be
    /// inspected but its data cannot be read. Never printed or logged.
    /// </summary>
    public byte[]? Password { get; init; }

    /// <summary>The key of encrypted backing layers when it is not <see cref="Password"/> (qemu's backing.encrypt.key-secret).</summary>
    public byte[]? BackingPassword { get; init; }
}

/// <summary>Options for <see cref="DiskImage.Create"/>, named after qemu-img's <c>-o</c> keys.</summary>
public sealed record ImageCreateOptions
{
    public ImageFormat Format { get; init; } = ImageFormat.Qcow2;

    /// <summary>The password of a new LUKS image (key slot 0). Never printed or logged.</summary>
    public byte[]? Password { get; init; }

    /// <summary>Time PBKDF2 should take to unlock a new LUKS image, as qemu's iter-time (ms).</summary>
    public int LuksIterTimeMs { get; init; } = 2000;

    /// <summary>qcow2 only: encrypt the data with LUKS (qemu's <c>encrypt.format=luks</c>); needs <see cref="Password"/>.</summary>
    public bool Encrypted { get; init; }

    /// <summary>LUKS cipher-alg: aes-128, aes-192 or aes-256 (always in XTS mode with plain64 IVs).</summary>
    public string LuksCipher { get; init; } = "aes-256";

    /// <summary>LUKS hash-alg (PBKDF2, digest, AF split): sha1, sha256, sha384 or sha512.</summary>
    public string LuksHash { get; init; } = "sha256";

    /// <summary>Virtual size in bytes; when 0 and a backing file is given, the backing file's size.</summary>
    public long Size { get; init; }

    public int ClusterSize { get; init; } = 65536;

    /// <summary>qcow2 version: 2 (compat=0.10) or 3 (compat=1.1).</summary>
    public int Version { get; init; } = 3;

    public int RefcountBits { get; init; } = 16;

    public bool LazyRefcounts { get; init; }

    public bool ExtendedL2 { get; init; }

    public Preallocation Preallocation { get; init; }

    public CompressionType CompressionType { get; init; }

    /// <summary>Backing file name as written in the image (relative names resolve against the image's directory).</summary>
    public string? BackingFile { get; init; }

    public ImageFormat? BackingFormat { get; init; }
}

/// <summary>Options for <see cref="DiskImage.ConvertAsync"/>, after qemu-img convert's flags.</summary>
public sealed record ConvertOptions
{
    /// <summary>Sources, concatenated (qemu-img accepts several).</summary>
    public required IReadOnlyList<string> Sources { get; init; }

    /// <summary>Source format (-f); probed when null.</summary>
    public ImageFormat? SourceFormat { get; init; }

    /// <summary>Passwords of encrypted sources, by position in <see cref="Sources"/> (null: none).</summary>
    public IReadOnlyList<byte[]?>? SourcePasswords { get; init; }

    public required string Destination { get; init; }

    /// <summary>Destination format (-O).</summary>
    public ImageFormat DestinationFormat { get; init; } = ImageFormat.Raw;

    /// <summary>Creation options of the destination (-o); Size and Format are filled in by convert.</summary>
    public ImageCreateOptions? CreateOptions { get; init; }

    /// <summary>With <see cref="NoCreate"/>: the key of an existing encrypted destination.</summary>
    public byte[]? DestinationPassword { get; init; }

    /// <summary>-c: write compressed clusters (qcow2 only).</summary>
    public bool Compress { get; init; }

    /// <summary>-B: backing file of the destination; ranges equal to it are left unallocated.</summary>
    public string? BackingFile { get; init; }

    public ImageFormat? BackingFormat { get; init; }

    /// <summary>-n: do not create the destination, write into the existing one.</summary>
    public bool NoCreate { get; init; }

    /// <summary>-S: minimum run of zero bytes turned into a hole; 0 disables zero detection (fully allocated output).</summary>
    public long SparseSize { get; init; } = 4096;

    /// <summary>--target-is-zero: with -n, the destination already reads as zeroes.</summary>
    public bool TargetIsZero { get; init; }

    /// <summary>-m: requests in flight.</summary>
    public int Coroutines { get; init; } = 8;

    /// <summary>-W: allow out-of-order writes.</summary>
    public bool OutOfOrder { get; init; }
}
