using System.Globalization;
using Vireo.Engine.Tuning;
using Vireo.Host;
using Vireo.Host.Native;
using Vireo.Model;
using Vireo.Model.Domains;
using HostCpuSet = Vireo.Host.CpuSet;

namespace Vireo.Engine.Domains;

/// <summary>
/// Live and persistent CPU tuning: <c>vcpuinfo</c>, <c>vcpupin</c>, <c>emulatorpin</c>, <c>iothreadinfo</c>,
/// <c>iothreadpin</c>. Live pins are sched_setaffinity on QEMU's threads (found through QMP) and are recorded in
/// the live definition; config pins rewrite &lt;cputune&gt; of the persistent one.
/// </summary>
public sealed partial class DomainManager
{
    /// <summary>The vCPUs: of a running domain with their threads, host CPU, CPU time and affinity; else from the definition.</summary>
    public async Task<IReadOnlyList<VcpuInfo>> GetVcpuInfoAsync(string nameOrId, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var record = ReconcileIfDead(name, lockHeld: true);
        if (record is null)
        {
            var def = Store.LoadPersistent(name) ?? throw NoDomain(nameOrId);
            return [.. Enumerable.Range(0, def.Vcpus).Select(i => new VcpuInfo(i, null, null, null, null, ConfiguredVcpuAffinity(def, i)))];
        }

        var vcpus = await LiveVcpuThreadsAsync(record, ct).ConfigureAwait(false);
        var list = new List<VcpuInfo>(vcpus.Count);
        foreach (var (index, tid) in vcpus)
        {
            var stat = ThreadStat(record.Pid, tid);
            list.Add(new VcpuInfo(index, tid, stat?.Cpu, "running", stat?.CpuSeconds, Affinity.Get(tid)));
        }

        return list;
    }

    /// <summary>Affinity of every vCPU (0 to the maximum): live threads where they exist, else what the definition says.</summary>
    public async Task<IReadOnlyList<ThreadAffinity>> GetVcpuPinsAsync(string nameOrId, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var (record, live) = ResolveScope(name, scope, queryOnly: true);
        if (!live)
        {
            var def = Store.LoadPersistent(name) ?? throw VireoException.State($"domain '{name}' is transient: it has no persistent configuration");
            return [.. Enumerable.Range(0, def.MaxVcpus).Select(i => new ThreadAffinity(i, null, ConfiguredVcpuAffinity(def, i)))];
        }

        var liveDef = Store.LoadLive(name) ?? throw NoDomain(nameOrId);
        var threads = await LiveVcpuThreadsAsync(record!, ct).ConfigureAwait(false);
        return [.. Enumerable.Range(0, liveDef.MaxVcpus).Select(i => threads.TryGetValue(i, out int tid)
            ? new ThreadAffinity(i, tid, Affinity.Get(tid))
            : new ThreadAffinity(i, null, ConfiguredVcpuAffinity(liveDef, i)))];
    }

    /// <summary>Pins vCPU <paramref name="vcpu"/> to <paramref name="cpuList"/> (virsh cpuset syntax), live and/or in the configuration.</summary>
    public async Task PinVcpuAsync(string nameOrId, int vcpu, string cpuList, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var cpus = HostCpus(cpuList);
        var (record, liveDef, persistent) = ResolveChange(name, scope);

        // Check every target before changing any, so a refused request changes nothing.
        foreach (var d in new[] { liveDef, persistent })
        {
            if (d is not null && (vcpu < 0 || vcpu >= d.MaxVcpus))
            {
                throw VireoException.Invalid($"vcpu {vcpu} is out of range of {(d == liveDef ? "live" : "persistent")} cpu count {d.MaxVcpus} of domain '{name}'");
            }
        }

        if (liveDef is not null)
        {
            var threads = await LiveVcpuThreadsAsync(record!, ct).ConfigureAwait(false);
            if (threads.TryGetValue(vcpu, out int tid))
            {
                DomainTuner.PinVcpu(record!.Pid, tid, cpus, vcpu);
            }

            Store.SaveLive(Revalidate(liveDef with { CpuTune = WithVcpuPin(liveDef.CpuTune, vcpu, cpus) }));
        }

        if (persistent is not null)
        {
            Store.SavePersistent(Revalidate(persistent with { CpuTune = WithVcpuPin(persistent.CpuTune, vcpu, cpus) }));
        }
    }

    /// <summary>Affinity of the emulator threads (QEMU's main loop and workers).</summary>
    public Task<HostCpuSet> GetEmulatorPinAsync(string nameOrId, ChangeScope scope, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var (record, live) = ResolveScope(name, scope, queryOnly: true);
        if (live)
        {
            // The main thread's tid is QEMU's pid.
            return Task.FromResult(Affinity.Get(record!.Pid));
        }

        var def = RequirePersistent(name);
        return Task.FromResult(def.CpuTune?.EmulatorPin is string e ? HostCpuSet.Parse(e, "<cputune/emulatorpin cpuset>") : DefaultAffinity(def));
    }

