using System.Buffers.Binary;
using Vireo.Model;
using Vireo.Net.Netlink;

namespace Vireo.Net.Tc;

/// <summary>A queueing discipline on a link, as <c>tc qdisc show</c> lists it.</summary>
public sealed record QdiscInfo(int LinkIndex, string Kind, uint Handle, uint Parent);

/// <summary>
/// Applies libvirt's <c>&lt;bandwidth&gt;</c> to a (host-side) link with rtnetlink tc messages, no tc(8):
/// <list type="bullet">
/// <item>inbound (to the guest = the link's egress): a root <c>tbf</c> qdisc with rate = average, peakrate = peak,
/// burst = burst (libvirt uses htb+sfq+fw; tbf gives the same per-interface shaping with one object and no
/// modules beyond sch_tbf).</item>
/// <item>outbound (from the guest = the link's ingress): the <c>ingress</c> qdisc plus a match-all u32 filter with a
/// police action that drops above the rate — libvirt's exact recipe. It needs CONFIG_NET_ACT_POLICE; without it the
/// kernel refuses and the caller gets a HostUnavailable error (and nothing stays behind).</item>
/// </list>
/// Everything is attached to the link itself, so it disappears with the TAP.
/// </summary>
public static class TrafficControl
{
    private const ushort TcaPoliceTbf = 1, TcaPoliceRate = 2, TcaPolicePeakrate = 3;
    private const ushort TcaU32Police = 6;
    private const int TcActShot = 2;
    private const byte LinkLayerEthernet = 1;
    private const uint IngressHandle = 0xFFFF0000;
    private const double TicksPerMicrosecond = 15.625; // PSCHED_SHIFT 6: one tick is 64 ns

    /// <summary>Replaces whatever shaping the link had with <paramref name="bandwidth"/> (null directions are cleared).</summary>
    public static void SetBandwidth(RtNetlink rtnl, string link, InterfaceBandwidth bandwidth)
    {
        ArgumentNullException.ThrowIfNull(rtnl);
        ArgumentNullException.ThrowIfNull(bandwidth);
        bandwidth.Inbound?.Validate("inbound");
        bandwidth.Outbound?.Validate("outbound");
        LinkInfo info = rtnl.GetLink(link);
        ClearBandwidth(rtnl, link);
        try
        {
            if (bandwidth.Inbound is { } inbound)
            {
                rtnl.Socket.Request(TbfMessage(info.Index, inbound, info.Mtu), $"cannot limit inbound bandwidth of '{link}'");
            }
            if (bandwidth.Outbound is { } outbound)
            {
                rtnl.Socket.Request(IngressQdiscMessage(Rtm.NEWQDISC, info.Index), $"cannot add the ingress qdisc to '{link}'");
                try
                {
                    rtnl.Socket.Request(PoliceFilterMessage(info.Index, outbound), $"cannot limit outbound bandwidth of '{link}'");
                }
                catch (VireoException e) when (e.Data["errno"] is 2 or 95)
                {
                    throw new VireoException(ErrorKind.HostUnavailable,
                        $"{e.Message} — the kernel lacks the tc police action (CONFIG_NET_ACT_POLICE)", e);
                }
            }
        }
        catch
        {
            ClearBandwidth(rtnl, link);
            throw;
        }
    }

    /// <summary>Removes Vireo's root and ingress qdiscs from the link; a link without them is left as is.</summary>
    public static void ClearBandwidth(RtNetlink rtnl, string link)
    {
        ArgumentNullException.ThrowIfNull(rtnl);
        int index = rtnl.GetLink(link).Index;
        foreach (QdiscInfo q in ListQdiscs(rtnl, link))
        {
            if (q.Parent == Tca.H_ROOT && q.Handle != 0)
            {
                rtnl.Socket.Request(DeleteQdiscMessage(index, Tca.H_ROOT, 0), $"cannot remove the root qdisc of '{link}'");
            }
            else if (q.Parent == Tca.H_INGRESS)
            {
                rtnl.Socket.Request(IngressQdiscMessage(Rtm.DELQDISC, index), $"cannot remove the ingress qdisc of '{link}'");
            }
        }
    }

