using System.Globalization;

namespace Vireo.Integration.Guest;

/// <summary>Typing commands into the test guest's shell (docs/test-guest.md).</summary>
public sealed partial class SerialConsole
{
    // busybox ash's line editor holds at most 1024 characters per line.
    private const int MaxCommandLength = 900;

    private int _commandSequence;

    /// <summary>
    /// Runs one shell command line in the guest and returns its output (stdout and stderr, as the
    /// console shows them), with trailing newlines removed as <c>$(...)</c> does. The exit status is
    /// not checked; use <see cref="RunWithStatusAsync"/> for it. Commands run one at a time.
    /// </summary>
    public async Task<string> RunAsync(string command, TimeSpan timeout)
        => (await RunWithStatusAsync(command, timeout).ConfigureAwait(false)).Output;

    /// <summary>
    /// Runs one shell command line in the guest and returns its exit status and output. The command is
    /// wrapped in begin/end markers that its echo cannot contain (the typed text quotes part of each
    /// marker), so the shell echoing the line never confuses the result. The line must be a single line
    /// without tabs (the shell's line editor would complete on a tab).
    /// </summary>
    public async Task<CommandResult> RunWithStatusAsync(string command, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.AsSpan().IndexOfAny('\n', '\r', '\t') >= 0)
        {
            throw new ArgumentException("the command must be one line without tabs", nameof(command));
        }
        command = command.Trim();
        if (command.Length == 0 || command.Length > MaxCommandLength)
        {
            throw new ArgumentException($"the command must have 1 to {MaxCommandLength} characters", nameof(command));
        }

        await _commandLock.WaitAsync().ConfigureAwait(false);
        try
        {
            int id = Interlocked.Increment(ref _commandSequence);
            string tag = string.Create(CultureInfo.InvariantCulture, $"VIREO-RUN-{id}-{Environment.ProcessId % 10000}");
            string begin = tag + "-BEGIN";
            string end = tag + "-END";
            // "cmd &" cannot be followed by ";": the & already separates the commands.
            string separator = command.EndsWith('&') && !command.EndsWith("&&", StringComparison.Ordinal) ? " " : "; ";
            string line = $"printf '%s\\n' {tag}-'BEGIN'; {command}{separator}printf '\\n%s %d\\n' {tag}-'END' $?\n";

            int since = Position;
            await WriteAsync(line).ConfigureAwait(false);
            string endLine = await WaitForLineAsync(end, timeout, since).ConfigureAwait(false);

            string text = Transcript;
            int beginAt = text.IndexOf(begin + "\n", since, StringComparison.Ordinal);
            int endAt = text.IndexOf("\n" + end, Math.Max(beginAt, since), StringComparison.Ordinal);
            if (beginAt < 0 || endAt < 0)
            {
                throw new SerialConsoleException($"the output of '{command}' is not framed by its markers. Last output:\n{Tail()}");
            }
            int outputStart = beginAt + begin.Length + 1;
            string output = endAt > outputStart ? text[outputStart..endAt] : "";
            int status = int.Parse(endLine.AsSpan(end.Length + 1), NumberStyles.Integer, CultureInfo.InvariantCulture);
            return new CommandResult(status, output.TrimEnd('\n'));
        }
        finally
        {
            _commandLock.Release();
        }
    }
}

/// <summary>A guest command's exit status and output.</summary>
public sealed record CommandResult(int ExitCode, string Output);