    /// <summary>Pins every QEMU thread that is neither a vCPU nor an I/O thread.</summary>
    public async Task PinEmulatorAsync(string nameOrId, string cpuList, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var cpus = HostCpus(cpuList);
        var (record, liveDef, persistent) = ResolveChange(name, scope);
        if (liveDef is not null)
        {
            await using (var qmp = await ConnectAsync(record!, ct).ConfigureAwait(false))
            {
                var vcpus = await qmp.QueryCpusFastAsync(ct).ConfigureAwait(false);
                var io = liveDef.IoThreads > 0 ? await qmp.QueryIoThreadsAsync(ct).ConfigureAwait(false) : [];
                var skip = new HashSet<int>(vcpus.Values.Concat(io.Select(t => t.ThreadId)));
                foreach (int tid in DomainTuner.Threads(record!.Pid))
                {
                    if (!skip.Contains(tid))
                    {
                        Affinity.Set(tid, cpus);
                    }
                }
            }

            var tune = liveDef.CpuTune ?? new CpuTune();
            Store.SaveLive(Revalidate(liveDef with { CpuTune = tune with { EmulatorPin = cpus.ToString() } }));
        }

        if (persistent is not null)
        {
            var tune = persistent.CpuTune ?? new CpuTune();
            Store.SavePersistent(Revalidate(persistent with { CpuTune = tune with { EmulatorPin = cpus.ToString() } }));
        }
    }

