using System.Runtime.InteropServices;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Kvm;

/// <summary>
/// The functional KVM probe: a VM with one page of memory holding a 7-byte real-mode program
/// (<c>mov dx,0x3f8; mov al,'V'; out dx,al; hlt</c>), one vCPU started at it, and two KVM_RUNs that must exit with
/// KVM_EXIT_IO (the byte on the port) and then KVM_EXIT_HLT. The runs happen on their own thread so a KVM that
/// hangs costs a timeout, not the caller (no SIGALRM); such a thread is abandoned with its descriptors.
/// </summary>
internal static unsafe class KvmSmokeTest
{
    private const nuint KVM_GET_API_VERSION = 0xAE00;
    private const nuint KVM_CREATE_VM = 0xAE01;
    private const nuint KVM_GET_VCPU_MMAP_SIZE = 0xAE04;
    private const nuint KVM_CREATE_VCPU = 0xAE41;
    private const nuint KVM_SET_USER_MEMORY_REGION = 0x4020AE46;
    private const nuint KVM_RUN = 0xAE80;
    private const nuint KVM_GET_REGS = 0x8090AE81;
    private const nuint KVM_SET_REGS = 0x4090AE82;
    private const nuint KVM_GET_SREGS = 0x8138AE83;
    private const nuint KVM_SET_SREGS = 0x4138AE84;

    private const int KvmApiVersion = 12;
    private const uint KVM_EXIT_IO = 2;
    private const uint KVM_EXIT_HLT = 5;
    private const byte KVM_EXIT_IO_OUT = 1;

    private const ulong GuestAddress = 0x1000;
    private const ushort ProbePort = 0x3f8;
    private const byte ProbeByte = (byte)'V';

    // mov dx, 0x3f8 ; mov al, 'V' ; out dx, al ; hlt
    private static ReadOnlySpan<byte> Program => [0xBA, 0xF8, 0x03, 0xB0, ProbeByte, 0xEE, 0xF4];

    [StructLayout(LayoutKind.Sequential)]
    private struct UserMemoryRegion
    {
        public uint Slot;
        public uint Flags;
        public ulong GuestPhysAddr;
        public ulong MemorySize;
        public ulong UserspaceAddr;
    }

    /// <summary>Null when the guest ran and halted; otherwise what failed, as a phrase.</summary>
    public static string? Run(string device, TimeSpan timeout)
    {
        var vm = new ProbeVm();
        string? failure = vm.Setup(device);
        if (failure is not null)
        {
            vm.Dispose();
            return failure;
        }

        string? result = null;
        var thread = new Thread(() => result = vm.Execute()) { IsBackground = true, Name = "kvm-probe" };
        thread.Start();
        if (!thread.Join(timeout))
        {
            // The vCPU thread is stuck in KVM_RUN; its fds and memory stay with it (closing them under a
            // running ioctl is worse). It is a background thread and dies with the process.
            return $"a test guest did not halt within {timeout.TotalMilliseconds:0} ms (KVM_RUN hangs)";
        }

        vm.Dispose();
        return result;
    }

    private sealed class ProbeVm : IDisposable
    {
        private int _kvm = -1;
        private int _vm = -1;
        private int _vcpu = -1;
        private byte* _memory;
        private byte* _run;
        private nuint _runSize;

        public string? Setup(string device)
        {
            _kvm = LibC.Open(device, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
            if (_kvm < 0)
            {
                return Errno($"cannot open {device}");
            }

            int api = LibC.Ioctl(_kvm, KVM_GET_API_VERSION, 0);
            if (api != KvmApiVersion)
            {
                return api < 0 ? Errno("KVM_GET_API_VERSION failed") : $"KVM API version {api}, expected {KvmApiVersion}";
            }

            _vm = LibC.Ioctl(_kvm, KVM_CREATE_VM, 0);
            if (_vm < 0)
            {
                return Errno("KVM_CREATE_VM failed");
            }

            _memory = (byte*)LibC.Mmap(null, 0x1000, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_ANONYMOUS, -1, 0);
            if (_memory == (byte*)-1)
            {
                _memory = null;
                return Errno("cannot map guest memory");
            }

            Program.CopyTo(new Span<byte>(_memory, 0x1000));
            var region = new UserMemoryRegion { Slot = 0, GuestPhysAddr = GuestAddress, MemorySize = 0x1000, UserspaceAddr = (ulong)_memory };
            if (LibC.Ioctl(_vm, KVM_SET_USER_MEMORY_REGION, (nint)(&region)) < 0)
            {
                return Errno("KVM_SET_USER_MEMORY_REGION failed");
            }

            _vcpu = LibC.Ioctl(_vm, KVM_CREATE_VCPU, 0);
            if (_vcpu < 0)
            {
                return Errno("KVM_CREATE_VCPU failed");
            }

            int size = LibC.Ioctl(_kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
            if (size < 64)
            {
                return Errno("KVM_GET_VCPU_MMAP_SIZE failed");
            }

            _runSize = (nuint)size;
            _run = (byte*)LibC.Mmap(null, _runSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, _vcpu, 0);
            if (_run == (byte*)-1)
            {
                _run = null;
                return Errno("cannot map the vCPU's kvm_run");
            }

            // Real mode, CS base 0: execution starts at GuestAddress.
            byte* sregs = stackalloc byte[312];
            if (LibC.Ioctl(_vcpu, KVM_GET_SREGS, (nint)sregs) < 0)
            {
                return Errno("KVM_GET_SREGS failed");
            }

            *(ulong*)sregs = 0;          // cs.base
            *(ushort*)(sregs + 12) = 0;  // cs.selector
            if (LibC.Ioctl(_vcpu, KVM_SET_SREGS, (nint)sregs) < 0)
            {
                return Errno("KVM_SET_SREGS failed");
            }

            ulong* regs = stackalloc ulong[18];
            new Span<ulong>(regs, 18).Clear();
            regs[16] = GuestAddress; // rip
            regs[17] = 0x2;          // rflags: bit 1 is always set
            if (LibC.Ioctl(_vcpu, KVM_SET_REGS, (nint)regs) < 0)
            {
                return Errno("KVM_SET_REGS failed");
            }

            return null;
        }

        public string? Execute()
        {
            if (LibC.Ioctl(_vcpu, KVM_RUN, 0) < 0)
            {
                return Errno("KVM_RUN failed");
            }

            uint exit = *(uint*)(_run + 8);
            // kvm_run.io: direction u8 @32, size u8 @33, port u16 @34, count u32 @36, data_offset u64 @40.
            if (exit != KVM_EXIT_IO || _run[32] != KVM_EXIT_IO_OUT || *(ushort*)(_run + 34) != ProbePort
                || _run[*(ulong*)(_run + 40)] != ProbeByte)
            {
                return $"the test guest exited with reason {exit} instead of its port write";
            }

            if (LibC.Ioctl(_vcpu, KVM_RUN, 0) < 0)
            {
                return Errno("KVM_RUN failed");
            }

            exit = *(uint*)(_run + 8);
            return exit == KVM_EXIT_HLT ? null : $"the test guest exited with reason {exit} instead of halting";
        }

        public void Dispose()
        {
            if (_run != null)
            {
                LibC.Munmap(_run, _runSize);
            }

            if (_memory != null)
            {
                LibC.Munmap(_memory, 0x1000);
            }

            foreach (int fd in new[] { _vcpu, _vm, _kvm })
            {
                if (fd >= 0)
                {
                    LibC.Close(fd);
                }
            }
        }

        private static string Errno(string what) => $"{what}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}";
    }
}
