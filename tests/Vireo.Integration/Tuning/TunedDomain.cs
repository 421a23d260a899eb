using System.Globalization;
using Vireo.Integration.Guest;
using Vireo.Integration.Lifecycle;

namespace Vireo.Integration.Tuning;

/// <summary>The test guest's domain XML with tuning elements in place of its plain &lt;vcpu&gt;.</summary>
internal static class TunedDomain
{
    public static string Xml(TestGuest guest, string name, string serialSocket, string tuning, int memoryMiB = 256) =>
        GuestDomain.Xml(guest, name, serialSocket: serialSocket, memory: $"<memory unit='MiB'>{memoryMiB}</memory>")
            .Replace("<vcpu>1</vcpu>", tuning, StringComparison.Ordinal);

    /// <summary>Thread name (comm) → Cpus_allowed_list of every thread of <paramref name="pid"/>, as the kernel reports it.</summary>
    public static Dictionary<int, (string Name, string Allowed)> Threads(int pid)
    {
        var map = new Dictionary<int, (string, string)>();
        foreach (string dir in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            int tid = int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture);
            try
            {
                string comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                string allowed = File.ReadLines(Path.Combine(dir, "status")).First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))[18..].Trim();
                map[tid] = (comm, allowed);
            }
            catch (IOException)
            {
                // A worker thread that ended while we looked.
            }
        }

        return map;
    }

    public static string AllowedOf(int pid, int tid) =>
        File.ReadLines($"/proc/{pid}/task/{tid}/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))[18..].Trim();

    public static int QemuPid(string dominfoJson) =>
        System.Text.Json.JsonDocument.Parse(dominfoJson).RootElement.GetProperty("pid").GetInt32();
}
