using Vireo.Engine.Storage;
using Vireo.Model.Domains;
using Vireo.Qemu.Qmp;

namespace Vireo.Engine.Domains;

/// <summary>
/// Resolves <c>&lt;disk type='volume'&gt;</c> to the volume's path at start, so a domain follows its volume
/// wherever the pool keeps it. A disk whose <c>&lt;driver&gt;</c> names no format takes the volume's, as libvirt
/// does. An inactive pool or a missing volume fails the start before QEMU exists.
/// </summary>
public sealed class VolumeStartHook : IDomainStartHook
{
    private readonly Func<VolumeResolver> _resolver;

    public VolumeStartHook(Func<VolumeResolver> resolver) => _resolver = resolver;

    public ValueTask PrepareAsync(DomainStartContext context, CancellationToken ct)
    {
        var disks = context.Definition.Devices.Disks;
        VolumeResolver? resolver = null;
        Disk[]? withFormats = null;
        for (int i = 0; i < disks.Count; i++)
        {
            var d = disks[i];
            if (d.Type == "volume" && d.SourcePool is not null && d.SourceVolume is not null)
            {
                resolver ??= _resolver();
                var (path, format) = resolver.Resolve(d.SourcePool, d.SourceVolume);
                context.ResolvedDiskSources[i] = path;
                if (d.Format is null)
                {
                    withFormats ??= [.. disks];
                    withFormats[i] = d with { Format = format };
                }
            }
        }

        if (withFormats is not null)
        {
            var def = context.Definition;
            context.Definition = def with { Devices = def.Devices with { Disks = withFormats } };
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The path of one volume disk (for a disk hot-plugged into a running domain).</summary>
    public string ResolveOne(Model.Domains.Disk disk) =>
        _resolver().Resolve(disk.SourcePool ?? throw Model.VireoException.Invalid($"disk '{disk.TargetDev}' has no source pool"),
            disk.SourceVolume ?? throw Model.VireoException.Invalid($"disk '{disk.TargetDev}' has no source volume")).path;

    public ValueTask BeforeContinueAsync(DomainStartContext context, QmpClient qmp, CancellationToken ct) => ValueTask.CompletedTask;

    public void Release(string domainName, IReadOnlyList<string> resources)
    {
    }
}
