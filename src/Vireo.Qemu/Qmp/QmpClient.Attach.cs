using System.Net.Sockets;

namespace Vireo.Qemu.Qmp;

public sealed partial class QmpClient
{
    /// <summary>
    /// Takes over an already connected socket (an inherited socketpair end, as the per-domain watcher gets
    /// it) and does the handshake on it: greeting, then <c>qmp_capabilities</c>. The client owns the socket.
    /// </summary>
    public static async Task<QmpClient> AttachAsync(Socket socket, string description, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var client = new QmpClient(socket, description);
        try
        {
            await client.HandshakeAsync(timeout ?? QmpTimeouts.RunState, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
