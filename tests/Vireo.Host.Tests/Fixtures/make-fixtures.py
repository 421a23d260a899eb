#!/usr/bin/env python3
"""Writes the sysfs/procfs fixture trees the Vireo.Host tests read through a HostRoot.

numa2: a two-socket Intel host, two NUMA cells, 2 MiB and 1 GiB hugepages, VT-d, an SR-IOV NIC (82599) with
       two VFs (one bound to vfio-pci), a SATA disk holding the mounted root, an NVMe disk on cell 1.
small: a one-socket, single-cell AMD host with paravirtual KVM (kvm_pvm), no IOMMU, a virtio NIC and disk.
Run it from this directory; it rewrites both trees. Symlinks are relative, as in sysfs, so they resolve inside
the tree wherever it is checked out.
"""
import os, shutil

def w(root, path, text):
    p = os.path.join(root, path.lstrip('/'))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'w') as f:
        f.write(text if text.endswith('\n') or text == '' else text + '\n')

def ln(root, path, target_abs):
    p = os.path.join(root, path.lstrip('/'))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    rel = os.path.relpath(os.path.join(root, target_abs.lstrip('/')), os.path.dirname(p))
    if os.path.lexists(p):
        os.remove(p)
    os.symlink(rel, p)

def cpu(root, cid, socket, core, siblings, node, cluster='0'):
    t = f'/sys/devices/system/cpu/cpu{cid}/topology'
    w(root, f'{t}/physical_package_id', str(socket))
    w(root, f'{t}/die_id', '0')
    w(root, f'{t}/cluster_id', cluster)
    w(root, f'{t}/core_id', str(core))
    w(root, f'{t}/thread_siblings_list', siblings)
    ln(root, f'/sys/devices/system/cpu/cpu{cid}/node{node}', f'/sys/devices/system/node/node{node}')

def node(root, n, cpulist, distance, total, free, huge):
    b = f'/sys/devices/system/node/node{n}'
    w(root, f'{b}/cpulist', cpulist)
    w(root, f'{b}/distance', distance)
    used = total - free
    w(root, f'{b}/meminfo',
      f'Node {n} MemTotal:       {total} kB\nNode {n} MemFree:        {free} kB\nNode {n} MemUsed:        {used} kB\n'
      f'Node {n} HugePages_Total:  0\n')
    for size, (nr, fr) in huge.items():
        w(root, f'{b}/hugepages/hugepages-{size}kB/nr_hugepages', str(nr))
        w(root, f'{b}/hugepages/hugepages-{size}kB/free_hugepages', str(fr))
        w(root, f'{b}/hugepages/hugepages-{size}kB/surplus_hugepages', '0')

def pci(root, addr, path, vendor, device, cls, driver, group, numa, extra=None):
    dev = f'/sys/devices/{path}'
    w(root, f'{dev}/vendor', vendor)
    w(root, f'{dev}/device', device)
    w(root, f'{dev}/class', cls)
    w(root, f'{dev}/subsystem_vendor', vendor)
    w(root, f'{dev}/subsystem_device', '0x0000')
    w(root, f'{dev}/numa_node', str(numa))
    w(root, f'{dev}/driver_override', '(null)')
    if driver:
        w(root, f'/sys/bus/pci/drivers/{driver}/unbind', '')
        w(root, f'/sys/bus/pci/drivers/{driver}/bind', '')
        ln(root, f'{dev}/driver', f'/sys/bus/pci/drivers/{driver}')
    if group is not None:
        w(root, f'/sys/kernel/iommu_groups/{group}/type', 'DMA')
        ln(root, f'/sys/kernel/iommu_groups/{group}/devices/{addr}', dev)
        ln(root, f'{dev}/iommu_group', f'/sys/kernel/iommu_groups/{group}')
    ln(root, f'/sys/bus/pci/devices/{addr}', dev)
    return dev

def netdev(root, name, devpath, mac, flags, oper, speed=None):
    d = f'{devpath}/net/{name}'
    w(root, f'{d}/address', mac)
    w(root, f'{d}/flags', flags)
    w(root, f'{d}/operstate', oper)
    w(root, f'{d}/mtu', '1500')
    w(root, f'{d}/speed', str(speed) if speed else '-1')
    ln(root, f'/sys/class/net/{name}', d)

def blockdev(root, name, devpath, sectors, parts=(), model=None):
    d = f'{devpath}/block/{name}'
    w(root, f'{d}/size', str(sectors))
    w(root, f'{d}/removable', '0')
    w(root, f'{d}/ro', '0')
    w(root, f'{d}/holders/.keep', '')
    os.remove(os.path.join(root, f'{d}/holders/.keep'.lstrip('/')))
    if model:
        w(root, f'{devpath}/model', model)
        ln(root, f'{d}/device', devpath)
    ln(root, f'/sys/class/block/{name}', d)
    for p, psec in parts:
        w(root, f'{d}/{p}/partition', '1')
        w(root, f'{d}/{p}/size', str(psec))
        ln(root, f'/sys/class/block/{p}', f'{d}/{p}')

