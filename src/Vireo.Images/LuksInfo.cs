namespace Vireo.Images;

/// <summary>One LUKS1 key slot as <c>qemu-img info</c> lists it (offsets in bytes from the LUKS header).</summary>
public sealed record LuksSlotInfo(bool Active, int? Iterations, long KeyOffset, int? Stripes);

/// <summary>
/// The LUKS1 header of a raw luks image or an encrypted qcow2 (qemu-img info's <c>encrypt</c> block,
/// with qemu's names: cipher-alg aes-256, cipher-mode xts, ivgen-alg plain64).
/// </summary>
public sealed record LuksInfo
{
    public required string CipherAlg { get; init; }

    public required string CipherMode { get; init; }

    public required string IvgenAlg { get; init; }

    /// <summary>The IV generator's hash (essiv only).</summary>
    public string? IvgenHashAlg { get; init; }

    public required string HashAlg { get; init; }

    public required string Uuid { get; init; }

    /// <summary>Bytes from the header to the payload (for qcow2: the length of the header area).</summary>
    public required long PayloadOffset { get; init; }

    public required int MasterKeyIterations { get; init; }

    public required IReadOnlyList<LuksSlotInfo> Slots { get; init; }
}
