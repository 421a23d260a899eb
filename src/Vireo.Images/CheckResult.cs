namespace Vireo.Images;

/// <summary>What <c>check -r</c> may repair.</summary>
[Flags]
public enum CheckRepair
{
    None = 0,
    Leaks = 1,
    Errors = 2,
    All = Leaks | Errors,
}

/// <summary>The result of a consistency check, with qemu-img check's counters.</summary>
public sealed record CheckResult
{
    public required string Path { get; init; }
    public required ImageFormat Format { get; init; }
    public long Corruptions { get; init; }
    public long Leaks { get; init; }
    public long CorruptionsFixed { get; init; }
    public long LeaksFixed { get; init; }
    public long CheckErrors { get; init; }
    public long TotalClusters { get; init; }
    public long AllocatedClusters { get; init; }
    public long FragmentedClusters { get; init; }
    public long CompressedClusters { get; init; }
    public long ImageEndOffset { get; init; }

    /// <summary>One line per problem found, as qemu-img prints them on stderr.</summary>
    public IReadOnlyList<string> Messages { get; init; } = [];
}