def common(root, hostname):
    w(root, '/proc/sys/kernel/hostname', hostname)
    w(root, '/proc/sys/kernel/arch', 'x86_64')
    w(root, '/sys/bus/pci/drivers_probe', '')
    w(root, '/dev/kvm', '')
    w(root, '/sys/module/kvm/parameters/halt_poll_ns', '200000')
    w(root, '/etc/machine-id', '')

def numa2(root):
    common(root, 'numa2')
    w(root, '/etc/machine-id', '4c4c4544004a3610804bc4c04f4e5432')
    flags = ('fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe '
             'syscall nx pdpe1gb rdtscp lm constant_tsc vmx smx est tm2 ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt '
             'aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch ept vpid fsgsbase bmi1 hle avx2 smep bmi2 erms invpcid rtm '
             'avx512f avx512dq rdseed adx smap clflushopt clwb avx512cd avx512bw avx512vl xsaveopt xsavec arat pku ospke avx512_vnni')
    blocks = []
    for p in range(16):
        blocks.append(f'processor\t: {p}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n'
                      f'model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\nstepping\t: 7\nmicrocode\t: 0x5003604\n'
                      f'cpu MHz\t\t: 2100.000\nflags\t\t: {flags}\naddress sizes\t: 46 bits physical, 48 bits virtual\n')
    w(root, '/proc/cpuinfo', '\n'.join(blocks))
    # id = thread*8 + socket*4 + core: cell 0 holds 0-3 and their hyperthreads 8-11.
    for t in range(2):
        for s in range(2):
            for c in range(4):
                cid = t * 8 + s * 4 + c
                first = s * 4 + c
                cpu(root, cid, s, c, f'{first},{first + 8}', s)
    w(root, '/sys/devices/system/cpu/online', '0-15')
    w(root, '/sys/devices/system/cpu/possible', '0-15')
    w(root, '/sys/devices/system/node/online', '0-1')
    node(root, 0, '0-3,8-11', '10 21', 16777216, 12000000, {2048: (512, 256), 1048576: (4, 4)})
    node(root, 1, '4-7,12-15', '21 10', 16777216, 14000000, {2048: (512, 512), 1048576: (4, 2)})
    for size, nr, fr in ((2048, 1024, 768), (1048576, 8, 6)):
        b = f'/sys/kernel/mm/hugepages/hugepages-{size}kB'
        w(root, f'{b}/nr_hugepages', str(nr))
        w(root, f'{b}/free_hugepages', str(fr))
        w(root, f'{b}/surplus_hugepages', '0')
        w(root, f'{b}/resv_hugepages', '0')
    w(root, '/proc/meminfo', 'MemTotal:       33554432 kB\nMemFree:        26000000 kB\nMemAvailable:   27000000 kB\n'
      'HugePages_Total:    1024\nHugePages_Free:      768\nHugepagesize:       2048 kB\n')
    w(root, '/proc/mounts', '/dev/sda1 / ext4 rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n'
      'hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n'
      'hugetlbfs /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n')
    w(root, '/proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n')
    w(root, '/sys/power/state', 'freeze mem disk')
    w(root, '/sys/module/kvm_intel/parameters/nested', 'Y')
    for u in ('dmar0', 'dmar1'):
        w(root, f'/sys/class/iommu/{u}/uevent', '')
    w(root, '/sys/bus/pci/drivers/vfio-pci/new_id', '')
    dmi = {'sys_vendor': 'Supermicro', 'product_name': 'SYS-6029P-TRT', 'product_version': '0123456789',
           'product_serial': 'S123456X9', 'product_uuid': '00000000-0000-0000-0000-ac1f6b123456',
           'bios_vendor': 'American Megatrends Inc.', 'bios_version': '3.4', 'bios_date': '10/15/2020',
           'board_vendor': 'Supermicro', 'board_name': 'X11DPi-NT', 'chassis_vendor': 'Supermicro'}
    for k, v in dmi.items():
        w(root, f'/sys/class/dmi/id/{k}', v)

    pci(root, '0000:00:00.0', 'pci0000:00/0000:00:00.0', '0x8086', '0x2020', '0x060000', None, 0, 0)
    sata = pci(root, '0000:00:17.0', 'pci0000:00/0000:00:17.0', '0x8086', '0xa182', '0x010601', 'ahci', 1, 0)
    blockdev(root, 'sda', f'{sata}/ata1/host0/target0:0:0/0:0:0:0', 937703088, [('sda1', 937701040)], model='SAMSUNG MZ7LH480')
    pci(root, '0000:3a:00.0', 'pci0000:3a/0000:3a:00.0', '0x8086', '0x2030', '0x060400', 'pcieport', 9, 0)
    pf0 = pci(root, '0000:3b:00.0', 'pci0000:3a/0000:3a:00.0/0000:3b:00.0', '0x8086', '0x10fb', '0x020000', 'ixgbe', 10, 0)
    pf1 = pci(root, '0000:3b:00.1', 'pci0000:3a/0000:3a:00.0/0000:3b:00.1', '0x8086', '0x10fb', '0x020000', 'ixgbe', 11, 0)
    vf0 = pci(root, '0000:3b:10.0', 'pci0000:3a/0000:3a:00.0/0000:3b:10.0', '0x8086', '0x10ed', '0x020000', 'ixgbevf', 12, 0)
    vf1 = pci(root, '0000:3b:10.2', 'pci0000:3a/0000:3a:00.0/0000:3b:10.2', '0x8086', '0x10ed', '0x020000', 'vfio-pci', 13, 0)
    w(root, f'{vf1}/driver_override', 'vfio-pci')
    for pf, numvfs, vfs in ((pf0, 2, (vf0, vf1)), (pf1, 0, ())):
        w(root, f'{pf}/sriov_totalvfs', '63')
        w(root, f'{pf}/sriov_numvfs', str(numvfs))
        for i, vf in enumerate(vfs):
            ln(root, f'{pf}/virtfn{i}', vf)
            ln(root, f'{vf}/physfn', pf)
    netdev(root, 'ens1f0', pf0, 'a0:36:9f:11:22:30', '0x1003', 'up', 10000)
    netdev(root, 'ens1f1', pf1, 'a0:36:9f:11:22:31', '0x1002', 'down')
    netdev(root, 'ens1f0v0', vf0, '52:54:00:aa:00:01', '0x1002', 'down')
    nvme = pci(root, '0000:af:00.0', 'pci0000:ae/0000:ae:00.0/0000:af:00.0', '0x144d', '0xa808', '0x010802', 'nvme', 20, 1)
    pci(root, '0000:ae:00.0', 'pci0000:ae/0000:ae:00.0', '0x8086', '0x2030', '0x060400', 'pcieport', 19, 1)
    blockdev(root, 'nvme0n1', f'{nvme}/nvme/nvme0', 1953525168)
    d = '/sys/devices/virtual/net/lo'
    w(root, f'{d}/address', '00:00:00:00:00:00')
    w(root, f'{d}/flags', '0x9')
    w(root, f'{d}/operstate', 'unknown')
    w(root, f'{d}/mtu', '65536')
    ln(root, '/sys/class/net/lo', d)

