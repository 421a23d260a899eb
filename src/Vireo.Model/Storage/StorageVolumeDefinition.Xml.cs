using System.Globalization;

namespace Vireo.Model.Storage;

public sealed partial record StorageVolumeDefinition
{
    /// <summary>The volume's XML as libvirt writes it.</summary>
    public string ToXml()
    {
        var w = new LibvirtXmlWriter();
        w.Open("volume", ("type", Type));
        w.Text("name", Name);
        w.Text("key", Key);
        w.Text("capacity", (Capacity ?? 0).ToString(CultureInfo.InvariantCulture), ("unit", "bytes"));
        w.Text("allocation", (Allocation ?? Capacity ?? 0).ToString(CultureInfo.InvariantCulture), ("unit", "bytes"));
        if (Physical is long physical)
        {
            w.Text("physical", physical.ToString(CultureInfo.InvariantCulture), ("unit", "bytes"));
        }

        w.Open("target");
        w.Text("path", Path);
        if (Format is not null)
        {
            w.Empty("format", ("type", Format));
        }

        Permissions?.Write(w);
        if (Timestamps is { } ts)
        {
            w.Open("timestamps");
            w.Text("atime", Stamp(ts.Atime));
            w.Text("mtime", Stamp(ts.Mtime));
            w.Text("ctime", Stamp(ts.Ctime));
            w.Close("timestamps");
        }

        w.Text("compat", Compat);
        if (HasFeatures || LazyRefcounts)
        {
            if (LazyRefcounts)
            {
                w.Open("features");
                w.Empty("lazy_refcounts");
                w.Close("features");
            }
            else
            {
                w.Empty("features");
            }
        }

        w.Close("target");
        if (BackingStore is { } b)
        {
            w.Open("backingStore");
            w.Text("path", b.Path);
            if (b.Format is not null)
            {
                w.Empty("format", ("type", b.Format));
            }

            b.Permissions?.Write(w);
            w.Close("backingStore");
        }

        w.Close("volume");
        return w.ToString();
    }

    private static string Stamp(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = ticks / TimeSpan.TicksPerSecond;
        long nanos = ticks % TimeSpan.TicksPerSecond * 100;
        return $"{seconds.ToString(CultureInfo.InvariantCulture)}.{nanos.ToString("D9", CultureInfo.InvariantCulture)}";
    }
}
