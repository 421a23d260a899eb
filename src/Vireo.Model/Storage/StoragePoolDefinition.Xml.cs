using System.Globalization;

namespace Vireo.Model.Storage;

public sealed partial record StoragePoolDefinition
{
    /// <summary>The pool's XML as libvirt writes it; <paramref name="figures"/> are zero for an inactive pool.</summary>
    public string ToXml(StoragePoolFigures figures = default)
    {
        var w = new LibvirtXmlWriter();
        w.Open("pool", ("type", Type.ToXml()));
        w.Text("name", Name);
        w.Text("uuid", Uuid.ToString());
        w.Text("capacity", figures.Capacity.ToString(CultureInfo.InvariantCulture), ("unit", "bytes"));
        w.Text("allocation", figures.Allocation.ToString(CultureInfo.InvariantCulture), ("unit", "bytes"));
        w.Text("available", figures.Available.ToString(CultureInfo.InvariantCulture), ("unit", "bytes"));
        WriteSource(w);
        if (Target is { } t)
        {
            w.Open("target");
            w.Text("path", t.Path);
            t.Permissions?.Write(w);
            w.Close("target");
        }

        w.Close("pool");
        return w.ToString();
    }

    private void WriteSource(LibvirtXmlWriter w)
    {
        var s = Source;
        w.Open("source");
        foreach (var h in s.Hosts)
        {
            w.Empty("host", ("name", h.Name), ("port", h.Port?.ToString(CultureInfo.InvariantCulture)));
        }

        foreach (var d in s.Devices)
        {
            w.Empty("device", ("path", d));
        }

        if (s.Dir is not null)
        {
            w.Empty("dir", ("path", s.Dir));
        }

        if (s.Adapter is { } a)
        {
            w.Empty("adapter", ("type", a.Type), ("name", a.Name));
        }

        w.Text("name", s.Name);
        if (s.Format is not null)
        {
            w.Empty("format", ("type", s.Format));
        }

        if (s.Auth is { } au)
        {
            w.Open("auth", ("type", au.Type), ("username", au.Username));
            w.Empty("secret", ("uuid", au.SecretUuid), ("usage", au.SecretUsage));
            w.Close("auth");
        }

        w.Close("source");
    }
}
