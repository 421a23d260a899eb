using Vireo.Model;
using Vireo.Qemu.Process;

namespace Vireo.Engine.Domains;

public sealed partial class DomainManager
{
    /// <summary>
    /// Returns the runtime record when the domain is active and its QEMU is alive. When QEMU is gone (killed,
    /// crashed, or powered off while nobody watched), finishes the domain's life here: releases its resources,
    /// records why it stopped, removes the record, and returns null.
    /// </summary>
    internal DomainRuntimeRecord? ReconcileIfDead(string name, bool lockHeld = false)
    {
        var record = Store.LoadRecord(name);
        if (record is null || QemuProcessWatch.IsAlive(record.Pid, record.PidStartTime))
        {
            return record;
        }

        if (lockHeld)
        {
            Finalize(record, StopStatus(record));
            return null;
        }

        using (LockDomain(name))
        {
            // Someone may have finished it while we waited for the lock.
            record = Store.LoadRecord(name);
            if (record is null || QemuProcessWatch.IsAlive(record.Pid, record.PidStartTime))
            {
                return record;
            }

            Finalize(record, StopStatus(record));
            return null;
        }
    }

    /// <summary>Why a domain whose QEMU has exited stopped, judged from what the record says happened.</summary>
    internal static DomainStatus StopStatus(DomainRuntimeRecord record)
    {
        if (record.Destroying)
        {
            return new DomainStatus(DomainState.Shutoff, "destroyed");
        }

        if (record.GuestShutdown)
        {
            return new DomainStatus(DomainState.Shutoff, "shutdown");
        }

        // A panic the watcher acted on, or QEMU vanished without the guest asking (killed, crashed):
        // libvirt reports both as crashed.
        return new DomainStatus(DomainState.Shutoff, "crashed");
    }

    /// <summary>Releases a stopped domain's resources and leaves it inactive. The caller holds the domain lock.</summary>
    internal void Finalize(DomainRuntimeRecord record, DomainStatus status)
    {
        List<Exception>? errors = null;
        for (int i = Services.StartHooks.Count - 1; i >= 0; i--)
        {
            try
            {
                Services.StartHooks[i].Release(record.Name, record.Resources);
            }
            catch (Exception e) when (e is VireoException or IOException)
            {
                (errors ??= []).Add(e);
            }
        }

        bool persistent = !record.Transient && File.Exists(Store.DefinitionPath(record.Name));
        if (persistent)
        {
            Store.SaveLastState(record.Name, status);
        }

        Store.ClearRuntime(record.Name, keepLastState: persistent);
        if (errors is not null)
        {
            throw new VireoException(ErrorKind.OperationFailed,
                $"domain '{record.Name}' stopped, but releasing its resources failed: {errors[0].Message}");
        }
    }
}
