using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>The <c>&lt;devices&gt;</c> of a domain, by kind, each list in document order.</summary>
public sealed record DomainDevices
{
    public string? Emulator { get; init; }
    public IReadOnlyList<Disk> Disks { get; init; } = [];
    public IReadOnlyList<Controller> Controllers { get; init; } = [];
    public IReadOnlyList<NetInterface> Interfaces { get; init; } = [];
    public IReadOnlyList<CharDevice> Serials { get; init; } = [];
    public IReadOnlyList<CharDevice> Parallels { get; init; } = [];
    public IReadOnlyList<CharDevice> Consoles { get; init; } = [];
    public IReadOnlyList<CharDevice> Channels { get; init; } = [];
    public IReadOnlyList<InputDevice> Inputs { get; init; } = [];
    public IReadOnlyList<TpmDevice> Tpms { get; init; } = [];
    public IReadOnlyList<GraphicsDevice> Graphics { get; init; } = [];
    public IReadOnlyList<SoundDevice> Sounds { get; init; } = [];
    public IReadOnlyList<AudioBackend> Audios { get; init; } = [];
    public IReadOnlyList<VideoDevice> Videos { get; init; } = [];
    public IReadOnlyList<HostdevDevice> Hostdevs { get; init; } = [];
    public WatchdogDevice? Watchdog => Watchdogs.Count > 0 ? Watchdogs[0] : null;
    public IReadOnlyList<WatchdogDevice> Watchdogs { get; init; } = [];
    public MemBalloon? MemBalloon { get; init; }
    public IReadOnlyList<RngDevice> Rngs { get; init; } = [];
    public IReadOnlyList<PanicDevice> Panics { get; init; } = [];
    public IReadOnlyList<MemoryDevice> Memories { get; init; } = [];
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static DomainDevices Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return new DomainDevices();
        }
        var watchdogs = c.Children("watchdog").Select(WatchdogDevice.Parse).ToList();
        var balloons = c.Children("memballoon").Select(MemBalloon.Parse).ToList();
        if (balloons.Count > 1)
        {
            throw VireoException.Invalid("a domain may have only one <memballoon>");
        }
        var devices = new DomainDevices
        {
            Emulator = c.ChildText("emulator")?.Trim(),
            Disks = c.Children("disk").Select(Disk.Parse).ToList(),
            Controllers = c.Children("controller").Select(Controller.Parse).ToList(),
            Interfaces = c.Children("interface").Select(NetInterface.Parse).ToList(),
            Serials = c.Children("serial").Select(s => CharDevice.Parse(s, "serial")).ToList(),
            Parallels = c.Children("parallel").Select(s => CharDevice.Parse(s, "parallel")).ToList(),
            Consoles = c.Children("console").Select(s => CharDevice.Parse(s, "console")).ToList(),
            Channels = c.Children("channel").Select(s => CharDevice.Parse(s, "channel")).ToList(),
            Inputs = c.Children("input").Select(InputDevice.Parse).ToList(),
            Tpms = c.Children("tpm").Select(TpmDevice.Parse).ToList(),
            Graphics = c.Children("graphics").Select(GraphicsDevice.Parse).ToList(),
            Sounds = c.Children("sound").Select(SoundDevice.Parse).ToList(),
            Audios = c.Children("audio").Select(AudioBackend.Parse).ToList(),
            Videos = c.Children("video").Select(VideoDevice.Parse).ToList(),
            Hostdevs = c.Children("hostdev").Select(HostdevDevice.Parse).ToList(),
            Watchdogs = watchdogs,
            MemBalloon = balloons.FirstOrDefault(),
            Rngs = c.Children("rng").Select(RngDevice.Parse).ToList(),
            Panics = c.Children("panic").Select(PanicDevice.Parse).ToList(),
            Memories = c.Children("memory").Select(MemoryDevice.Parse).ToList(),
        };
        return devices with { Extra = c.Leftovers() };
    }

    internal XElement ToXml()
    {
        var e = new XElement("devices");
        e.TextChild("emulator", Emulator);
        e.Add(Disks.Select(d => d.ToXml()));
        e.Add(Controllers.Select(d => d.ToXml()));
        e.Add(Interfaces.Select(d => d.ToXml()));
        e.Add(Serials.Select(d => d.ToXml()));
        e.Add(Parallels.Select(d => d.ToXml()));
        e.Add(Consoles.Select(d => d.ToXml()));
        e.Add(Channels.Select(d => d.ToXml()));
        e.Add(Inputs.Select(d => d.ToXml()));
        e.Add(Tpms.Select(d => d.ToXml()));
        e.Add(Graphics.Select(d => d.ToXml()));
        e.Add(Sounds.Select(d => d.ToXml()));
        e.Add(Audios.Select(d => d.ToXml()));
        e.Add(Videos.Select(d => d.ToXml()));
        e.Add(Hostdevs.Select(d => d.ToXml()));
        e.Add(Watchdogs.Select(d => d.ToXml()));
        e.Child(MemBalloon?.ToXml());
        e.Add(Rngs.Select(d => d.ToXml()));
        e.Add(Panics.Select(d => d.ToXml()));
        e.Add(Memories.Select(d => d.ToXml()));
        return e.With(Extra);
    }
}
