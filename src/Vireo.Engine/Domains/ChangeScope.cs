namespace Vireo.Engine.Domains;

/// <summary>
/// Where a change goes, as virsh's <c>--live</c>, <c>--config</c> and <c>--current</c> say it. Device hotplug and
/// live tuning share it, so both resolve <see cref="Current"/> the same way.
/// </summary>
[Flags]
public enum ChangeScope
{
    /// <summary>virsh's default and <c>--current</c>: the live domain when it runs, else the persistent definition.</summary>
    Current = 0,
    Live = 1,
    Config = 2,
}

internal static class ChangeScopeExtensions
{
    /// <summary>Which definitions a change in <paramref name="scope"/> reaches, given whether the domain runs.</summary>
    public static (bool Live, bool Config) Resolve(this ChangeScope scope, bool running) =>
        scope == ChangeScope.Current
            ? (running, !running)
            : (scope.HasFlag(ChangeScope.Live), scope.HasFlag(ChangeScope.Config));
}
