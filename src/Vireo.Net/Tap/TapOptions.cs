using Vireo.Net.Netlink;

namespace Vireo.Net.Tap;

/// <summary>What a TAP for a guest NIC needs. Null fields leave the kernel's choice.</summary>
/// <param name="Name">The link name (libvirt's <c>&lt;target dev&gt;</c>); null picks the lowest free <c>vnetN</c>.</param>
/// <param name="Queues">Queue count; more than 1 sets IFF_MULTI_QUEUE and opens one fd per queue (virtio-net <c>queues=</c>).</param>
/// <param name="VnetHeader">IFF_VNET_HDR: QEMU's virtio-net offloads need it.</param>
public sealed record TapOptions(string? Name = null, int Queues = 1, bool VnetHeader = true)
{
    /// <summary>TUNSETVNETHDRSZ: 12 is virtio_net_hdr_mrg_rxbuf, what QEMU's virtio-net uses with mergeable buffers.</summary>
    public int VnetHeaderSize { get; init; } = 12;

    /// <summary>The TAP's own MAC; use <see cref="TapDevice.HostMacFor"/> to derive it from the guest's.</summary>
    public MacAddress? Mac { get; init; }

    public int? Mtu { get; init; }

    /// <summary>TUNSETOWNER: a uid allowed to attach to the device (for QEMU running unprivileged).</summary>
    public uint? OwnerUid { get; init; }

    /// <summary>A bridge to make the TAP a port of, before it is brought up.</summary>
    public string? Bridge { get; init; }

    /// <summary>Bring the link up once configured.</summary>
    public bool Up { get; init; } = true;

    /// <summary>Also open one <c>/dev/vhost-net</c> fd per queue when the device exists.</summary>
    public bool VhostNet { get; init; } = true;
}
