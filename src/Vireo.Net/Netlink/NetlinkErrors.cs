using Vireo.Model;
using Vireo.Net.Native;

namespace Vireo.Net.Netlink;

/// <summary>Turns a kernel errno (plus its extended-ack text) into the one error type users see.</summary>
internal static class NetlinkErrors
{
    public static VireoException Create(int errno, string what, string? kernelText)
    {
        // ESRCH is how the kernel says "no such route/qdisc"; its strerror ("No such process") would mislead.
        string text = errno == 3 ? "No such entry" : LibC.ErrorText(errno);
        if (!string.IsNullOrEmpty(kernelText) && !kernelText.Equals(text, StringComparison.OrdinalIgnoreCase))
        {
            text = $"{text} ({kernelText})";
        }
        ErrorKind kind = errno switch
        {
            17 => ErrorKind.AlreadyExists,          // EEXIST
            19 or 2 or 6 or 3 => ErrorKind.NotFound, // ENODEV, ENOENT, ENXIO, ESRCH
            95 or 93 or 97 => ErrorKind.HostUnavailable, // EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT
            16 => ErrorKind.Busy,                   // EBUSY
            22 or 34 => ErrorKind.InvalidArgument,  // EINVAL, ERANGE
            _ => ErrorKind.OperationFailed,
        };
        // "Unknown device type" is the kernel saying the link kind's module is not built in.
        if (kernelText is not null && kernelText.Contains("Unknown device type", StringComparison.Ordinal))
        {
            kind = ErrorKind.HostUnavailable;
        }
        return new VireoException(kind, $"{what}: {text}") { Data = { ["errno"] = errno } };
    }
}
