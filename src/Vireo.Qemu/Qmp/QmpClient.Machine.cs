using System.Text.Json;
using Vireo.Model;

namespace Vireo.Qemu.Qmp;

/// <summary>QMP <c>query-status</c>: QEMU's run state (running, paused, prelaunch, shutdown, guest-panicked, ...).</summary>
public readonly record struct QmpStatus(string Status, bool Running);

/// <summary>One character device from <c>query-chardev</c>: its id and QEMU's description, e.g. <c>pty:/dev/pts/3</c>.</summary>
public readonly record struct QmpChardev(string Label, string Filename)
{
    /// <summary>The pty path for a <c>-chardev pty</c> (what <c>virsh console</c> opens); null for other kinds.</summary>
    public string? PtyPath => Filename.StartsWith("pty:", StringComparison.Ordinal) ? Filename[4..] : null;
}

/// <summary>One IOThread from <c>query-iothreads</c>.</summary>
public readonly record struct QmpIoThread(string Id, int ThreadId);

public sealed partial class QmpClient
{
    public async Task<QmpStatus> QueryStatusAsync(CancellationToken cancellationToken = default)
    {
        JsonElement r = await ExecuteAsync("query-status", cancellationToken: cancellationToken).ConfigureAwait(false);
        string status = r.TryGetProperty("status", out JsonElement s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "unknown";
        bool running = r.TryGetProperty("running", out JsonElement run) && run.ValueKind == JsonValueKind.True;
        return new QmpStatus(status, running);
    }

    /// <summary>Starts (from <c>-S</c>) or resumes the guest's CPUs.</summary>
    public Task ContAsync(CancellationToken cancellationToken = default) => ExecuteAsync("cont", cancellationToken: cancellationToken);

    /// <summary>Pauses the guest's CPUs.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => ExecuteAsync("stop", cancellationToken: cancellationToken);

    /// <summary>Presses the ACPI power button; the guest decides what to do.</summary>
    public Task SystemPowerdownAsync(CancellationToken cancellationToken = default) => ExecuteAsync("system_powerdown", cancellationToken: cancellationToken);

    /// <summary>Resets the machine, like the reset button.</summary>
    public Task SystemResetAsync(CancellationToken cancellationToken = default) => ExecuteAsync("system_reset", cancellationToken: cancellationToken);

    /// <summary>
    /// Asks QEMU to exit. QEMU answers and then closes the socket; a close that overtakes the answer counts as
    /// success too. Await <see cref="Closed"/> (or the process) to know it is gone.
    /// </summary>
    public async Task QuitAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await ExecuteAsync("quit", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (VireoException e) when (e.Kind == ErrorKind.OperationFailed && _isClosed)
        {
        }
    }

    /// <summary>vCPU index → host thread id, from <c>query-cpus-fast</c>; for pinning vCPU threads.</summary>
    public async Task<IReadOnlyDictionary<int, int>> QueryCpusFastAsync(CancellationToken cancellationToken = default)
    {
        JsonElement r = await ExecuteAsync("query-cpus-fast", cancellationToken: cancellationToken).ConfigureAwait(false);
        var cpus = new SortedDictionary<int, int>();
        if (r.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement cpu in r.EnumerateArray())
            {
                if (cpu.TryGetProperty("cpu-index", out JsonElement index) && index.TryGetInt32(out int i)
                    && cpu.TryGetProperty("thread-id", out JsonElement thread) && thread.TryGetInt32(out int t))
                {
                    cpus[i] = t;
                }
            }
        }

        return cpus;
    }

    /// <summary>The character devices and where they lead, from <c>query-chardev</c>; for the ptys QEMU allocated.</summary>
    public async Task<IReadOnlyList<QmpChardev>> QueryChardevAsync(CancellationToken cancellationToken = default)
    {
        JsonElement r = await ExecuteAsync("query-chardev", cancellationToken: cancellationToken).ConfigureAwait(false);
        var chardevs = new List<QmpChardev>();
        if (r.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement c in r.EnumerateArray())
            {
                if (c.TryGetProperty("label", out JsonElement label) && label.ValueKind == JsonValueKind.String
                    && c.TryGetProperty("filename", out JsonElement file) && file.ValueKind == JsonValueKind.String)
                {
                    chardevs.Add(new QmpChardev(label.GetString()!, file.GetString()!));
                }
            }
        }

        return chardevs;
    }

    /// <summary>Whether this QEMU runs its guest under KVM (<c>query-kvm</c>): enabled, and present in the binary.</summary>
    public async Task<(bool Enabled, bool Present)> QueryKvmAsync(CancellationToken cancellationToken = default)
    {
        JsonElement r = await ExecuteAsync("query-kvm", cancellationToken: cancellationToken).ConfigureAwait(false);
        return (r.TryGetProperty("enabled", out JsonElement e) && e.ValueKind == JsonValueKind.True,
            r.TryGetProperty("present", out JsonElement p) && p.ValueKind == JsonValueKind.True);
    }

    /// <summary>The IOThreads (<c>-object iothread</c>) and their host thread ids, from <c>query-iothreads</c>.</summary>
    public async Task<IReadOnlyList<QmpIoThread>> QueryIoThreadsAsync(CancellationToken cancellationToken = default)
    {
        JsonElement r = await ExecuteAsync("query-iothreads", cancellationToken: cancellationToken).ConfigureAwait(false);
        var threads = new List<QmpIoThread>();
        if (r.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement io in r.EnumerateArray())
            {
                if (io.TryGetProperty("id", out JsonElement id) && id.ValueKind == JsonValueKind.String
                    && io.TryGetProperty("thread-id", out JsonElement thread) && thread.TryGetInt32(out int t))
                {
                    threads.Add(new QmpIoThread(id.GetString()!, t));
                }
            }
        }

        return threads;
    }

    /// <summary>Runs a human monitor (HMP) command line, as <c>virsh qemu-monitor-command --hmp</c>, and returns its output.</summary>
    public async Task<string> HumanMonitorCommandAsync(string commandLine, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        JsonElement r = await ExecuteAsync("human-monitor-command", w => w.WriteString("command-line", commandLine), timeout, cancellationToken)
            .ConfigureAwait(false);
        return r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
    }
}
