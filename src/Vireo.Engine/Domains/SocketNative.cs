using System.Runtime.InteropServices;

namespace Vireo.Engine.Domains;

internal static partial class SocketNative
{
    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, [Out] int[] fds);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