    /// <summary>The qdiscs of one link (<c>tc qdisc show dev LINK</c>).</summary>
    public static IReadOnlyList<QdiscInfo> ListQdiscs(RtNetlink rtnl, string link)
    {
        ArgumentNullException.ThrowIfNull(rtnl);
        int index = rtnl.GetLink(link).Index;
        var result = new List<QdiscInfo>();
        var w = new NetlinkWriter(Rtm.GETQDISC, 0);
        Span<byte> tcm = w.Reserve(20);
        BinaryPrimitives.WriteInt32LittleEndian(tcm[4..], index);
        rtnl.Socket.Dump(w, $"cannot list qdiscs of '{link}'", (type, payload) =>
        {
            if (type != Rtm.NEWQDISC || payload.Length < 20)
            {
                return;
            }
            int ifindex = BinaryPrimitives.ReadInt32LittleEndian(payload[4..]);
            if (ifindex != index)
            {
                return;
            }
            string kind = "";
            foreach (var a in new NetlinkAttributes(payload[20..]))
            {
                if (a.Type == Tca.KIND)
                {
                    kind = a.String;
                }
            }
            result.Add(new QdiscInfo(ifindex, kind, BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(payload[12..])));
        });
        return result;
    }

    // tc qdisc replace dev X root tbf rate R burst B [peakrate P minburst M] limit L
    internal static NetlinkWriter TbfMessage(int index, BandwidthLimit limit, int linkMtu)
    {
        ulong rate = limit.AverageBytesPerSecond;
        uint burst = BurstBytes(limit, linkMtu);
        // Queue what the rate drains in 50 ms plus one burst, as tc's "latency 50ms" would.
        ulong queue = Math.Min(uint.MaxValue, (rate / 20) + burst);
        var w = TcMessage(Rtm.NEWQDISC, Nl.F_CREATE | Nl.F_REPLACE, index, 0, Tca.H_ROOT, 0);
        w.AttrString(Tca.KIND, "tbf");
        int opts = w.BeginContainer(Tca.OPTIONS);
        Span<byte> qopt = stackalloc byte[36];
        qopt.Clear();
        WriteRateSpec(qopt, rate);
        BinaryPrimitives.WriteUInt32LittleEndian(qopt[24..], (uint)queue);
        BinaryPrimitives.WriteUInt32LittleEndian(qopt[28..], Ticks(rate, burst));
        uint minburst = (uint)Math.Max(linkMtu + 64, 2048);
        if (limit.PeakBytesPerSecond is { } peak)
        {
            WriteRateSpec(qopt[12..], peak);
            BinaryPrimitives.WriteUInt32LittleEndian(qopt[32..], Ticks(peak, minburst));
        }
        w.Attr(Tca.TBF_PARMS, qopt);
        if (rate >= uint.MaxValue)
        {
            w.AttrU64(Tca.TBF_RATE64, rate);
        }
        w.AttrU32(Tca.TBF_BURST, burst);
        if (limit.PeakBytesPerSecond is { } p)
        {
            if (p >= uint.MaxValue)
            {
                w.AttrU64(Tca.TBF_PRATE64, p);
            }
            w.AttrU32(Tca.TBF_PBURST, minburst);
        }
        w.EndNested(opts);
        return w;
    }

    internal static NetlinkWriter IngressQdiscMessage(ushort type, int index)
    {
        var w = TcMessage(type, type == Rtm.NEWQDISC ? (ushort)(Nl.F_CREATE | Nl.F_EXCL) : (ushort)0, index, IngressHandle, Tca.H_INGRESS, 0);
        w.AttrString(Tca.KIND, "ingress");
        return w;
    }

