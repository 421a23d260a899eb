using System.Diagnostics;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Tests.Conformance;

/// <summary>
/// Turns a corpus definition into one this host can start: images become small files made here (qcow2 chains
/// with qemu-img), block devices become files, paths of sockets and logs move into a scratch directory, the
/// kernel is the host's. Cases that need what no test can make here (a PCI device to pass through, swtpm,
/// hugepages, more NUMA nodes) are named by <see cref="NeedsHost"/>.
/// </summary>
internal static class RunnableDomain
{
    /// <summary>Why the case cannot start on this host, or null when it can.</summary>
    public static string? NeedsHost(DomainDefinition def)
    {
        if (def.Devices.Hostdevs.Count > 0 || def.Devices.Interfaces.Any(i => i.Type == "hostdev"))
        {
            return "needs a host PCI device (vfio)";
        }
        if (def.Devices.Tpms.Count > 0 && !File.Exists("/usr/bin/swtpm"))
        {
            return "needs swtpm (not installed)";
        }
        if (def.MemoryBacking?.Hugepages == true || def.Devices.Memories.Any(m => m.SourcePageSizeKiB is not null))
        {
            return "needs reserved hugepages";
        }
        int hostNodes = Directory.EnumerateDirectories("/sys/devices/system/node", "node*").Count();
        IEnumerable<string?> nodesets = [def.NumaTune?.Nodeset, .. def.NumaTune?.MemNodes.Select(n => n.Nodeset) ?? [], .. def.Devices.Memories.Select(m => m.SourceNodemask)];
        if (nodesets.Any(s => s is not null && CpuSet.Parse(s, "nodeset").Any(n => n >= hostNodes)))
        {
            return $"needs more host NUMA nodes than this host's {hostNodes}";
        }
        if (def.Devices.Interfaces.Any(i => i.Type == "vhostuser"))
        {
            return "needs a vhost-user backend";
        }
        return null;
    }

    public static DomainDefinition Prepare(DomainDefinition def, string dir)
    {
        int n = 0;
        string Scratch(string name) => Path.Combine(dir, (n++).ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + name);

        var disks = new List<Disk>();
        foreach (Disk d in def.Devices.Disks)
        {
            if (d.SourcePath is null && d.Type != "volume")
            {
                disks.Add(d);
                continue;
            }
            // Bottom of the chain first, so each qcow2 can name its backing file.
            var chain = d.BackingChain.Select(b => b with { Type = "file", Path = Scratch("backing." + b.Format) }).ToList();
            for (int i = chain.Count - 1; i >= 0; i--)
            {
                MakeImage(chain[i].Path, chain[i].Format, i + 1 < chain.Count ? chain[i + 1] : null);
            }
            string top = Scratch("disk." + d.EffectiveFormat);
            MakeImage(top, d.EffectiveFormat, chain.Count > 0 ? chain[0] : null);
            disks.Add(d with { Type = "file", SourcePath = top, SourcePool = null, SourceVolume = null, BackingChain = chain, BackingChainTerminated = d.BackingChainTerminated || chain.Count > 0 });
        }

        CharDevice Chr(CharDevice c) => c.Type switch
        {
            "file" or "pipe" or "dev" => c with { Type = "file", SourcePath = Scratch("chr.log") },
            "unix" => c with { SourcePath = Scratch("chr.sock"), SourceMode = "bind" },
            "tcp" => c with { SourceHost = "127.0.0.1", SourceService = "0", SourceMode = "bind" },
            _ => c with { LogFile = c.LogFile is null ? null : Scratch("chr-log") },
        };

        string? kernel = def.Os.Kernel is null ? null : Directory.EnumerateFiles("/boot", "vmlinuz-*").Order(StringComparer.Ordinal).LastOrDefault();
        string? initrd = def.Os.Initrd is null ? null : Touch(Scratch("initrd"));
        DomainDevices devices = def.Devices with
        {
            Disks = disks,
            // TAPs come from the engine; user networking exercises the same NIC frontends.
            Interfaces = def.Devices.Interfaces.Select(i => i.UsesTap || i.Type == "direct" ? i with { Type = "user", SourceBridge = null, SourceNetwork = null, SourceDev = null } : i).ToList(),
            Serials = def.Devices.Serials.Select(Chr).ToList(),
            Consoles = def.Devices.Consoles.Select(Chr).ToList(),
            Channels = def.Devices.Channels.Select(Chr).ToList(),
            Parallels = def.Devices.Parallels.Select(Chr).ToList(),
            Graphics = def.Devices.Graphics.Select(g => g.ListenType == "socket" ? g with { Socket = Scratch("vnc.sock") } : g with { ListenAddress = "127.0.0.1", Port = -1, AutoPort = true, WebSocket = g.WebSocket is null ? null : -1 }).ToList(),
            Rngs = def.Devices.Rngs.Select(r => r.BackendModel == "egd" ? r with { Egd = Chr(r.Egd!) } : r).ToList(),
        };
        return def with
        {
            Type = "qemu",
            Os = def.Os with { Kernel = kernel, Initrd = initrd, Loader = def.Os.Loader is null ? null : def.Os.Loader with { Path = null }, Nvram = null },
            Devices = devices,
        };
    }

    private static string Touch(string path)
    {
        File.WriteAllBytes(path, new byte[4096]);
        return path;
    }

    private static void MakeImage(string path, string format, BackingStore? backing)
    {
        if (format == "raw")
        {
            using var f = File.Create(path);
            f.SetLength(1024 * 1024);
            return;
        }
        var psi = new ProcessStartInfo("qemu-img") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in (string[])["create", "-q", "-f", "qcow2"])
        {
            psi.ArgumentList.Add(a);
        }
        if (backing is not null)
        {
            psi.ArgumentList.Add("-b");
            psi.ArgumentList.Add(backing.Path);
            psi.ArgumentList.Add("-F");
            psi.ArgumentList.Add(backing.Format);
        }
        psi.ArgumentList.Add(path);
        psi.ArgumentList.Add("1M");
        using var p = System.Diagnostics.Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException("qemu-img create failed: " + err);
        }
    }
}
