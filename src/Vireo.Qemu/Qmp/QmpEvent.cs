using System.Text.Json;

namespace Vireo.Qemu.Qmp;

/// <summary>The QMP events Vireo reacts to by name; any other event arrives as <see cref="Other"/>.</summary>
public enum QmpEventKind
{
    Other,
    Shutdown,
    Powerdown,
    Stop,
    Resume,
    Reset,
    GuestPanicked,
    DeviceDeleted,
}

/// <summary>
/// One asynchronous QMP message: <c>{"event": NAME, "data": {...}, "timestamp": {...}}</c>. <see cref="Data"/>
/// is detached from the wire buffer, so the event can be kept.
/// </summary>
public sealed class QmpEvent
{
    public QmpEvent(string name, JsonElement data, DateTimeOffset timestamp)
    {
        Name = name;
        Data = data;
        Timestamp = timestamp;
        Kind = name switch
        {
            "SHUTDOWN" => QmpEventKind.Shutdown,
            "POWERDOWN" => QmpEventKind.Powerdown,
            "STOP" => QmpEventKind.Stop,
            "RESUME" => QmpEventKind.Resume,
            "RESET" => QmpEventKind.Reset,
            "GUEST_PANICKED" => QmpEventKind.GuestPanicked,
            "DEVICE_DELETED" => QmpEventKind.DeviceDeleted,
            _ => QmpEventKind.Other,
        };
    }

    public string Name { get; }

    public QmpEventKind Kind { get; }

    /// <summary>The event's <c>data</c> member; <see cref="JsonValueKind.Undefined"/> when it has none.</summary>
    public JsonElement Data { get; }

    /// <summary>When QEMU emitted it (its clock).</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>SHUTDOWN, RESET: true when the guest asked for it, false when the host (QMP, a signal) did.</summary>
    public bool? Guest => GetBool("guest");

    /// <summary>
    /// SHUTDOWN, RESET: QEMU's ShutdownCause (guest-shutdown, host-qmp-quit, host-signal, guest-panic, ...);
    /// STOP has none; GUEST_PANICKED: its action (pause, poweroff, run).
    /// </summary>
    public string? Reason => Kind == QmpEventKind.GuestPanicked ? GetString("action") : GetString("reason");

    /// <summary>DEVICE_DELETED: the device id, when the device had one.</summary>
    public string? Device => GetString("device");

    /// <summary>DEVICE_DELETED: the QOM path.</summary>
    public string? Path => GetString("path");

    public string? GetString(string property)
        => Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(property, out JsonElement v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;

    public bool? GetBool(string property)
        => Data.ValueKind == JsonValueKind.Object && Data.TryGetProperty(property, out JsonElement v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : null;

    public override string ToString() => Data.ValueKind == JsonValueKind.Undefined ? Name : $"{Name} {Data.GetRawText()}";

    internal static QmpEvent FromMessage(JsonElement root)
    {
        string name = root.GetProperty("event").GetString() ?? "";
        JsonElement data = root.TryGetProperty("data", out JsonElement d) ? d.Clone() : default;
        DateTimeOffset timestamp = DateTimeOffset.UnixEpoch;
        if (root.TryGetProperty("timestamp", out JsonElement ts) && ts.ValueKind == JsonValueKind.Object
            && ts.TryGetProperty("seconds", out JsonElement s) && s.TryGetInt64(out long seconds)
            && ts.TryGetProperty("microseconds", out JsonElement us) && us.TryGetInt64(out long micros) && seconds >= 0)
        {
            timestamp = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micros * 10);
        }

        return new QmpEvent(name, data, timestamp);
    }
}
