using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Vireo.Model;
using Vireo.Qemu.Native;

namespace Vireo.Qemu.Qmp;

public sealed partial class QmpClient
{
    /// <summary>
    /// Runs a QMP command and returns its <c>return</c> value (detached; keep it as long as you like).
    /// <paramref name="writeArguments"/> writes the members of the <c>arguments</c> object (the object itself
    /// is opened and closed here); null sends no arguments. The timeout defaults to <see cref="QmpTimeouts.For"/>.
    /// </summary>
    /// <exception cref="QmpException">QEMU answered with an error.</exception>
    /// <exception cref="VireoException">No reply in time (Timeout), or the connection closed (OperationFailed).</exception>
    public async Task<JsonElement> ExecuteAsync(string command, Action<Utf8JsonWriter>? writeArguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using JsonDocument reply = await SendAsync(command, writeArguments, null, -1, timeout, cancellationToken).ConfigureAwait(false);
        return ReturnValue(command, reply.RootElement);
    }

    /// <summary>Runs a QMP command whose arguments are given as the text of a JSON object.</summary>
    public async Task<JsonElement> ExecuteAsync(string command, string argumentsJson, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using JsonDocument arguments = ParseObject(argumentsJson, "arguments");
        // The writer callback runs while the message is built, before the first await: the document is still alive.
        using JsonDocument reply = await SendAsync(command, w => WriteMembers(arguments.RootElement, w), null, -1, timeout, cancellationToken)
            .ConfigureAwait(false);
        return ReturnValue(command, reply.RootElement);
    }

