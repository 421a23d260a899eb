namespace Vireo.Model.Domains;

/// <summary>What happens when the guest powers off, reboots or crashes (<c>on_poweroff</c>, <c>on_reboot</c>, <c>on_crash</c>).</summary>
public enum LifecycleAction
{
    Destroy,
    Restart,
    Preserve,
    RenameRestart,
    CoredumpDestroy,
    CoredumpRestart,
}

internal static class LifecycleActions
{
    public static readonly IReadOnlyDictionary<string, LifecycleAction> Names = new Dictionary<string, LifecycleAction>
    {
        ["destroy"] = LifecycleAction.Destroy,
        ["restart"] = LifecycleAction.Restart,
        ["preserve"] = LifecycleAction.Preserve,
        ["rename-restart"] = LifecycleAction.RenameRestart,
        ["coredump-destroy"] = LifecycleAction.CoredumpDestroy,
        ["coredump-restart"] = LifecycleAction.CoredumpRestart,
    };

    public static string Name(LifecycleAction a) => a switch
    {
        LifecycleAction.Destroy => "destroy",
        LifecycleAction.Restart => "restart",
        LifecycleAction.Preserve => "preserve",
        LifecycleAction.RenameRestart => "rename-restart",
        LifecycleAction.CoredumpDestroy => "coredump-destroy",
        _ => "coredump-restart",
    };

    public static LifecycleAction Parse(string? text, string element, LifecycleAction fallback)
    {
        if (text is null)
        {
            return fallback;
        }
        string t = text.Trim();
        return Names.TryGetValue(t, out LifecycleAction a)
            ? a
            : throw VireoException.Invalid($"<{element}> '{t}' is not one of: {string.Join(", ", Names.Keys)}");
    }
}
