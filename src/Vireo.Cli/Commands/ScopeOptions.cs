using Vireo.Engine;
using Vireo.Engine.Domains;
using Vireo.Model;

namespace Vireo.Cli.Commands;

/// <summary>virsh's --live, --config, --current (and, for device commands, --persistent) as one <see cref="ChangeScope"/>.</summary>
internal static class ScopeOptions
{
    /// <summary>
    /// --current excludes the others; --live and --config may be combined. --persistent is --config, plus --live
    /// when the domain runs, so it needs the domain's state.
    /// </summary>
    public static ChangeScope Parse(CommandContext c)
    {
        bool live = c.Args.Has("live"), config = c.Args.Has("config"), persistent = c.Args.Has("persistent");
        if (c.Args.Has("current") && (live || config || persistent))
        {
            throw VireoException.Invalid(persistent
                ? "--current is mutually exclusive with --live, --config and --persistent"
                : "--current is mutually exclusive with --live and --config");
        }

        var scope = (live ? ChangeScope.Live : 0) | (config || persistent ? ChangeScope.Config : 0);
        if (persistent && IsRunning(c))
        {
            scope |= ChangeScope.Live;
        }

        return scope;
    }

    private static bool IsRunning(CommandContext c)
    {
        int pos = 0;
        string domain = c.Args.Required("domain", ref pos, "<domain>");
        return VireoEngine.Local.Domains.GetInfo(domain).IsActive;
    }
}