    /// <summary>
    /// Sends a QMP command given as raw JSON (<c>{"execute": ..., "arguments": ...}</c>, as
    /// <c>virsh qemu-monitor-command</c> takes it) and returns QEMU's raw reply. The client puts its own id
    /// on the wire to match the reply; the caller's id, if any, is put back in the reply. Error replies are
    /// returned, not thrown: the caller asked for QEMU's words.
    /// </summary>
    public async Task<string> RawAsync(string json, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using JsonDocument request = ParseObject(json, "QMP command");
        JsonElement root = request.RootElement;
        if (!root.TryGetProperty("execute", out JsonElement execute) || execute.ValueKind != JsonValueKind.String)
        {
            throw VireoException.Invalid("QMP command must be a JSON object with a string member 'execute'");
        }

        string command = execute.GetString()!;
        JsonElement? userId = root.TryGetProperty("id", out JsonElement id) ? id : null;
        using JsonDocument reply = await SendAsync(command, null, root, -1, timeout, cancellationToken).ConfigureAwait(false);

        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            foreach (JsonProperty property in reply.RootElement.EnumerateObject())
            {
                if (property.NameEquals("id"))
                {
                    continue;
                }

                property.WriteTo(writer);
            }

            if (userId is { } uid)
            {
                writer.WritePropertyName("id");
                uid.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>
    /// Hands QEMU a file descriptor under <paramref name="name"/> (QMP <c>getfd</c>): the descriptor travels as
    /// SCM_RIGHTS ancillary data with the command itself. Later commands refer to it by name (e.g.
    /// <c>netdev_add tap,fd=NAME</c>). Ours stays open; close it when QEMU has it.
    /// </summary>
    public async Task GetFdAsync(string name, SafeHandle fd, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            await GetFdAsync(name, (int)fd.DangerousGetHandle(), timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <inheritdoc cref="GetFdAsync(string, SafeHandle, TimeSpan?, CancellationToken)"/>
    public async Task GetFdAsync(string name, int fd, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        using JsonDocument reply = await SendAsync("getfd", w => w.WriteString("fdname", name), null, fd, timeout, cancellationToken).ConfigureAwait(false);
        ReturnValue("getfd", reply.RootElement);
    }

    private static void WriteMembers(JsonElement source, Utf8JsonWriter writer)
    {
        foreach (JsonProperty property in source.EnumerateObject())
        {
            property.WriteTo(writer);
        }
    }

    private static JsonDocument ParseObject(string json, string what)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw VireoException.Invalid($"{what} is not valid JSON: {e.Message}");
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw VireoException.Invalid($"{what} must be a JSON object");
        }

        return doc;
    }

    private static JsonElement ReturnValue(string command, JsonElement reply)
    {
        if (reply.TryGetProperty("error", out JsonElement error))
        {
            string errorClass = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("class", out JsonElement c) ? c.GetString() ?? "" : "";
            string desc = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("desc", out JsonElement d) ? d.GetString() ?? "" : error.GetRawText();
            throw new QmpException(command, errorClass, desc);
        }

        return reply.TryGetProperty("return", out JsonElement value) ? value.Clone() : default;
    }

    /// <summary>
    /// Registers the pending reply before writing, so even an instant reply finds its waiter. The returned
    /// document is the whole reply message; the caller disposes it.
    /// </summary>
    private async Task<JsonDocument> SendAsync(string command, Action<Utf8JsonWriter>? writeArguments, JsonElement? rawRequest, int fd,
        TimeSpan? timeout, CancellationToken cancellationToken)
    {
        long id = Interlocked.Increment(ref _nextId);
        byte[] message = Serialize(command, id, writeArguments, rawRequest);
        var pending = new PendingCommand(command, new TaskCompletionSource<JsonDocument>(TaskCreationOptions.RunContinuationsAsynchronously));
        _pending[id] = pending;
        // OnClosed sets the flag before draining the map: a command registered after the drain is failed here.
        if (_isClosed && _pending.TryRemove(id, out _))
        {
            throw ClosedError(command, null);
        }

        TimeSpan wait = timeout ?? QmpTimeouts.For(command);
        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (fd >= 0)
                {
                    SendWithFd(message, fd);
                }
                else
                {
                    // Not cancellable: a command cut off halfway would leave QEMU's parser mid-object.
                    await _socket.SendAsync(message, SocketFlags.None, CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _pending.TryRemove(id, out _);
            throw ClosedError(command, e);
        }
        catch
        {
            _pending.TryRemove(id, out _);
            throw;
        }

        try
        {
            return await pending.Reply.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _pending.TryRemove(id, out _);
            throw new VireoException(ErrorKind.Timeout, $"QEMU did not answer QMP command '{command}' within {wait.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException)
        {
            _pending.TryRemove(id, out _);
            throw;
        }
    }

    private static byte[] Serialize(string command, long id, Action<Utf8JsonWriter>? writeArguments, JsonElement? rawRequest)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (rawRequest is { } raw)
            {
                // The caller's members as given, minus their id: ours is the one that matches the reply.
                foreach (JsonProperty property in raw.EnumerateObject())
                {
                    if (!property.NameEquals("id"))
                    {
                        property.WriteTo(writer);
                    }
                }
            }
            else
            {
                writer.WriteString("execute", command);
                if (writeArguments is not null)
                {
                    writer.WritePropertyName("arguments");
                    writer.WriteStartObject();
                    writeArguments(writer);
                    writer.WriteEndObject();
                }
            }

            writer.WriteNumber("id", id);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>sendmsg with one SCM_RIGHTS descriptor; the socket is non-blocking, so wait for POLLOUT on EAGAIN.</summary>
    private unsafe void SendWithFd(byte[] message, int fd)
    {
        int socketFd = (int)_socket.SafeHandle.DangerousGetHandle();
        // cmsghdr (16 bytes) + one int, padded to 8: CMSG_SPACE(sizeof(int)) == 24 on x86_64.
        const int ControlSize = 24;
        byte* control = stackalloc byte[ControlSize];
        new Span<byte>(control, ControlSize).Clear();
        var cmsg = (LibC.CMsgHdr*)control;
        cmsg->Len = (nuint)(sizeof(LibC.CMsgHdr) + sizeof(int));
        cmsg->Level = LibC.SOL_SOCKET;
        cmsg->Type = LibC.SCM_RIGHTS;
        *(int*)(control + sizeof(LibC.CMsgHdr)) = fd;

        int offset = 0;
        fixed (byte* data = message)
        {
            while (offset < message.Length)
            {
                var iov = new LibC.IoVec { Base = data + offset, Length = (nuint)(message.Length - offset) };
                var msg = new LibC.MsgHdr { Iov = &iov, IovLen = 1 };
                if (offset == 0)
                {
                    // The descriptor goes with the first byte of the command; QEMU attaches it to that command.
                    msg.Control = control;
                    msg.ControlLen = ControlSize;
                }

                nint sent = LibC.SendMsg(socketFd, &msg, LibC.MSG_NOSIGNAL);
                if (sent >= 0)
                {
                    offset += (int)sent;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                if (errno == LibC.EAGAIN)
                {
                    var pfd = new LibC.PollFd { Fd = socketFd, Events = LibC.POLLOUT };
                    LibC.Poll(&pfd, 1, 1000);
                    continue;
                }

                throw new SocketException(errno);
            }
        }
    }
}
