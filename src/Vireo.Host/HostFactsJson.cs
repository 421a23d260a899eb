using System.Text;
using System.Text.Json;

namespace Vireo.Host;

/// <summary>Host facts as JSON, written without reflection (the CLI is AOT). Sizes are KiB unless named Bytes.</summary>
public static class HostFactsJson
{
    public static string Format(HostFacts f)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            Write(w, f);
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static void Write(Utf8JsonWriter w, HostFacts f)
    {
        w.WriteStartObject();
        w.WriteString("hostname", f.Hostname);
        w.WritePropertyName("cpu");
        WriteCpu(w, f.Cpu);
        w.WriteNumber("memoryKiB", f.MemoryKiB);
        w.WriteNumber("freeMemoryKiB", f.FreeMemoryKiB);
        w.WriteNumber("basePageKiB", f.BasePageKiB);
        w.WriteStartArray("cells");
        foreach (var c in f.Cells)
        {
            WriteCell(w, c);
        }

        w.WriteEndArray();
        w.WriteStartArray("hugepages");
        foreach (var h in f.HugePages)
        {
            w.WriteStartObject();
            w.WriteNumber("sizeKiB", h.SizeKiB);
            w.WriteNumber("total", h.Total);
            w.WriteNumber("free", h.Free);
            w.WriteNumber("surplus", h.Surplus);
            w.WriteStartArray("nodes");
            foreach (var (node, total, free) in h.PerNode)
            {
                w.WriteStartObject();
                w.WriteNumber("node", node);
                w.WriteNumber("total", total);
                w.WriteNumber("free", free);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WritePropertyName("iommu");
        w.WriteStartObject();
        w.WriteBoolean("enabled", f.Iommu.Enabled);
        WriteStringOrNull(w, "kind", f.Iommu.Kind);
        w.WriteNumber("groups", f.Iommu.GroupCount);
        w.WriteEndObject();
        w.WritePropertyName("virtualization");
        WriteVirt(w, f.Virt);
        w.WriteStartArray("pciDevices");
        foreach (var p in f.PciDevices)
        {
            WritePci(w, p);
        }

        w.WriteEndArray();
        w.WriteStartArray("netDevices");
        foreach (var n in f.NetDevices)
        {
            WriteNet(w, n);
        }

        w.WriteEndArray();
        w.WriteStartArray("blockDevices");
        foreach (var b in f.BlockDevices)
        {
            w.WriteStartObject();
            w.WriteString("name", b.Name);
            w.WriteNumber("sizeBytes", b.SizeBytes);
            w.WriteStartArray("partitions");
            foreach (string p in b.Partitions)
            {
                w.WriteStringValue(p);
            }

            w.WriteEndArray();
            WriteStringOrNull(w, "parent", b.Parent?.ToString());
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WriteVirt(Utf8JsonWriter w, VirtFacts v)
    {
        w.WriteStartObject();
        w.WriteBoolean("vmx", v.Vmx);
        w.WriteBoolean("svm", v.Svm);
        WriteStringOrNull(w, "hardware", v.HardwareVirt);
        w.WriteBoolean("devKvm", v.DevKvm);
        w.WriteBoolean("kvmModule", v.KvmModule);
        w.WriteBoolean("paravirtKvm", v.ParavirtKvm);
        if (v.Nested is bool nested)
        {
            w.WriteBoolean("nested", nested);
        }
        else
        {
            w.WriteNull("nested");
        }

        w.WriteBoolean("kvmUsable", v.KvmUsable);
        w.WriteEndObject();
    }

    public static void WriteCell(Utf8JsonWriter w, NumaCell c)
    {
        w.WriteStartObject();
        w.WriteNumber("id", c.Id);
        w.WriteNumber("memoryKiB", c.MemoryKiB);
        w.WriteNumber("freeKiB", c.FreeKiB);
        w.WriteString("cpus", c.Cpus.ToString());
        w.WriteStartObject("distances");
        foreach (var (node, d) in c.Distances)
        {
            w.WriteNumber(node.ToString(global::System.Globalization.CultureInfo.InvariantCulture), d);
        }

        w.WriteEndObject();
        w.WriteStartArray("pages");
        foreach (var p in c.Pages)
        {
            w.WriteStartObject();
            w.WriteNumber("sizeKiB", p.SizeKiB);
            w.WriteNumber("total", p.Total);
            w.WriteNumber("free", p.Free);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WritePci(Utf8JsonWriter w, PciDevice p)
    {
        w.WriteStartObject();
        w.WriteString("name", p.Name);
        w.WriteString("address", p.Address.ToString());
        w.WriteString("vendor", $"0x{p.Vendor:x4}");
        w.WriteString("device", $"0x{p.Device:x4}");
        w.WriteString("class", $"0x{p.Class:x6}");
        WriteStringOrNull(w, "driver", p.Driver);
        if (p.IommuGroup is int g)
        {
            w.WriteNumber("iommuGroup", g);
        }
        else
        {
            w.WriteNull("iommuGroup");
        }

        w.WriteNumber("numaNode", p.NumaNode);
        if (p.Sriov is SriovFacts s)
        {
            w.WriteStartObject("sriov");
            w.WriteNumber("totalVfs", s.TotalVfs);
            w.WriteNumber("numVfs", s.NumVfs);
            w.WriteStartArray("virtualFunctions");
            foreach (var vf in s.VirtualFunctions)
            {
                w.WriteStringValue(vf.ToString());
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        if (p.PhysicalFunction is PciAddress pf)
        {
            w.WriteString("physicalFunction", pf.ToString());
        }

        WriteNames(w, "netInterfaces", p.NetInterfaces);
        WriteNames(w, "blockDevices", p.BlockDevices);
        w.WriteEndObject();
    }

    private static void WriteCpu(Utf8JsonWriter w, HostCpu c)
    {
        w.WriteStartObject();
        w.WriteString("arch", c.Arch);
        WriteStringOrNull(w, "model", c.ModelName);
        WriteStringOrNull(w, "vendor", c.VendorShort);
        w.WriteNumber("sockets", c.Sockets);
        w.WriteNumber("diesPerSocket", c.Dies);
        w.WriteNumber("coresPerSocket", c.CoresPerSocket);
        w.WriteNumber("threadsPerCore", c.ThreadsPerCore);
        w.WriteNumber("online", c.Cpus.Count(x => x.Online));
        w.WriteStartArray("flags");
        foreach (string flag in c.Flags)
        {
            w.WriteStringValue(flag);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteNet(Utf8JsonWriter w, NetDevice n)
    {
        w.WriteStartObject();
        w.WriteString("name", n.Name);
        WriteStringOrNull(w, "mac", n.Mac);
        w.WriteBoolean("up", n.Up);
        WriteStringOrNull(w, "operstate", n.OperState);
        WriteStringOrNull(w, "parent", n.Parent?.ToString());
        w.WriteEndObject();
    }

    private static void WriteNames(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (string v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    internal static void WriteStringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}