def small(root):
    common(root, 'small')
    w(root, '/etc/machine-id', '0123456789abcdef0123456789abcdef')
    flags = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm pni ssse3 sse4_1 sse4_2 avx2 hypervisor'
    blocks = [f'processor\t: {p}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n'
              f'stepping\t: 1\nmicrocode\t: 0x1000065\ncpu MHz\t\t: 2445.406\nflags\t\t: {flags}\n'
              f'address sizes\t: 48 bits physical, 48 bits virtual\n' for p in range(2)]
    w(root, '/proc/cpuinfo', '\n'.join(blocks))
    for c in range(2):
        cpu(root, c, 0, c, str(c), 0, cluster='65535')
    w(root, '/sys/devices/system/cpu/online', '0-1')
    w(root, '/sys/devices/system/node/online', '0')
    node(root, 0, '0-1', '10', 4194304, 3000000, {2048: (0, 0)})
    b = '/sys/kernel/mm/hugepages/hugepages-2048kB'
    w(root, f'{b}/nr_hugepages', '0')
    w(root, f'{b}/free_hugepages', '0')
    w(root, f'{b}/surplus_hugepages', '0')
    w(root, '/proc/meminfo', 'MemTotal:        4194304 kB\nMemFree:         3000000 kB\nHugepagesize:       2048 kB\n')
    w(root, '/proc/mounts', '/dev/vda / ext4 rw,relatime 0 0\n')
    w(root, '/proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n')
    w(root, '/sys/power/state', '')
    w(root, '/sys/module/kvm_pvm/parameters/pvm_native', 'N')
    pci(root, '0000:00:00.0', 'pci0000:00/0000:00:00.0', '0x8086', '0x0d57', '0x060000', None, None, -1)
    blk = pci(root, '0000:00:02.0', 'pci0000:00/0000:00:02.0', '0x1af4', '0x1042', '0x018000', 'virtio-pci', None, -1)
    blockdev(root, 'vda', f'{blk}/virtio1', 83886080)
    net = pci(root, '0000:00:03.0', 'pci0000:00/0000:00:03.0', '0x1af4', '0x1041', '0x020000', 'virtio-pci', None, -1)
    netdev(root, 'eth0', f'{net}/virtio2', '52:54:00:12:34:56', '0x1003', 'up')

if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for name, fn in (('numa2', numa2), ('small', small)):
        root = os.path.join(here, name)
        shutil.rmtree(root, ignore_errors=True)
        fn(root)
