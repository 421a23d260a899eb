using System.Runtime.CompilerServices;
using Vireo.Engine.Domains;
using Vireo.Host;
using Vireo.Host.Discovery;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Tuning;

/// <summary>
/// Tuning as a start hook: validate against fresh host facts before QEMU exists, pin threads before <c>cont</c>.
/// Register it in <see cref="DomainHostServices.StartHooks"/>. Nothing to release: affinity dies with the threads.
/// </summary>
public sealed class TuningStartHook : IDomainStartHook
{
    private readonly ConditionalWeakTable<DomainStartContext, TuningPlan> _plans = new();
    private readonly HostRoot _root;

    public TuningStartHook(HostRoot? root = null)
    {
        _root = root ?? HostRoot.System;
    }

    public ValueTask PrepareAsync(DomainStartContext context, CancellationToken ct)
    {
        var facts = HostDiscovery.Discover(_root);
        var plan = DomainTuner.Validate(context.Definition, facts, HugePages.Mounts(_root));
        _plans.AddOrUpdate(context, plan);
        foreach (var (size, path) in plan.HugepageMounts)
        {
            context.HugepageMounts[size] = path;
        }

        if (plan.AutoNode is int node)
        {
            context.AutoNumaNodeset = node.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The plan PrepareAsync made for this start (hugetlbfs mounts for the argv builder), or null.</summary>
    public TuningPlan? PlanFor(DomainStartContext context) => _plans.TryGetValue(context, out var p) ? p : null;

    public async ValueTask BeforeContinueAsync(DomainStartContext context, QmpClient qmp, CancellationToken ct)
    {
        if (!_plans.TryGetValue(context, out var plan))
        {
            return;
        }

        var def = context.Definition;
        bool wantsPins = def.CpuTune is not null || plan.DefaultCpus is not null;
        if (!wantsPins)
        {
            return;
        }

        var cpus = await qmp.QueryCpusFastAsync(ct).ConfigureAwait(false);
        IReadOnlyList<QmpIoThread> io = def.IoThreads > 0 ? await qmp.QueryIoThreadsAsync(ct).ConfigureAwait(false) : [];
        await DomainTuner.ApplyAsync(
            def,
            plan,
            context.QemuPid,
            [.. cpus.Select(kv => (kv.Key, kv.Value))],
            [.. io.Select(t => (t.Id, t.ThreadId))],
            ct).ConfigureAwait(false);
    }

    public void Release(string domainName, IReadOnlyList<string> resources)
    {
    }
}