    /// <summary>The I/O threads (1-based, as &lt;iothreadpin iothread&gt; counts) and their affinity.</summary>
    public async Task<IReadOnlyList<ThreadAffinity>> GetIoThreadsAsync(string nameOrId, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var (record, live) = ResolveScope(name, scope, queryOnly: true);
        if (!live)
        {
            var def = RequirePersistent(name);
            return [.. Enumerable.Range(1, def.IoThreads).Select(i => new ThreadAffinity(i, null, ConfiguredIoThreadAffinity(def, i)))];
        }

        await using var qmp = await ConnectAsync(record!, ct).ConfigureAwait(false);
        var list = new List<ThreadAffinity>();
        foreach (var t in await qmp.QueryIoThreadsAsync(ct).ConfigureAwait(false))
        {
            // QEMU's own monitor thread is not one of the domain's I/O threads.
            if (DomainTuner.IoThreadNumber(t.Id) is int n && t.Id.StartsWith("iothread", StringComparison.Ordinal))
            {
                list.Add(new ThreadAffinity(n, t.ThreadId, Affinity.Get(t.ThreadId)));
            }
        }

        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    /// <summary>Pins I/O thread <paramref name="ioThread"/> (1-based).</summary>
    public async Task PinIoThreadAsync(string nameOrId, int ioThread, string cpuList, ChangeScope scope, CancellationToken ct)
    {
        string name = ResolveName(nameOrId);
        using var lk = LockDomain(name);
        var cpus = HostCpus(cpuList);
        var (record, liveDef, persistent) = ResolveChange(name, scope);
        foreach (var d in new[] { liveDef, persistent })
        {
            if (d is not null && (ioThread < 1 || ioThread > d.IoThreads))
            {
                throw VireoException.Invalid($"I/O thread {ioThread} does not exist in domain '{name}' ({(d.IoThreads == 0 ? "it has no I/O threads" : $"its I/O threads are 1-{d.IoThreads}")})");
            }
        }

        if (liveDef is not null)
        {
            await using (var qmp = await ConnectAsync(record!, ct).ConfigureAwait(false))
            {
                string id = "iothread" + ioThread.ToString(CultureInfo.InvariantCulture);
                int tid = (await qmp.QueryIoThreadsAsync(ct).ConfigureAwait(false)).Where(t => t.Id == id).Select(t => (int?)t.ThreadId).FirstOrDefault()
                    ?? throw VireoException.State($"QEMU of domain '{name}' has no I/O thread {id}");
                Affinity.Set(tid, cpus);
            }

            Store.SaveLive(Revalidate(liveDef with { CpuTune = WithIoThreadPin(liveDef.CpuTune, ioThread, cpus) }));
        }

        if (persistent is not null)
        {
            Store.SavePersistent(Revalidate(persistent with { CpuTune = WithIoThreadPin(persistent.CpuTune, ioThread, cpus) }));
        }
    }

    /// <summary>
    /// Decides where a request goes. <paramref name="queryOnly"/> requests accept exactly one of live/config;
    /// a live request on an inactive domain is refused, as virsh refuses it.
    /// </summary>
    private (DomainRuntimeRecord? Record, bool Live) ResolveScope(string name, ChangeScope scope, bool queryOnly)
    {
        var record = ReconcileIfDead(name, lockHeld: true);
        if (queryOnly && scope == (ChangeScope.Live | ChangeScope.Config))
        {
            throw VireoException.Invalid("--live and --config are mutually exclusive when querying");
        }

        if (scope.HasFlag(ChangeScope.Live) && record is null)
        {
            throw VireoException.State($"domain '{name}' is not running (use --config to change its persistent definition)");
        }

        return (record, scope.Resolve(record is not null).Live);
    }

    /// <summary>
    /// The definitions a change in <paramref name="scope"/> reaches: the live one (with the runtime record of the
    /// QEMU that runs it) and/or the persistent one, each null when not reached.
    /// </summary>
    private (DomainRuntimeRecord? Record, DomainDefinition? Live, DomainDefinition? Persistent) ResolveChange(string name, ChangeScope scope)
    {
        var (record, live) = ResolveScope(name, scope, queryOnly: false);
        var persistent = scope.Resolve(running: record is not null).Config ? RequirePersistent(name) : null;
        var liveDef = live ? Store.LoadLive(name) ?? throw NoDomain(name) : null;
        return (live ? record : null, liveDef, persistent);
    }

    private DomainDefinition RequirePersistent(string name) =>
        Store.LoadPersistent(name) ?? throw VireoException.State($"domain '{name}' is transient: it has no persistent configuration to change");

    private static async Task<IReadOnlyDictionary<int, int>> LiveVcpuThreadsAsync(DomainRuntimeRecord record, CancellationToken ct)
    {
        await using var qmp = await ConnectAsync(record, ct).ConfigureAwait(false);
        return await qmp.QueryCpusFastAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A cpuset the user typed, checked against the CPUs this host has online.</summary>
    internal static HostCpuSet HostCpus(string text)
    {
        var cpus = HostCpuSet.Parse(text, "cpulist");
        if (cpus.IsEmpty)
        {
            throw VireoException.Invalid($"cpulist '{text}' names no CPU");
        }

        var online = OnlineCpus();
        var missing = cpus.Except(online);
        if (!missing.IsEmpty)
        {
            throw VireoException.Invalid($"cpulist '{text}' names CPU{(missing.Count > 1 ? "s" : "")} {missing}, which this host does not have (its online CPUs are {online})");
        }

        return cpus;
    }

    /// <summary>The CPUs this host has online, from sysfs.</summary>
    public static HostCpuSet OnlineCpus() =>
        HostCpuSet.ParseKernelList(HostRoot.System.ReadText("/sys/devices/system/cpu/online")?.Trim() ?? "0");

    private static HostCpuSet DefaultAffinity(DomainDefinition def) =>
        def.VcpuCpuset is string s ? HostCpuSet.Parse(s, "<vcpu cpuset>") : OnlineCpus();

    private static HostCpuSet ConfiguredVcpuAffinity(DomainDefinition def, int vcpu) =>
        def.CpuTune?.VcpuPins.FirstOrDefault(p => p.Vcpu == vcpu) is { } pin ? HostCpuSet.Of(pin.Cpus) : DefaultAffinity(def);

    private static HostCpuSet ConfiguredIoThreadAffinity(DomainDefinition def, int id) =>
        def.CpuTune?.IoThreadPins.FirstOrDefault(p => p.IoThread == id) is { } pin ? HostCpuSet.Of(pin.Cpus) : DefaultAffinity(def);

    private static CpuTune WithVcpuPin(CpuTune? tune, int vcpu, HostCpuSet cpus)
    {
        tune ??= new CpuTune();
        var pins = tune.VcpuPins.Where(p => p.Vcpu != vcpu).Append(new VcpuPin(vcpu, cpus.ToString(), cpus.Ids)).OrderBy(p => p.Vcpu).ToList();
        return tune with { VcpuPins = pins };
    }

    private static CpuTune WithIoThreadPin(CpuTune? tune, int id, HostCpuSet cpus)
    {
        tune ??= new CpuTune();
        var pins = tune.IoThreadPins.Where(p => p.IoThread != id).Append(new IoThreadPin(id, cpus.ToString(), cpus.Ids)).OrderBy(p => p.IoThread).ToList();
        return tune with { IoThreadPins = pins };
    }

    /// <summary>A changed definition goes through the parser again, so nothing invalid is ever stored.</summary>
    private static DomainDefinition Revalidate(DomainDefinition def) => DomainDefinition.Parse(def.ToXml());

    /// <summary>Field 39 (the CPU it last ran on) and utime+stime of one thread, from /proc/PID/task/TID/stat.</summary>
    private static (int Cpu, double CpuSeconds)? ThreadStat(int pid, int tid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/task/{tid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // f[0] is field 3, so field N is f[N - 3].
        string[] f = text[(close + 2)..].Split(' ');
        if (f.Length < 37)
        {
            return null;
        }

        ulong ticks = ulong.Parse(f[11], CultureInfo.InvariantCulture) + ulong.Parse(f[12], CultureInfo.InvariantCulture);
        return (int.Parse(f[36], CultureInfo.InvariantCulture), ticks / 100.0);
    }
}
