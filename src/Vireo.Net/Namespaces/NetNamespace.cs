using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Vireo.Model;
using Vireo.Net.Native;
using Vireo.Net.Netlink;

namespace Vireo.Net.Namespaces;

/// <summary>
/// A named network namespace, interchangeable with <c>ip netns</c>: the namespace is kept alive by a bind mount of a
/// thread's <c>ns/net</c> onto <c>/run/netns/NAME</c>, and <c>/run/netns</c> is made a shared mount point, exactly as
/// iproute2 does, so <c>ip netns list/exec/delete</c> see Vireo's namespaces and Vireo sees theirs.
/// <para>
/// Linux keeps the network namespace per thread, so entering one is done on a dedicated thread that calls
/// setns(CLONE_NEWNET), runs the caller's delegate and exits (<see cref="Run{T}(Func{T})"/>). Sockets keep the
/// namespace they were created in: <see cref="OpenRtNetlink"/> makes an rtnetlink client that acts inside this
/// namespace from any thread.
/// </para>
/// <para>
/// External programs (dnsmasq, nft) cannot be put into a namespace by posix_spawn. Spawn them with the argv from
/// <see cref="ExecArgv"/>: <c>nsenter --net=/run/netns/NAME -- PROGRAM ARGS…</c> (util-linux) setns's in the child
/// and execs the program, with no shell involved — the same effect as <c>ip netns exec</c> without its remount of /sys.
/// </para>
/// </summary>
public sealed class NetNamespace
{
    /// <summary>Where iproute2 (and Vireo) keep the namespace bind mounts.</summary>
    public const string RunDirectory = "/run/netns";

    private NetNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>The bind-mounted namespace file, e.g. <c>/run/netns/lab1</c>; <c>nsenter --net=</c> and setns take it.</summary>
    public string Path => System.IO.Path.Combine(RunDirectory, Name);

    /// <summary>Whether <c>/run/netns/NAME</c> exists.</summary>
    public static bool Exists(string name) => File.Exists(System.IO.Path.Combine(RunDirectory, ValidateName(name)));

