namespace Vireo.Engine.Domains;

/// <summary>A domain's state, named as libvirt names it (virDomainState).</summary>
public enum DomainState
{
    NoState,
    Running,
    Blocked,
    Paused,
    Shutdown,
    Shutoff,
    Crashed,
    PmSuspended,
}

/// <summary>State plus the reason libvirt would give (<c>running (booted)</c>, <c>shut off (destroyed)</c>).</summary>
public readonly record struct DomainStatus(DomainState State, string Reason)
{
    public static DomainStatus ShutoffUnknown => new(DomainState.Shutoff, "unknown");

    /// <summary>virsh's word for the state (<c>shut off</c>, <c>running</c>, <c>paused</c>, ...).</summary>
    public string StateName => Name(State);

    public static string Name(DomainState s) => s switch
    {
        DomainState.Running => "running",
        DomainState.Blocked => "idle",
        DomainState.Paused => "paused",
        DomainState.Shutdown => "in shutdown",
        DomainState.Shutoff => "shut off",
        DomainState.Crashed => "crashed",
        DomainState.PmSuspended => "pmsuspended",
        _ => "no state",
    };

    public static bool TryParse(string name, out DomainState state)
    {
        foreach (DomainState s in Enum.GetValues<DomainState>())
        {
            if (Name(s) == name)
            {
                state = s;
                return true;
            }
        }

        state = DomainState.NoState;
        return false;
    }

    public override string ToString() => $"{StateName} ({Reason})";
}
