namespace Vireo.Engine.Storage;

/// <summary>
/// Which host paths running domains have open as disks. The domain engine implements it from its runtime
/// records; storage asks it before deleting, wiping or destroying what a guest is using.
/// </summary>
public interface IVolumeUsage
{
    IEnumerable<(string domain, string path)> InUse();
}

/// <summary>No domain uses anything: for tools and tests that run without the domain engine.</summary>
public sealed class NoVolumeUsage : IVolumeUsage
{
    public static readonly NoVolumeUsage Instance = new();

    public IEnumerable<(string domain, string path)> InUse() => [];
}
