using System.Net.Sockets;
using System.Text.Json;
using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu.Process;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

/// <summary>
/// The per-domain watcher, Vireo's answer to "no daemon": a small detached process (like podman's conmon)
/// that holds a private QMP connection to one QEMU and acts on what the guest does — power-off, reboot,
/// panic — and records why QEMU ended. It holds no lock while idle; every action takes the domain lock,
/// so it never races a vireo command.
/// </summary>
public static class DomainWatcher
{
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(DomainManager manager, string name)
    {
        var record = manager.Store.LoadRecord(name);
        if (record is null)
        {
            return 0;
        }

        using var pidfd = QemuProcessWatch.TryOpen(record.Pid, record.PidStartTime);
        var socket = new Socket(new SafeSocketHandle(DomainManager.WatcherQmpFd, ownsHandle: true));
        try
        {
            await using var qmp = await QmpClient.AttachAsync(socket, $"the watcher socket of domain '{name}'", null, CancellationToken.None).ConfigureAwait(false);
            await foreach (var ev in qmp.Events.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    await OnEventAsync(manager, name, qmp, ev.Name, ev.Data).ConfigureAwait(false);
                }
                catch (Exception e) when (e is VireoException or QmpException or IOException)
                {
                    Console.Error.WriteLine($"vireo watcher: {name}: {ev.Name}: {e.Message}");
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or QmpException or VireoException)
        {
            Console.Error.WriteLine($"vireo watcher: {name}: {e.Message}");
        }

        // EOF: QEMU is exiting. Wait until it has (the pidfd turns readable at exit, zombie or not),
        // then let the common path record why and release what the domain held.
        if (pidfd is not null)
        {
            await QemuProcessWatch.WaitForExitAsync(pidfd, ExitWait).ConfigureAwait(false);
        }

        manager.ReconcileIfDead(name);
        return 0;
    }

    private static async Task OnEventAsync(DomainManager manager, string name, QmpClient qmp, string ev, JsonElement data)
    {
        switch (ev)
        {
            case "SHUTDOWN":
                bool guest = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("guest", out var g) && g.ValueKind == JsonValueKind.True;
                string reason = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("reason", out var r) ? r.GetString() ?? "" : "";
                if (guest)
                {
                    await OnGuestShutdownAsync(manager, name, qmp, reason).ConfigureAwait(false);
                }

                break;
            case "GUEST_PANICKED":
                await OnPanicAsync(manager, name, qmp).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The guest powered off (QEMU runs with -no-shutdown, so it waits for us): apply on_poweroff.</summary>
    private static async Task OnGuestShutdownAsync(DomainManager manager, string name, QmpClient qmp, string reason)
    {
        using var lk = manager.LockDomain(name);
        var record = manager.Store.LoadRecord(name);
        if (record is null || record.Destroying)
        {
            return;
        }

        var def = manager.Store.LoadLive(name);
        LifecycleAction action = reason == "guest-reset" ? def?.OnReboot ?? LifecycleAction.Restart : def?.OnPoweroff ?? LifecycleAction.Destroy;
        if (record.FakeReboot)
        {
            manager.Store.SaveRecord(record with { FakeReboot = false, State = DomainState.Running, Reason = "booted" });
            action = LifecycleAction.Restart;
        }

        switch (action)
        {
            case LifecycleAction.Restart:
            case LifecycleAction.RenameRestart:
                await qmp.SystemResetAsync(CancellationToken.None).ConfigureAwait(false);
                await qmp.ContAsync(CancellationToken.None).ConfigureAwait(false);
                break;
            case LifecycleAction.Preserve:
                manager.Store.SaveRecord(record with { State = DomainState.Shutdown, Reason = "user", GuestShutdown = true });
                break;
            default:
                manager.Store.SaveRecord(record with { GuestShutdown = true });
                await qmp.QuitAsync(CancellationToken.None).ConfigureAwait(false);
                break;
        }
    }

    private static async Task OnPanicAsync(DomainManager manager, string name, QmpClient qmp)
    {
        using var lk = manager.LockDomain(name);
        var record = manager.Store.LoadRecord(name);
        if (record is null || record.Destroying)
        {
            return;
        }

        var def = manager.Store.LoadLive(name);
        var action = def?.OnCrash ?? LifecycleAction.Destroy;
        if (action is LifecycleAction.Restart or LifecycleAction.RenameRestart or LifecycleAction.CoredumpRestart)
        {
            await qmp.SystemResetAsync(CancellationToken.None).ConfigureAwait(false);
            await qmp.ContAsync(CancellationToken.None).ConfigureAwait(false);
            return;
        }

        if (action == LifecycleAction.Preserve)
        {
            manager.Store.SaveRecord(record with { State = DomainState.Crashed, Reason = "panicked" });
            return;
        }

        manager.Store.SaveRecord(record with { State = DomainState.Crashed, Reason = "panicked" });
        await qmp.QuitAsync(CancellationToken.None).ConfigureAwait(false);
    }
}
