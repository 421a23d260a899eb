namespace Vireo.Model;

/// <summary>What went wrong, as a small stable set a caller (CLI exit code, API status) can match on.</summary>
public enum ErrorKind
{
    /// <summary>The user's input is malformed or out of range: XML, a flag, a name.</summary>
    InvalidArgument,
    /// <summary>The named object (domain, network, pool, volume, device) does not exist.</summary>
    NotFound,
    /// <summary>An object with that name or uuid already exists.</summary>
    AlreadyExists,
    /// <summary>The object is in a state that forbids the operation (starting a running domain).</summary>
    InvalidState,
    /// <summary>The input uses a feature Vireo does not implement.</summary>
    Unsupported,
    /// <summary>The host lacks something the operation needs (a binary, a device, free pages).</summary>
    HostUnavailable,
    /// <summary>An external component (QEMU, dnsmasq, nft, the kernel) failed.</summary>
    OperationFailed,
    /// <summary>Another operation holds the object.</summary>
    Busy,
    /// <summary>A wait ran out of time.</summary>
    Timeout,
    /// <summary>On-disk data (an image, a state file) is damaged.</summary>
    Corrupt,
}

/// <summary>
/// The one error type every floor throws for conditions the user can act on. The message is what the CLI
/// prints after <c>error: </c>, so it names the field, the value and why.
/// </summary>
public sealed class VireoException : Exception
{
    public VireoException(ErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public ErrorKind Kind { get; }

    public static VireoException Invalid(string message) => new(ErrorKind.InvalidArgument, message);

    public static VireoException NotFound(string message) => new(ErrorKind.NotFound, message);

    public static VireoException State(string message) => new(ErrorKind.InvalidState, message);

    public static VireoException Unsupported(string message) => new(ErrorKind.Unsupported, message);
}
