using System.Runtime.InteropServices;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Process;

/// <summary>A pidfd (pidfd_open(2)): refers to one process for its whole life, immune to pid reuse.</summary>
public sealed class PidfdHandle : SafeHandle
{
    public PidfdHandle(int fd, bool ownsHandle = true)
        : base(-1, ownsHandle)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>The raw descriptor, for poll(2) and waitid(2).</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
