using System.Globalization;

namespace Vireo.Engine.Domains;

/// <summary>CPU time of a process from /proc/PID/stat (identity and liveness: QemuProcessWatch).</summary>
internal static class ProcessInfo
{
    private const double ClockTicks = 100.0;

    /// <summary>Field 3 (state) and field 22 (starttime), or null when the pid is gone.</summary>
    public static (char State, ulong StartTime, ulong UserTicks, ulong SysTicks)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // comm may contain spaces and parentheses: fields start after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        string[] f = text[(close + 2)..].Split(' ');
        // f[0] is field 3.
        return (f[0][0],
            ulong.Parse(f[19], CultureInfo.InvariantCulture),
            ulong.Parse(f[11], CultureInfo.InvariantCulture),
            ulong.Parse(f[12], CultureInfo.InvariantCulture));
    }

    public static double? CpuTimeSeconds(int pid)
    {
        var st = ReadStat(pid);
        return st is { } s ? (s.UserTicks + s.SysTicks) / ClockTicks : null;
    }
}
