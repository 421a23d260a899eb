using System.Xml.Linq;

namespace Vireo.Model.Domains;

/// <summary>The guest clock: <c>&lt;clock offset&gt;</c> and its timers.</summary>
public sealed record ClockConfig
{
    /// <summary><c>utc</c>, <c>localtime</c>, <c>timezone</c> or <c>variable</c>.</summary>
    public string Offset { get; init; } = "utc";
    public string? Timezone { get; init; }
    public long? Adjustment { get; init; }
    public string? Basis { get; init; }
    public IReadOnlyList<ClockTimer> Timers { get; init; } = [];
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;

    internal static ClockConfig Parse(XmlCursor? c)
    {
        if (c is null)
        {
            return new ClockConfig();
        }
        var timers = new List<ClockTimer>();
        foreach (XmlCursor t in c.Children("timer"))
        {
            timers.Add(new ClockTimer
            {
                Name = t.OneOf("name", "platform", "pit", "rtc", "hpet", "tsc", "kvmclock", "hypervclock", "armvtimer") ?? throw VireoException.Invalid("<clock/timer> is missing 'name'"),
                Present = t.YesNo("present"),
                TickPolicy = t.OneOf("tickpolicy", "delay", "catchup", "merge", "discard"),
                Track = t.OneOf("track", "boot", "guest", "wall", "realtime"),
                Extra = t.Leftovers(),
            });
        }
        string offset = c.OneOf("offset", "utc", "localtime", "timezone", "variable") ?? "utc";
        return new ClockConfig
        {
            Offset = offset,
            Timezone = c.Attr("timezone"),
            Adjustment = c.LongAttr("adjustment"),
            Basis = c.OneOf("basis", "utc", "localtime"),
            Timers = timers,
            Extra = c.Leftovers(),
        };
    }

    internal XElement ToXml()
    {
        var e = new XElement("clock", new XAttribute("offset", Offset)).Attr("timezone", Timezone).Attr("adjustment", Adjustment).Attr("basis", Basis);
        foreach (ClockTimer t in Timers)
        {
            e.Add(new XElement("timer", new XAttribute("name", t.Name)).Attr("tickpolicy", t.TickPolicy).Attr("track", t.Track)
                .YesNo("present", t.Present).With(t.Extra));
        }
        return e.With(Extra);
    }
}

/// <summary>One <c>&lt;timer&gt;</c>: rtc, pit, hpet, kvmclock...</summary>
public sealed record ClockTimer
{
    public required string Name { get; init; }
    public bool? Present { get; init; }
    public string? TickPolicy { get; init; }
    public string? Track { get; init; }
    public UnmodeledXml Extra { get; init; } = UnmodeledXml.Empty;
}
