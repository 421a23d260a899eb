using Vireo.Engine.Domains;
using Vireo.Engine.Networks;
using Vireo.Engine.State;
using Vireo.Engine.Storage;
using Vireo.Engine.Tuning;

namespace Vireo.Engine;

/// <summary>
/// The engine in this process: the managers of domains (and, as they land, networks and pools) over one
/// state root. The CLI uses <see cref="Local"/>; a daemon would hold one of these for its lifetime.
/// </summary>
public sealed class VireoEngine
{
    private static VireoEngine? s_local;

    public VireoEngine(VireoPaths paths)
    {
        Paths = paths;
        var services = new DomainHostServices
        {
            WatcherExecutable = FindVireoExecutable(),
        };
        // Start hooks, in order: volumes resolve first (cheap, and a missing one should fail before any TAP
        // exists), then networking creates TAPs, then tuning validates and pins.
        services.StartHooks.Add(new VolumeStartHook(() => new VolumeResolver(paths)));
        services.StartHooks.Add(new DomainNetworkHook(new NetworkManager(paths)));
        services.StartHooks.Add(new TunedOnlyHook(new TuningStartHook()));
        Domains = new DomainManager(paths, services);
    }

    /// <summary>The engine for <c>$VIREO_ROOT</c> of this process, created on first use.</summary>
    public static VireoEngine Local => s_local ??= new VireoEngine(VireoPaths.FromEnvironment());

    public VireoPaths Paths { get; }

    public DomainManager Domains { get; }

    /// <summary>
    /// The vireo binary that runs per-domain watchers: this process when it is vireo, else $VIREO_EXE
    /// (tests that host the engine in-process point it at the published CLI).
    /// </summary>
    private static string? FindVireoExecutable()
    {
        string? env = Environment.GetEnvironmentVariable("VIREO_EXE");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }

        string? self = Environment.ProcessPath;
        return self is not null && Path.GetFileName(self) == "vireo" ? self : null;
    }
}
