namespace Vireo.Model.Domains;

/// <summary>Checks that span elements: sizes, counts and collisions. Never changes the definition.</summary>
internal static class DomainValidation
{
    public static void Validate(DomainDefinition def)
    {
        if (def.MemoryKiB <= 0)
        {
            throw VireoException.Invalid($"domain memory must be greater than 0 (got {def.MemoryKiB} KiB)");
        }
        if (def.MemoryKiB < 1024)
        {
            throw VireoException.Invalid($"domain memory {def.MemoryKiB} KiB is below the minimum of 1 MiB");
        }
        if (def.CurrentMemoryKiB <= 0)
        {
            throw VireoException.Invalid($"domain currentMemory must be greater than 0 (got {def.CurrentMemoryKiB} KiB)");
        }
        if (def.MaxVcpus < 1 || def.MaxVcpus > 1024)
        {
            throw VireoException.Invalid($"domain vcpu count {def.MaxVcpus} must be 1-1024");
        }
        if (def.Vcpus < 1 || def.Vcpus > def.MaxVcpus)
        {
            throw VireoException.Invalid($"<vcpu current='{def.Vcpus}'> must be 1-{def.MaxVcpus}");
        }
        if (def.Cpu?.Topology is CpuTopology t && t.Total != def.MaxVcpus)
        {
            throw VireoException.Invalid($"<cpu/topology> gives {t.Total} vCPUs (sockets×dies×cores×threads) but <vcpu> is {def.MaxVcpus}");
        }
        if (def.MaxMemoryKiB is long max && max < def.MemoryKiB)
        {
            throw VireoException.Invalid($"<maxMemory> {max} KiB is less than <memory> {def.MemoryKiB} KiB");
        }
        if (def.Cpu?.NumaCells is { Count: > 0 } cells)
        {
            long sum = cells.Sum(c => c.MemoryKiB);
            var covered = new HashSet<int>();
            foreach (NumaCell cell in cells)
            {
                foreach (int v in cell.Cpus is null ? [] : CpuSet.Parse(cell.Cpus, "<cpu/numa/cell cpus>"))
                {
                    if (v >= def.MaxVcpus)
                    {
                        throw VireoException.Invalid($"<cpu/numa/cell id='{cell.Id}' cpus='{cell.Cpus}'> names vCPU {v}, but the domain has {def.MaxVcpus}");
                    }
                    if (!covered.Add(v))
                    {
                        throw VireoException.Invalid($"vCPU {v} is in more than one <cpu/numa/cell>");
                    }
                }
            }
            if (def.Devices.Memories.Count == 0 && sum != def.MemoryKiB && sum > def.MemoryKiB)
            {
                throw VireoException.Invalid($"the <cpu/numa> cells total {sum} KiB, more than <memory> {def.MemoryKiB} KiB");
            }
        }
        if (def.Os.IsQ35 && def.Devices.Disks.FirstOrDefault(d => d.Bus == "ide") is Disk ide)
        {
            throw VireoException.Invalid($"disk '{ide.TargetDev}' uses bus 'ide', which machine type '{def.Os.Machine}' (q35) does not have; use sata");
        }
        var targets = new HashSet<string>(StringComparer.Ordinal);
        foreach (Disk d in def.Devices.Disks)
        {
            if (!targets.Add(d.TargetDev))
            {
                throw VireoException.Invalid($"disk target dev '{d.TargetDev}' is used more than once");
            }
        }
        var pci = new Dictionary<(int, int, int, int), string>();
        foreach ((DeviceAddress a, string what) in PciAddresses(def))
        {
            var key = (a.Domain ?? 0, a.Bus ?? 0, a.Slot ?? 0, a.Function ?? 0);
            if (pci.TryGetValue(key, out string? other))
            {
                throw VireoException.Invalid($"PCI address {a.PciText()} is used by both {other} and {what}");
            }
            pci[key] = what;
        }
        var macs = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (NetInterface i in def.Devices.Interfaces)
        {
            if (i.Mac is not null && !macs.Add(i.Mac))
            {
                throw VireoException.Invalid($"MAC address {i.Mac} is used by more than one interface");
            }
        }
        var bootOrders = new HashSet<int>();
        foreach (int order in BootOrders(def))
        {
            if (order < 1 || !bootOrders.Add(order))
            {
                throw VireoException.Invalid($"boot order {order} is used more than once (or is below 1)");
            }
        }
        if (bootOrders.Count > 0 && def.Os.BootDevices.Count > 0)
        {
            throw VireoException.Invalid("per-device <boot order> and <os><boot dev> cannot be used together");
        }
        var controllers = new HashSet<(string, int)>();
        foreach (Controller c in def.Devices.Controllers)
        {
            if (!controllers.Add((c.Type, c.Index)))
            {
                throw VireoException.Invalid($"controller type '{c.Type}' index {c.Index} is defined more than once");
            }
        }
    }

    private static IEnumerable<int> BootOrders(DomainDefinition def)
    {
        foreach (Disk d in def.Devices.Disks)
        {
            if (d.BootOrder is int o)
            {
                yield return o;
            }
        }
        foreach (NetInterface n in def.Devices.Interfaces)
        {
            if (n.BootOrder is int o)
            {
                yield return o;
            }
        }
        foreach (HostdevDevice h in def.Devices.Hostdevs)
        {
            if (h.BootOrder is int o)
            {
                yield return o;
            }
        }
    }

    private static IEnumerable<(DeviceAddress, string)> PciAddresses(DomainDefinition def)
    {
        DomainDevices d = def.Devices;
        IEnumerable<(DeviceAddress?, string)> all =
            d.Disks.Select(x => (x.Address, $"disk '{x.TargetDev}'"))
            .Concat(d.Controllers.Select(x => (x.Address, $"controller {x.Type} {x.Index}")))
            .Concat(d.Interfaces.Select(x => (x.Address, $"interface {x.Alias}")))
            .Concat(d.Videos.Select(x => (x.Address, $"video {x.Alias}")))
            .Concat(d.Sounds.Select(x => (x.Address, $"sound {x.Alias}")))
            .Concat(d.Hostdevs.Select(x => (x.Address, $"hostdev {x.Alias}")))
            .Concat(d.Rngs.Select(x => (x.Address, $"rng {x.Alias}")))
            .Concat(d.Watchdogs.Select(x => (x.Address, $"watchdog {x.Alias}")))
            .Concat(d.Inputs.Select(x => (x.Address, $"input {x.Alias}")))
            .Concat([(d.MemBalloon?.Address, "memballoon")]);
        foreach ((DeviceAddress? a, string what) in all)
        {
            if (a is { IsPci: true })
            {
                yield return (a, what);
            }
        }
    }
}
