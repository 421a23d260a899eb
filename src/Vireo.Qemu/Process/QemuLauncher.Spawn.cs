using System.Runtime.InteropServices;
using System.Text;
using Vireo.Model;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Process;

public static partial class QemuLauncher
{
    /// <summary>
    /// posix_spawn with file actions. Each passed fd is first duplicated above every target number so that no
    /// dup2 in the child can overwrite a source another dup2 still needs; everything above the targets is
    /// closed in the child (closefrom), so QEMU sees exactly 0-2 and the targets.
    /// </summary>
    private static unsafe int Spawn(string emulator, List<string> arguments, int logFd, List<QemuPassedFd> fds, IReadOnlyDictionary<string, string>? extraEnv)
    {
        int maxTarget = fds.Count == 0 ? 2 : fds.Max(f => f.TargetFd);
        var temps = new List<int>(fds.Count);
        byte* fileActions = stackalloc byte[LibC.SpawnFileActionsSize];
        byte* attr = stackalloc byte[LibC.SpawnAttrSize];
        byte* noSignals = stackalloc byte[LibC.SigSetSize];
        byte* allSignals = stackalloc byte[LibC.SigSetSize];
        byte** argv = null;
        byte** envp = null;
        bool actionsReady = false, attrReady = false;
        try
        {
            foreach (QemuPassedFd fd in fds)
            {
                int temp = LibC.Fcntl(fd.SourceFd, LibC.F_DUPFD_CLOEXEC, maxTarget + 1);
                if (temp < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new VireoException(ErrorKind.OperationFailed,
                        $"cannot pass descriptor {fd.SourceFd} to QEMU as fd {fd.TargetFd}: {LibC.ErrorText(errno)}");
                }

                temps.Add(temp);
            }

            Check(LibC.SpawnFileActionsInit(fileActions), "posix_spawn_file_actions_init");
            actionsReady = true;
            Check(LibC.SpawnFileActionsAddOpen(fileActions, 0, "/dev/null", LibC.O_RDONLY, 0), "addopen /dev/null");
            Check(LibC.SpawnFileActionsAddDup2(fileActions, logFd, 1), "adddup2 stdout");
            Check(LibC.SpawnFileActionsAddDup2(fileActions, logFd, 2), "adddup2 stderr");
            for (int i = 0; i < fds.Count; i++)
            {
                // dup2 onto a different number clears O_CLOEXEC on the target; the temp itself is closed at exec.
                Check(LibC.SpawnFileActionsAddDup2(fileActions, temps[i], fds[i].TargetFd), "adddup2");
            }

            // Below the highest target, closefrom cannot help: close the numbers we inherited without O_CLOEXEC
            // (say, a pipe from the shell that ran vireo, which QEMU would otherwise hold open for its whole life).
            var targets = new HashSet<int>(fds.Select(f => f.TargetFd));
            for (int fd = 3; fd < maxTarget; fd++)
            {
                int flags = LibC.Fcntl(fd, LibC.F_GETFD, 0);
                if (flags >= 0 && (flags & LibC.FD_CLOEXEC) == 0 && !targets.Contains(fd))
                {
                    Check(LibC.SpawnFileActionsAddClose(fileActions, fd), "addclose");
                }
            }

            Check(LibC.SpawnFileActionsAddCloseFrom(fileActions, maxTarget + 1), "addclosefrom_np");

            Check(LibC.SpawnAttrInit(attr), "posix_spawnattr_init");
            attrReady = true;
            // .NET ignores SIGPIPE and may block signals on this thread; QEMU must start with neither.
            LibC.SigEmptySet(noSignals);
            LibC.SigFillSet(allSignals);
            Check(LibC.SpawnAttrSetSigMask(attr, noSignals), "setsigmask");
            Check(LibC.SpawnAttrSetSigDefault(attr, allSignals), "setsigdefault");
            Check(LibC.SpawnAttrSetFlags(attr, (short)(LibC.POSIX_SPAWN_SETSID | LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF)), "setflags");

            var argList = new List<string>(arguments.Count + 1) { emulator };
            argList.AddRange(arguments);
            argv = ToCStringArray(argList);
            envp = ToCStringArray(BuildEnvironment(extraEnv));

            int pid;
            int rc = LibC.PosixSpawn(&pid, emulator, fileActions, attr, argv, envp);
            if (rc != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"cannot start QEMU '{emulator}': {LibC.ErrorText(rc)}");
            }

            return pid;
        }
        finally
        {
            foreach (int temp in temps)
            {
                LibC.Close(temp);
            }

            if (actionsReady)
            {
                LibC.SpawnFileActionsDestroy(fileActions);
            }

            if (attrReady)
            {
                LibC.SpawnAttrDestroy(attr);
            }

            FreeCStringArray(argv);
            FreeCStringArray(envp);
        }
    }

    private static List<string> BuildEnvironment(IReadOnlyDictionary<string, string>? extra)
    {
        // A clean environment, as libvirt gives QEMU: nothing of the caller's shell leaks into the VM's process.
        var env = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["LC_ALL"] = "C",
            ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        };
        if (extra is not null)
        {
            foreach ((string key, string value) in extra)
            {
                if (key.Length == 0 || key.Contains('=', StringComparison.Ordinal))
                {
                    throw VireoException.Invalid($"invalid environment variable name '{key}' for QEMU");
                }

                env[key] = value;
            }
        }

        return env.Select(kv => kv.Key + "=" + kv.Value).ToList();
    }

    private static unsafe byte** ToCStringArray(List<string> strings)
    {
        byte** array = (byte**)NativeMemory.AllocZeroed((nuint)(strings.Count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < strings.Count; i++)
        {
            string s = strings[i];
            if (s.Contains('\0', StringComparison.Ordinal))
            {
                FreeCStringArray(array);
                throw VireoException.Invalid($"QEMU argument {i} contains a NUL character");
            }

            int length = Encoding.UTF8.GetByteCount(s);
            byte* p = (byte*)NativeMemory.Alloc((nuint)length + 1);
            Encoding.UTF8.GetBytes(s, new Span<byte>(p, length));
            p[length] = 0;
            array[i] = p;
        }

        return array;
    }

    private static unsafe void FreeCStringArray(byte** array)
    {
        if (array == null)
        {
            return;
        }

        for (byte** p = array; *p != null; p++)
        {
            NativeMemory.Free(*p);
        }

        NativeMemory.Free(array);
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"cannot prepare to start QEMU: {what}: {LibC.ErrorText(rc)}");
        }
    }
}
