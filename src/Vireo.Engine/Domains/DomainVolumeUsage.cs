using Vireo.Engine.Storage;

namespace Vireo.Engine.Domains;

/// <summary>
/// The disks running domains have open, from their live definitions, for storage's "volume in use" checks.
/// Volume disks resolve through their pool; storage follows backing chains itself.
/// </summary>
public sealed class DomainVolumeUsage : IVolumeUsage
{
    private readonly DomainManager _domains;

    public DomainVolumeUsage(DomainManager domains) => _domains = domains;

    public IEnumerable<(string domain, string path)> InUse()
    {
        foreach (string name in _domains.Store.ActiveNames())
        {
            if (_domains.ReconcileIfDead(name) is null)
            {
                continue;
            }

            var def = _domains.Store.LoadLive(name);
            if (def is null)
            {
                continue;
            }

            foreach (var disk in def.Devices.Disks)
            {
                if (disk.SourcePath is not null)
                {
                    yield return (name, disk.SourcePath);
                }
                else if (disk.SourcePool is not null && disk.SourceVolume is not null)
                {
                    string? path = null;
                    try
                    {
                        path = new VolumeResolver(_domains.Paths).Resolve(disk.SourcePool, disk.SourceVolume).path;
                    }
                    catch (Vireo.Model.VireoException)
                    {
                        // The pool went away under a running domain: nothing of it to protect.
                    }

                    if (path is not null)
                    {
                        yield return (name, path);
                    }
                }
            }
        }
    }
}
