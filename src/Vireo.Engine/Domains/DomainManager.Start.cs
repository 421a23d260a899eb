using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu;
using Vireo.Qemu.Kvm;
using Vireo.Qemu.Process;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

public sealed partial class DomainManager
{
    /// <summary>The fd number the watcher finds its private QMP connection at.</summary>
    internal const int WatcherQmpFd = 3;

    private static readonly TimeSpan QmpConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Starts a defined, inactive domain.</summary>
    public async Task<DomainInfo> StartAsync(string nameOrId, bool paused, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        if (ReconcileIfDead(name, lockHeld: true) is not null)
        {
            throw VireoException.State($"domain '{name}' is already active");
        }

        var def = Store.LoadPersistent(name) ?? throw NoDomain(nameOrId);
        return await LaunchAsync(def, transient: false, paused, ct).ConfigureAwait(false);
    }

    /// <summary>Creates and starts a transient domain from XML (<c>virsh create</c>).</summary>
    public async Task<DomainInfo> CreateAsync(string xml, bool paused, CancellationToken ct)
    {
        var def = DomainDefinition.Parse(xml);
        ObjectName.Validate(def.Name, "domain");
        using var lk = LockDomain(def.Name);
        using (LockAll())
        {
            if (ReconcileIfDead(def.Name, lockHeld: true) is not null)
            {
                throw new VireoException(ErrorKind.AlreadyExists, $"domain '{def.Name}' is already active");
            }

            CheckUnique(def, allowSameName: true);
        }

        bool persistent = Store.LoadPersistent(def.Name) is not null;
        return await LaunchAsync(def, transient: !persistent, paused, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The start sequence. The caller holds the domain lock. Every step that takes something from the host
    /// registers its undo; a failure anywhere runs the undos in reverse, so a failed start leaves nothing.
    /// </summary>
    private async Task<DomainInfo> LaunchAsync(DomainDefinition def, bool transient, bool paused, CancellationToken ct)
    {
        string accelerator = ChooseAccelerator(def);
        string runDir = Store.RunDir(def.Name);
        PrepareRunDirectory(runDir);

        // Explicit PCI layout and spare root ports, so devices can be hot-plugged later without moving others.
        var ctx = new DomainStartContext(Vireo.Qemu.Hotplug.DeviceLayout.Materialize(def), runDir);
        var prepared = new List<IDomainStartHook>();
        QemuProcess? process = null;
        QmpClient? qmp = null;
        int watcherEnd = -1;
        int qemuWatcherEnd = -1;
        bool committed = false;
        try
        {
            foreach (var hook in Services.StartHooks)
            {
                prepared.Add(hook);
                await hook.PrepareAsync(ctx, ct).ConfigureAwait(false);
            }

            // The watcher's private monitor: a socketpair, QEMU's end passed at a fixed fd. Events queue in it
            // from QEMU's first instant, so the watcher misses none however late it attaches.
            (watcherEnd, qemuWatcherEnd) = SocketPair();
            int watcherMonitorFd = ctx.PassFd(qemuWatcherEnd);

            string qmpPath = Path.Combine(runDir, "qmp.sock");
            var argv = new List<string>(QemuCommandLine.Build(ctx.Definition, new QemuArgvOptions
            {
                RuntimeDirectory = runDir,
                Accelerator = accelerator,
                StartPaused = true,
                InterfaceTapFds = ctx.InterfaceTapFds,
                InterfaceTapQueueFds = ctx.InterfaceTapQueueFds,
                InterfaceVhostFds = ctx.InterfaceVhostFds,
                ResolvedDiskSources = ctx.ResolvedDiskSources,
                SerialLogDirectory = runDir,
                HugepageMounts = ctx.HugepageMounts,
                AutoNumaNodeset = ctx.AutoNumaNodeset,
            }));
            argv.AddRange(
            [
                "-chardev", $"socket,id=vireo-watch,fd={watcherMonitorFd}",
                "-mon", "chardev=vireo-watch,mode=control",
            ]);

            (process, qmp) = await QemuLauncher.LaunchAsync(new QemuLaunchOptions
            {
                Arguments = argv,
                EmulatorPath = Services.Emulator,
                LogPath = Path.Combine(runDir, "qemu.log"),
                QmpSocketPath = qmpPath,
                PassFds = ctx.PassedFds.Select(p => new QemuPassedFd(p.HostFd, p.TargetFd)).ToList(),
            }, QmpConnectTimeout, ct).ConfigureAwait(false);
            CloseFd(ref qemuWatcherEnd);
            foreach (var h in ctx.OwnedHandles)
            {
                h.Dispose();
            }

            ctx.OwnedHandles.Clear();
            ctx.QemuPid = process.Pid;

            var ptys = await qmp.QueryPtysAsync(ct).ConfigureAwait(false);
            foreach (var hook in prepared)
            {
                await hook.BeforeContinueAsync(ctx, qmp, ct).ConfigureAwait(false);
            }

            int id;
            using (LockAll())
            {
                id = AllocateId();
            }

            var record = new DomainRuntimeRecord
            {
                Name = def.Name,
                Uuid = def.Uuid,
                Id = id,
                Pid = process.Pid,
                PidStartTime = process.StartTime,
                StartedAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                QmpSocket = qmpPath,
                Accelerator = accelerator,
                Transient = transient,
                State = paused ? DomainState.Paused : DomainState.Running,
                Reason = paused ? "user" : "booted",
                Ptys = ptys,
                Resources = ctx.Resources.ToList(),
            };
            Store.SaveLive(ctx.Definition);
            Store.SaveRecord(record);
            AtomicDeleteLastState(def.Name);
            if (!paused)
            {
                await qmp.ContAsync(ct).ConfigureAwait(false);
            }

            committed = true;
            record = SpawnWatcher(record, watcherEnd);
            return new DomainInfo(ctx.Definition, id, new DomainStatus(record.State, record.Reason), !transient,
                Store.IsAutostart(def.Name), 0, process.Pid);
        }
        catch when (!committed)
        {
            await UndoStartAsync(def.Name, process, prepared, ctx).ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (qmp is not null)
            {
                await qmp.DisposeAsync().ConfigureAwait(false);
            }

            process?.Dispose();
            CloseFd(ref watcherEnd);
            CloseFd(ref qemuWatcherEnd);
            foreach (var h in ctx.OwnedHandles)
            {
                h.Dispose();
            }
        }
    }

    private async Task UndoStartAsync(string name, QemuProcess? process, List<IDomainStartHook> prepared, DomainStartContext ctx)
    {
        if (process is not null)
        {
            await process.KillAsync(CancellationToken.None).ConfigureAwait(false);
            process.TryReap();
        }

        for (int i = prepared.Count - 1; i >= 0; i--)
        {
            try
            {
                prepared[i].Release(name, ctx.Resources);
            }
            catch (Exception e) when (e is VireoException or IOException)
            {
                // The start's own error is the one to report; this one is only logged in the run dir.
                File.AppendAllText(Path.Combine(ctx.RunDirectory, "qemu.log"), $"vireo: undo failed: {e.Message}\n");
            }
        }

        AtomicFileDeleteRecord(name);
    }

    /// <summary>
    /// <c>type='qemu'</c> always means TCG. <c>type='kvm'</c> runs on KVM only when the probe says it really
    /// works; otherwise the start fails with the probe's reason, as libvirt does, rather than silently
    /// running a guest 10-50x slower than asked.
    /// </summary>
    private string ChooseAccelerator(DomainDefinition def)
    {
        if (def.Type == "qemu")
        {
            return "tcg";
        }

        if (def.Type != "kvm")
        {
            throw VireoException.Unsupported($"domain type '{def.Type}' is not supported (use 'kvm' or 'qemu')");
        }

        var kvm = KvmProbe.Probe(Paths.Runtime);
        if (!kvm.Usable)
        {
            throw new VireoException(ErrorKind.HostUnavailable,
                $"domain '{def.Name}' asks for <domain type='kvm'>, but {kvm.Reason}; use <domain type='qemu'> to run it under TCG");
        }

        return "kvm";
    }

    private static void PrepareRunDirectory(string runDir)
    {
        Directory.CreateDirectory(runDir);
        File.SetUnixFileMode(runDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (string stale in (string[])["qmp.sock", "status.json", "live.xml"])
        {
            File.Delete(Path.Combine(runDir, stale));
        }

        // One log per run: a fresh start should not show the last run's boot.
        File.Delete(Path.Combine(runDir, "console.log"));
        File.Delete(Path.Combine(runDir, "qemu.log"));
    }

    private void AtomicDeleteLastState(string name) => State.AtomicFile.Delete(Store.LastStatePath(name));

    private void AtomicFileDeleteRecord(string name) => State.AtomicFile.Delete(Store.RecordPath(name));

    /// <summary>libvirt numbers running domains from 1, never reusing an id while the host is up.</summary>
    private int AllocateId()
    {
        string path = Path.Combine(Paths.RunDomains, ".next-id");
        int next = 1;
        try
        {
            next = int.Parse(File.ReadAllText(path).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
        }

        State.AtomicFile.WriteAllText(path, (next + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return next;
    }

    /// <summary>
    /// A connected AF_UNIX pair as raw descriptors. Deliberately not .NET Sockets: disposing one shuts the
    /// connection down for every process holding a copy, and QEMU and the watcher hold copies.
    /// </summary>
    private static (int Ours, int Theirs) SocketPair()
    {
        int[] fds = new int[2];
        if (SocketNative.SocketPair(1 /* AF_UNIX */, 1 | 0x80000 /* SOCK_STREAM | SOCK_CLOEXEC */, 0, fds) != 0)
        {
            throw new VireoException(ErrorKind.OperationFailed, $"socketpair failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }

        return (fds[0], fds[1]);
    }

    private static void CloseFd(ref int fd)
    {
        if (fd >= 0)
        {
            _ = SocketNative.Close(fd);
            fd = -1;
        }
    }
}
