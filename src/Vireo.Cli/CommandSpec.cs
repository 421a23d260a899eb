namespace Vireo.Cli;

/// <summary>One flag a command takes. <see cref="Value"/> names its argument, or is null for a switch.</summary>
internal sealed record OptionSpec(string Name, string Help, string? Value = null)
{
    public bool TakesValue => Value is not null;
}

/// <summary>
/// One CLI command: its virsh name, what it does, its flags, and the handler. Handlers only parse and
/// call into the engine; they print through <see cref="CommandContext"/>.
/// </summary>
internal sealed record CommandSpec(
    string Name,
    string Group,
    string Summary,
    string Usage,
    IReadOnlyList<OptionSpec> Options,
    Func<CommandContext, Task<int>> Run)
{
    /// <summary>
    /// When set, arguments reach the handler untouched (<see cref="CommandContext.RawArgs"/>), for
    /// commands such as <c>img</c> that follow another tool's flag grammar.
    /// </summary>
    public bool RawArguments { get; init; }

    /// <summary>Alternative names (for example <c>list</c> for <c>net-list</c> would be wrong; use sparingly).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>Longer help text shown by <c>vireo help NAME</c>.</summary>
    public string? Details { get; init; }
}
