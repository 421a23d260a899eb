using Vireo.Model.Domains;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

/// <summary>
/// Runs the tuning hook only for domains that ask for tuning: reading the host's topology costs
/// milliseconds that an ordinary start should not pay.
/// </summary>
internal sealed class TunedOnlyHook : IDomainStartHook
{
    private readonly IDomainStartHook _inner;

    public TunedOnlyHook(IDomainStartHook inner) => _inner = inner;

    public static bool WantsTuning(DomainDefinition d) =>
        d.CpuTune is not null || d.NumaTune is not null || d.MemoryBacking is not null || d.VcpuPlacement == "auto";

    public ValueTask PrepareAsync(DomainStartContext context, CancellationToken ct) =>
        WantsTuning(context.Definition) ? _inner.PrepareAsync(context, ct) : ValueTask.CompletedTask;

    public ValueTask BeforeContinueAsync(DomainStartContext context, QmpClient qmp, CancellationToken ct) =>
        WantsTuning(context.Definition) ? _inner.BeforeContinueAsync(context, qmp, ct) : ValueTask.CompletedTask;

    public void Release(string domainName, IReadOnlyList<string> resources) => _inner.Release(domainName, resources);
}
