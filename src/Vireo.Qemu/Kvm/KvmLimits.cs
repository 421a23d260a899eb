using Vireo.Qemu.Native;

namespace Vireo.Qemu.Kvm;

/// <summary>The kernel's vCPU limits for KVM guests, as libvirt reads them for <c>maxvcpus --type kvm</c>.</summary>
public static class KvmLimits
{
    private const nuint KvmCheckExtension = 0xAE03;
    private const nint KvmCapNrVcpus = 9;
    private const nint KvmCapMaxVcpus = 66;

    /// <summary>
    /// KVM_CAP_MAX_VCPUS (falling back to KVM_CAP_NR_VCPUS, then the API's historic 4), or null when
    /// <paramref name="device"/> cannot be opened.
    /// </summary>
    public static int? MaxVcpus(string device = "/dev/kvm")
    {
        int fd = LibC.Open(device, 0x80002 /* O_RDWR | O_CLOEXEC */, 0);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            int max = LibC.Ioctl(fd, KvmCheckExtension, KvmCapMaxVcpus);
            if (max > 0)
            {
                return max;
            }

            int nr = LibC.Ioctl(fd, KvmCheckExtension, KvmCapNrVcpus);
            return nr > 0 ? nr : 4;
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }
}
