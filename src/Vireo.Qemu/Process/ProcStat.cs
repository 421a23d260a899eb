using System.Globalization;

namespace Vireo.Qemu.Process;

/// <summary>
/// The two fields of <c>/proc/PID/stat</c> that identify a process across pid reuse: its state (field 3) and its
/// start time in clock ticks since boot (field 22).
/// </summary>
public readonly record struct ProcStat(char State, ulong StartTime)
{
    /// <summary>Zombie or dead: the process has exited and only awaits its parent's wait.</summary>
    public bool IsExited => State is 'Z' or 'X' or 'x';

    /// <summary>Reads <c>/proc/PID/stat</c>; null when there is no such process.</summary>
    public static ProcStat? Read(int pid, string procRoot = "/proc")
    {
        if (pid <= 0)
        {
            return null;
        }

        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "stat"));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return null;
        }

        return Parse(text);
    }

    /// <summary>
    /// Parses a stat line. The command name (field 2) is in parentheses and may itself hold spaces and
    /// parentheses, so fields are counted from the last ')'.
    /// </summary>
    public static ProcStat? Parse(ReadOnlySpan<char> line)
    {
        int close = line.LastIndexOf(')');
        if (close < 0 || close + 2 >= line.Length)
        {
            return null;
        }

        ReadOnlySpan<char> rest = line[(close + 2)..];
        // rest starts at field 3 (state); field 22 is the 20th token of rest.
        int field = 3;
        char state = '\0';
        foreach (Range range in rest.Split(' '))
        {
            ReadOnlySpan<char> token = rest[range];
            if (field == 3)
            {
                if (token.Length != 1)
                {
                    return null;
                }

                state = token[0];
            }
            else if (field == 22)
            {
                return ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out ulong start)
                    ? new ProcStat(state, start)
                    : null;
            }

            field++;
        }

        return null;
    }
}
