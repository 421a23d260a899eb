using System.Text;
using System.Text.Json;
using Vireo.Engine.State;
using Vireo.Model;

namespace Vireo.Engine.Domains;

/// <summary>
/// Everything a later vireo process needs to find and control a running domain: the QEMU pid (with its
/// start time, so a recycled pid is never mistaken for ours), the QMP socket, the state as last set, and
/// the host resources to release when it stops. Written atomically to <c>run/domains/NAME/status.json</c>.
/// </summary>
public sealed record DomainRuntimeRecord
{
    public required string Name { get; init; }

    public required Guid Uuid { get; init; }

    public required int Id { get; init; }

    public required int Pid { get; init; }

    /// <summary>Field 22 of /proc/PID/stat when QEMU started: the pid's identity.</summary>
    public required ulong PidStartTime { get; init; }

    public required long StartedAtUnixMs { get; init; }

    /// <summary>The QMP monitor any vireo command may connect to.</summary>
    public required string QmpSocket { get; init; }

    public required string Accelerator { get; init; }

    public bool Transient { get; init; }

    public DomainState State { get; init; } = DomainState.Running;

    public string Reason { get; init; } = "booted";

    /// <summary>Set by destroy before it kills QEMU, so the watcher leaves the teardown to it.</summary>
    public bool Destroying { get; init; }

    /// <summary>The guest asked to power off (SHUTDOWN from the guest): an exit is then a shutdown, not a crash.</summary>
    public bool GuestShutdown { get; init; }

    /// <summary>Set by reboot: the next guest SHUTDOWN is turned into a reset instead of a power-off.</summary>
    public bool FakeReboot { get; init; }

    public int? WatcherPid { get; init; }

    /// <summary>Serial/console aliases mapped to the pty QEMU allocated (for <c>console</c>).</summary>
    public IReadOnlyDictionary<string, string> Ptys { get; init; } = new Dictionary<string, string>();

    /// <summary>Host resources to release at stop, as opaque "kind:value" strings (e.g. <c>tap:vnet0</c>).</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];

    public byte[] ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("name", Name);
            w.WriteString("uuid", Uuid.ToString());
            w.WriteNumber("id", Id);
            w.WriteNumber("pid", Pid);
            w.WriteNumber("pidStartTime", PidStartTime);
            w.WriteNumber("startedAtUnixMs", StartedAtUnixMs);
            w.WriteString("qmpSocket", QmpSocket);
            w.WriteString("accelerator", Accelerator);
            w.WriteBoolean("transient", Transient);
            w.WriteString("state", DomainStatus.Name(State));
            w.WriteString("reason", Reason);
            w.WriteBoolean("destroying", Destroying);
            w.WriteBoolean("guestShutdown", GuestShutdown);
            w.WriteBoolean("fakeReboot", FakeReboot);
            if (WatcherPid is int wp)
            {
                w.WriteNumber("watcherPid", wp);
            }

            w.WriteStartObject("ptys");
            foreach (var (k, v) in Ptys)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
            w.WriteStartArray("resources");
            foreach (var r in Resources)
            {
                w.WriteStringValue(r);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return ms.ToArray();
    }

    public static DomainRuntimeRecord FromJson(ReadOnlySpan<byte> json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var r = doc.RootElement;
            var ptys = new Dictionary<string, string>();
            if (r.TryGetProperty("ptys", out var p))
            {
                foreach (var prop in p.EnumerateObject())
                {
                    ptys[prop.Name] = prop.Value.GetString() ?? "";
                }
            }

            var resources = new List<string>();
            if (r.TryGetProperty("resources", out var res))
            {
                foreach (var e in res.EnumerateArray())
                {
                    resources.Add(e.GetString() ?? "");
                }
            }

            DomainStatus.TryParse(r.GetProperty("state").GetString() ?? "", out var state);
            return new DomainRuntimeRecord
            {
                Name = r.GetProperty("name").GetString()!,
                Uuid = Guid.Parse(r.GetProperty("uuid").GetString()!),
                Id = r.GetProperty("id").GetInt32(),
                Pid = r.GetProperty("pid").GetInt32(),
                PidStartTime = r.GetProperty("pidStartTime").GetUInt64(),
                StartedAtUnixMs = r.GetProperty("startedAtUnixMs").GetInt64(),
                QmpSocket = r.GetProperty("qmpSocket").GetString()!,
                Accelerator = r.GetProperty("accelerator").GetString()!,
                Transient = r.GetProperty("transient").GetBoolean(),
                State = state,
                Reason = r.GetProperty("reason").GetString() ?? "unknown",
                Destroying = r.GetProperty("destroying").GetBoolean(),
                GuestShutdown = r.TryGetProperty("guestShutdown", out var gs) && gs.GetBoolean(),
                FakeReboot = r.TryGetProperty("fakeReboot", out var fr) && fr.GetBoolean(),
                WatcherPid = r.TryGetProperty("watcherPid", out var wp) ? wp.GetInt32() : null,
                Ptys = ptys,
                Resources = resources,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new VireoException(ErrorKind.Corrupt, $"runtime record {path} is damaged: {e.Message}");
        }
    }

    public void Save(string path) => AtomicFile.WriteAllBytes(path, ToJson());

    public static DomainRuntimeRecord? Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        return FromJson(bytes, path);
    }

    public override string ToString() => Encoding.UTF8.GetString(ToJson());
}