    // tc filter add dev X parent ffff: protocol all prio 1 u32 match u32 0 0 police rate R burst B mtu 64kb drop flowid :1
    internal static NetlinkWriter PoliceFilterMessage(int index, BandwidthLimit limit)
    {
        const uint mtu = 64 * 1024;
        ulong rate = Math.Min(limit.AverageBytesPerSecond, uint.MaxValue);
        uint burst = BurstBytes(limit, 1500);
        // tcm_info: priority in the high half, protocol (ETH_P_ALL, network order) in the low half.
        uint info = (1u << 16) | BinaryPrimitives.ReverseEndianness(Tca.ETH_P_ALL);
        var w = TcMessage(Rtm.NEWTFILTER, Nl.F_CREATE | Nl.F_EXCL, index, 0, IngressHandle, info);
        w.AttrString(Tca.KIND, "u32");
        int opts = w.BeginContainer(Tca.OPTIONS);
        w.AttrU32(Tca.U32_CLASSID, 1);
        Span<byte> sel = stackalloc byte[32];
        sel.Clear();
        sel[0] = (byte)Tca.TC_U32_TERMINAL;
        sel[2] = 1; // one key: mask 0, value 0 at offset 0 — matches everything
        w.Attr(Tca.U32_SEL, sel);
        int police = w.BeginContainer(TcaU32Police);
        Span<byte> p = stackalloc byte[56]; // struct tc_police
        p.Clear();
        BinaryPrimitives.WriteInt32LittleEndian(p[4..], TcActShot);
        BinaryPrimitives.WriteUInt32LittleEndian(p[12..], Ticks(rate, burst));
        BinaryPrimitives.WriteUInt32LittleEndian(p[16..], mtu);
        int cellLog = CellLog(mtu);
        WriteRateSpec(p[20..], rate, cellLog);
        w.Attr(TcaPoliceTbf, p);
        w.Attr(TcaPoliceRate, RateTable(rate, cellLog));
        if (limit.PeakBytesPerSecond is { } peak)
        {
            ulong pr = Math.Min(peak, uint.MaxValue);
            WriteRateSpec(p[32..], pr, cellLog);
            w.Attr(TcaPolicePeakrate, RateTable(pr, cellLog));
        }
        w.EndNested(police);
        w.EndNested(opts);
        return w;
    }

    private static NetlinkWriter DeleteQdiscMessage(int index, uint parent, uint handle) =>
        TcMessage(Rtm.DELQDISC, 0, index, handle, parent, 0);

    private static NetlinkWriter TcMessage(ushort type, ushort flags, int index, uint handle, uint parent, uint info)
    {
        var w = new NetlinkWriter(type, flags);
        Span<byte> tcm = w.Reserve(20);
        BinaryPrimitives.WriteInt32LittleEndian(tcm[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(tcm[8..], handle);
        BinaryPrimitives.WriteUInt32LittleEndian(tcm[12..], parent);
        BinaryPrimitives.WriteUInt32LittleEndian(tcm[16..], info);
        return w;
    }

    // Without an explicit burst: 10 ms worth at the average rate, at least 16 KiB and never below one full frame.
    private static uint BurstBytes(BandwidthLimit limit, int linkMtu)
    {
        ulong burst = limit.Burst is { } kib ? kib * 1024 : Math.Max(limit.AverageBytesPerSecond / 100, 16 * 1024);
        return (uint)Math.Min(Math.Max(burst, (ulong)linkMtu + 64), uint.MaxValue);
    }

    /// <summary>Time to send <paramref name="bytes"/> at <paramref name="rate"/> bytes/s, in psched ticks (tc_calc_xmittime).</summary>
    internal static uint Ticks(ulong rate, ulong bytes) =>
        (uint)Math.Min(uint.MaxValue, 1_000_000.0 * bytes / rate * TicksPerMicrosecond);

    // struct tc_ratespec { u8 cell_log; u8 linklayer; u16 overhead; s16 cell_align; u16 mpu; u32 rate; }
    private static void WriteRateSpec(Span<byte> dst, ulong rate, int cellLog = 0)
    {
        dst[0] = (byte)cellLog;
        dst[1] = LinkLayerEthernet;
        BinaryPrimitives.WriteInt16LittleEndian(dst[4..], cellLog == 0 ? (short)0 : (short)-1);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[8..], (uint)Math.Min(rate, uint.MaxValue));
    }

    private static int CellLog(uint mtu)
    {
        int cellLog = 0;
        while ((mtu >> cellLog) > 255)
        {
            cellLog++;
        }
        return cellLog;
    }

    // tc_calc_rtable: the time to send (i+1) << cell_log bytes, for i in 0..255.
    internal static byte[] RateTable(ulong rate, int cellLog)
    {
        byte[] table = new byte[1024];
        for (int i = 0; i < 256; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(i * 4), Ticks(rate, (ulong)(i + 1) << cellLog));
        }
        return table;
    }
}
