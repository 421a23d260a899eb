namespace Vireo.Net.Netlink;

// Numbers from linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h, linux/if_bridge.h,
// linux/pkt_sched.h and linux/pkt_cls.h. Only what Vireo speaks.
internal static class Nl
{
    public const ushort NLMSG_NOOP = 1;
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;

    public const ushort F_REQUEST = 0x1;
    public const ushort F_MULTI = 0x2;
    public const ushort F_ACK = 0x4;
    public const ushort F_DUMP_INTR = 0x10;
    public const ushort F_DUMP = 0x300;
    public const ushort F_REPLACE = 0x100;
    public const ushort F_EXCL = 0x200;
    public const ushort F_CREATE = 0x400;
    public const ushort F_ACK_TLVS = 0x200;
    public const ushort F_CAPPED = 0x100;

    public const ushort NLMSGERR_ATTR_MSG = 1;
    public const ushort NLA_F_NESTED = 0x8000;
    public const ushort NLA_TYPE_MASK = 0x3fff;

    public const int HeaderSize = 16;
}

internal static class Rtm
{
    public const ushort NEWLINK = 16, DELLINK = 17, GETLINK = 18, SETLINK = 19;
    public const ushort NEWADDR = 20, DELADDR = 21, GETADDR = 22;
    public const ushort NEWROUTE = 24, DELROUTE = 25, GETROUTE = 26;
    public const ushort NEWQDISC = 36, DELQDISC = 37, GETQDISC = 38;
    public const ushort NEWTCLASS = 40, NEWTFILTER = 44, DELTFILTER = 45, GETTFILTER = 46;
}

internal static class Af
{
    public const byte UNSPEC = 0, INET = 2, BRIDGE = 7, INET6 = 10;
}

internal static class Ifla
{
    public const ushort ADDRESS = 1, BROADCAST = 2, IFNAME = 3, MTU = 4, LINK = 5, QDISC = 6, STATS = 7;
    public const ushort MASTER = 10, TXQLEN = 13, OPERSTATE = 16, LINKINFO = 18, NET_NS_PID = 19;
    public const ushort STATS64 = 23, AF_SPEC = 26, NET_NS_FD = 28, EXT_MASK = 29;
    public const ushort NUM_TX_QUEUES = 31, NUM_RX_QUEUES = 32;

    public const ushort INFO_KIND = 1, INFO_DATA = 2, INFO_SLAVE_KIND = 4;

    public const ushort BR_FORWARD_DELAY = 1, BR_HELLO_TIME = 2, BR_MAX_AGE = 3, BR_AGEING_TIME = 4, BR_STP_STATE = 5;
    public const ushort BR_PRIORITY = 6, BR_VLAN_FILTERING = 7;

    public const ushort VETH_INFO_PEER = 1;
    public const ushort VLAN_ID = 1;
    public const ushort MACVLAN_MODE = 1;

    public const ushort BRIDGE_FLAGS = 0, BRIDGE_VLAN_INFO = 2;
    public const ushort BRIDGE_FLAGS_MASTER = 1;
    public const ushort BRIDGE_VLAN_INFO_PVID = 2, BRIDGE_VLAN_INFO_UNTAGGED = 4;
    public const uint RTEXT_FILTER_BRVLAN = 2;

    public const uint IFF_UP = 0x1;
    public const uint IFF_LOOPBACK = 0x8;
    public const uint IFF_LOWER_UP = 0x10000;
}

internal static class Ifa
{
    public const ushort ADDRESS = 1, LOCAL = 2, LABEL = 3, BROADCAST = 4, FLAGS = 8;
}

internal static class Rta
{
    public const ushort DST = 1, SRC = 2, IIF = 3, OIF = 4, GATEWAY = 5, PRIORITY = 6, PREFSRC = 7, TABLE = 15;
    public const byte TABLE_MAIN = 254;
    public const byte PROT_KERNEL = 2, PROT_BOOT = 3, PROT_STATIC = 4;
    public const byte SCOPE_UNIVERSE = 0, SCOPE_LINK = 253, SCOPE_HOST = 254, SCOPE_NOWHERE = 255;
    public const byte RTN_UNICAST = 1;
}

internal static class Tca
{
    public const ushort KIND = 1, OPTIONS = 2;
    public const uint H_ROOT = 0xFFFFFFFF, H_INGRESS = 0xFFFFFFF1;

    public const ushort TBF_PARMS = 1, TBF_RATE64 = 4, TBF_PRATE64 = 5, TBF_BURST = 6, TBF_PBURST = 7;

    public const ushort U32_CLASSID = 1, U32_SEL = 5, U32_ACT = 7;
    public const ushort ACT_KIND = 1, ACT_OPTIONS = 2;
    public const ushort MIRRED_PARMS = 2;
    public const int TCA_EGRESS_REDIR = 1;
    public const int TC_ACT_STOLEN = 4;
    public const uint TC_U32_TERMINAL = 1;
    public const ushort ETH_P_ALL = 0x0003;
}
