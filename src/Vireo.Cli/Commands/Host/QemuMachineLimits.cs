using System.Diagnostics;
using System.Text.Json;
using Vireo.Model;

namespace Vireo.Cli.Commands.Host;

/// <summary>
/// The machine types' vCPU limits as QEMU itself reports them (QMP <c>query-machines</c>, field <c>cpu-max</c>),
/// asked once per QEMU binary from a QEMU started with <c>-machine none</c> and cached beside the help texts.
/// </summary>
internal static class QemuMachineLimits
{
    public sealed record Machine(string Name, string? Alias, int CpuMax, bool IsDefault);

    /// <summary>The machine named <paramref name="name"/> (or its alias), or QEMU's default machine when null.</summary>
    public static Machine Find(string? name)
    {
        var all = Query();
        var m = name is null
            ? all.FirstOrDefault(m => m.IsDefault)
            : all.FirstOrDefault(m => m.Name == name || m.Alias == name);
        return m ?? throw VireoException.Invalid(name is null
            ? $"{HostEnvironment.Emulator} reports no default machine type"
            : $"machine type '{name}' is not offered by {HostEnvironment.Emulator} (see 'vireo capabilities')");
    }

    public static IReadOnlyList<Machine> Query() => Parse(CachedReply());

    internal static IReadOnlyList<Machine> Parse(string qmpOutput)
    {
        foreach (string line in qmpOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            if (!doc.RootElement.TryGetProperty("return", out var r) || r.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            var list = new List<Machine>();
            foreach (var m in r.EnumerateArray())
            {
                list.Add(new Machine(
                    m.GetProperty("name").GetString()!,
                    m.TryGetProperty("alias", out var a) ? a.GetString() : null,
                    m.TryGetProperty("cpu-max", out var c) ? c.GetInt32() : 1,
                    m.TryGetProperty("is-default", out var d) && d.ValueKind == JsonValueKind.True));
            }

            return list;
        }

        throw new VireoException(ErrorKind.OperationFailed, $"{HostEnvironment.Emulator} answered query-machines with no machine list");
    }

    private static string CachedReply()
    {
        string emulator = HostEnvironment.Emulator;
        return QemuOutputCache.GetOrRun(emulator, "query-machines.json", () =>
        {
            var psi = new ProcessStartInfo(emulator)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string a in (string[])["-S", "-machine", "none", "-nodefaults", "-display", "none", "-qmp", "stdio"])
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi) ?? throw new VireoException(ErrorKind.OperationFailed, $"cannot run {emulator}");
            var err = p.StandardError.ReadToEndAsync();
            p.StandardInput.Write("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-machines\"}\n{\"execute\":\"quit\"}\n");
            p.StandardInput.Close();
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                p.Kill();
                throw new VireoException(ErrorKind.Timeout, $"{emulator} did not answer query-machines within 30 s");
            }

            if (p.ExitCode != 0)
            {
                throw new VireoException(ErrorKind.OperationFailed, $"{emulator} -qmp stdio failed: {err.Result.Trim()}");
            }

            return output;
        });
    }
}
