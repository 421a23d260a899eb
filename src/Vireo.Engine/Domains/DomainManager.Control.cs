using Vireo.Model;
using Vireo.Qemu.Process;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

public sealed partial class DomainManager
{
    private static readonly TimeSpan DestroyGrace = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    /// <summary>Presses the ACPI power button and returns at once, as virsh shutdown does.</summary>
    public async Task<string> ShutdownAsync(string nameOrId, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = RequireActive(name, "shutdown");
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        await qmp.SystemPowerdownAsync(ct).ConfigureAwait(false);
        return name;
    }

    /// <summary>
    /// Stops QEMU now: SIGTERM (QEMU flushes its disks and exits), SIGKILL after a grace period unless
    /// <paramref name="graceful"/>. Returns once QEMU is gone and its resources are released.
    /// </summary>
    public async Task<string> DestroyAsync(string nameOrId, bool graceful, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = RequireActive(name, "destroy");

        // Tell the watcher this exit is ours before causing it.
        record = record with { Destroying = true };
        Store.SaveRecord(record);
        using (var pidfd = QemuProcessWatch.TryOpen(record.Pid, record.PidStartTime))
        {
            if (pidfd is not null)
            {
                bool gone = graceful
                    ? await GracefulOnlyAsync(pidfd, ct).ConfigureAwait(false)
                    : await QemuProcessWatch.TerminateAsync(pidfd, DestroyGrace, KillWait, ct).ConfigureAwait(false);
                if (!gone)
                {
                    Store.SaveRecord(record with { Destroying = false });
                    throw new VireoException(ErrorKind.Timeout,
                        $"failed to destroy domain '{name}': QEMU (pid {record.Pid}) did not exit" + (graceful ? " after SIGTERM" : " after SIGKILL"));
                }
            }
        }

        Finalize(record, new DomainStatus(DomainState.Shutoff, "destroyed"));
        return name;
    }

    private static async Task<bool> GracefulOnlyAsync(PidfdHandle pidfd, CancellationToken ct)
    {
        QemuProcessWatch.Signal(pidfd, 15);
        return await QemuProcessWatch.WaitForExitAsync(pidfd, DestroyGrace, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// ACPI reboot as libvirt does it without a guest agent: press the power button and, when the guest then
    /// powers off, reset it instead of stopping (the watcher sees <see cref="DomainRuntimeRecord.FakeReboot"/>).
    /// </summary>
    public async Task<string> RebootAsync(string nameOrId, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = RequireActive(name, "reboot");
        Store.SaveRecord(record with { FakeReboot = true });
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        await qmp.SystemPowerdownAsync(ct).ConfigureAwait(false);
        return name;
    }

    public async Task<string> ResetAsync(string nameOrId, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = RequireActive(name, "reset");
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        await qmp.SystemResetAsync(ct).ConfigureAwait(false);
        return name;
    }

    public async Task<string> SuspendAsync(string nameOrId, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = RequireActive(name, "suspend");
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        await qmp.StopAsync(ct).ConfigureAwait(false);
        Store.SaveRecord(record with { State = DomainState.Paused, Reason = "user" });
        return name;
    }

    public async Task<string> ResumeAsync(string nameOrId, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = RequireActive(name, "resume");
        if (record.State != DomainState.Paused)
        {
            throw VireoException.State($"domain '{name}' is not paused (it is {DomainStatus.Name(record.State)})");
        }

        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        await qmp.ContAsync(ct).ConfigureAwait(false);
        Store.SaveRecord(record with { State = DomainState.Running, Reason = "unpaused" });
        return name;
    }

    /// <summary>The runtime record of an active domain; a clear error when it is not running.</summary>
    internal DomainRuntimeRecord RequireActive(string name, string operation) =>
        ReconcileIfDead(name, lockHeld: true)
            ?? throw VireoException.State($"failed to {operation} domain '{name}': domain is not running");

    /// <summary>Opens the domain's shared QMP monitor.</summary>
    internal static async Task<QmpClient> ConnectAsync(DomainRuntimeRecord record, CancellationToken ct)
    {
        try
        {
            return await QmpClient.ConnectAsync(record.QmpSocket, null, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            throw new VireoException(ErrorKind.OperationFailed,
                $"cannot reach the QMP monitor of domain '{record.Name}' at {record.QmpSocket}: {e.Message}");
        }
    }

    /// <summary>The pty of a serial or console device of a running domain (the first one when no alias is given).</summary>
    public string GetConsolePty(string nameOrId, string? alias)
    {
        string name = ResolveName(nameOrId);
        var record = ReconcileIfDead(name)
            ?? throw VireoException.State($"domain '{name}' is not running");
        if (alias is not null)
        {
            return record.Ptys.TryGetValue(alias, out var p)
                ? p
                : throw VireoException.Invalid($"domain '{name}' has no pty character device '{alias}' (it has: {string.Join(", ", record.Ptys.Keys)})");
        }

        foreach (string preferred in (string[])["serial0", "console0"])
        {
            if (record.Ptys.TryGetValue(preferred, out var p))
            {
                return p;
            }
        }

        return record.Ptys.Values.FirstOrDefault()
            ?? throw VireoException.Unsupported($"domain '{name}' has no serial console of type pty");
    }
}