    /// <summary>Names of all named namespaces, as <c>ip netns list</c> (without ids), sorted.</summary>
    public static IReadOnlyList<string> List()
    {
        if (!Directory.Exists(RunDirectory))
        {
            return [];
        }
        var names = Directory.EnumerateFiles(RunDirectory).Select(System.IO.Path.GetFileName).OfType<string>().ToList();
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>An existing named namespace; NotFound when <c>/run/netns/NAME</c> does not exist.</summary>
    public static NetNamespace Open(string name) =>
        Exists(name) ? new NetNamespace(name) : throw VireoException.NotFound($"network namespace '{name}' does not exist");

    /// <summary><c>ip netns add NAME</c>: a fresh namespace (only a down loopback in it).</summary>
    public static NetNamespace Create(string name)
    {
        ValidateName(name);
        Directory.CreateDirectory(RunDirectory);
        MakeRunDirectoryShared();
        string path = System.IO.Path.Combine(RunDirectory, name);
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == LibC.EEXIST
                ? new VireoException(ErrorKind.AlreadyExists, $"network namespace '{name}' already exists")
                : new VireoException(ErrorKind.OperationFailed, $"cannot create network namespace '{name}': {path}: {LibC.ErrorText(errno)}");
        }
        _ = LibC.Close(fd);
        try
        {
            OnThread(() =>
            {
                if (LibC.Unshare(LibC.CLONE_NEWNET) != 0)
                {
                    throw new VireoException(ErrorKind.OperationFailed,
                        $"cannot create network namespace '{name}': unshare: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                }
                // thread-self, not self: only this thread unshared; /proc/self is the main thread's view.
                if (LibC.Mount("/proc/thread-self/ns/net", path, "none", LibC.MS_BIND, 0) != 0)
                {
                    throw new VireoException(ErrorKind.OperationFailed,
                        $"cannot create network namespace '{name}': bind mount on {path}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                }
                return 0;
            });
        }
        catch
        {
            _ = LibC.Unlink(path);
            throw;
        }
        return new NetNamespace(name);
    }

    /// <summary><c>ip netns delete NAME</c>: detaches the bind mount and removes the file. The namespace itself dies
    /// when its last process and socket leave it.</summary>
    public static void Delete(string name)
    {
        ValidateName(name);
        string path = System.IO.Path.Combine(RunDirectory, name);
        if (!File.Exists(path))
        {
            throw VireoException.NotFound($"network namespace '{name}' does not exist");
        }
        _ = LibC.Umount2(path, LibC.MNT_DETACH);
        if (LibC.Unlink(path) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new VireoException(ErrorKind.OperationFailed, $"cannot delete network namespace '{name}': {LibC.ErrorText(errno)}");
        }
    }

    /// <summary>Deletes this namespace (see <see cref="Delete(string)"/>).</summary>
    public void Delete() => Delete(Name);

    /// <summary>An O_CLOEXEC fd on the namespace file, for setns or IFLA_NET_NS_FD; the caller disposes it.</summary>
    public SafeFileHandle OpenHandle()
    {
        int fd = LibC.Open(Path, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == LibC.ENOENT
                ? VireoException.NotFound($"network namespace '{Name}' does not exist")
                : new VireoException(ErrorKind.OperationFailed, $"cannot open network namespace '{Name}': {LibC.ErrorText(errno)}");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Runs <paramref name="action"/> inside this namespace on a dedicated thread and returns its result;
    /// exceptions come back unchanged. Whatever sockets or devices the delegate opens stay in the namespace.</summary>
    public T Run<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        using SafeFileHandle handle = OpenHandle();
        return OnThread(() =>
        {
            if (LibC.SetNs((int)handle.DangerousGetHandle(), LibC.CLONE_NEWNET) != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed,
                    $"cannot enter network namespace '{Name}': {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            return action();
        });
    }

    /// <summary>Runs <paramref name="action"/> inside this namespace (see <see cref="Run{T}(Func{T})"/>).</summary>
    public void Run(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Run(() =>
        {
            action();
            return 0;
        });
    }

    /// <summary>An rtnetlink client whose every call acts inside this namespace.</summary>
    public RtNetlink OpenRtNetlink() => RtNetlink.Open(this);

    /// <summary>
    /// The argv that runs <paramref name="program"/> inside this namespace: <c>nsenter --net=PATH -- program args…</c>.
    /// Pass it as an argument array to the process launcher (never through a shell).
    /// </summary>
    public IReadOnlyList<string> ExecArgv(string program, params IEnumerable<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        var argv = new List<string> { "nsenter", $"--net={Path}", "--", program };
        argv.AddRange(arguments);
        return argv;
    }

    public override string ToString() => Name;

    /// <summary>A namespace name is one harmless path component under /run/netns.</summary>
    public static string ValidateName(string name)
    {
        ObjectName.Validate(name, "network namespace");
        if (name.Length > 255)
        {
            throw VireoException.Invalid($"network namespace name '{name[..32]}...' is longer than 255 characters");
        }
        return name;
    }

    // iproute2's netns_add: make /run/netns a shared mount point (bind-mounting it onto itself first if it is not
    // a mount point yet), so mounts of namespaces propagate into mount namespaces created later.
    private static void MakeRunDirectoryShared()
    {
        bool bound = false;
        while (LibC.Mount("", RunDirectory, "none", LibC.MS_SHARED | LibC.MS_REC, 0) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINVAL || bound)
            {
                throw new VireoException(ErrorKind.OperationFailed,
                    $"cannot make {RunDirectory} a shared mount point: {LibC.ErrorText(errno)}");
            }
            if (LibC.Mount(RunDirectory, RunDirectory, "none", LibC.MS_BIND | LibC.MS_REC, 0) != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed,
                    $"cannot bind-mount {RunDirectory} onto itself: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            bound = true;
        }
    }

    // A fresh OS thread per call: once it has changed namespace it must never run anything else, so it dies with the call.
    private static T OnThread<T>(Func<T> body)
    {
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = body();
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
        }, 256 * 1024)
        {
            IsBackground = true,
            Name = "vireo-netns",
        };
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }
}
