#!/usr/bin/env bash
# The demo lab: boots Vireo's test guest under QEMU from libvirt domain XML, shows its console and
# `vireo list`, suspends and resumes it, and shuts it down through the ACPI power button.
# Uses its own state root (VIREO_ROOT, default /var/lib/vireo-demo) so it never touches your domains.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export VIREO_ROOT=${VIREO_ROOT:-/var/lib/vireo-demo}
vireo() { "$here/vireo" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

guest="$here/guest/out"
[ -f "$guest/vmlinuz" ] || "$here/guest/build-guest.sh" >&2
mkdir -p "$VIREO_ROOT/images"
disk="$VIREO_ROOT/images/demo-data.img"
[ -f "$disk" ] || truncate -s 64M "$disk"
xml="$VIREO_ROOT/demo.xml"
cat > "$xml" <<XML
<domain type='qemu'>
  <name>demo</name>
  <title>Vireo demo guest</title>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinuz</kernel>
    <initrd>$guest/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet vireo.hostname=demo</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'>
      <model type='virtio'/>
    </interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
XML

if vireo domstate demo >/dev/null 2>&1; then
  vireo destroy demo >/dev/null 2>&1 || true
  vireo undefine demo >/dev/null
fi

step "vireo define $xml"; vireo define "$xml"
step "vireo start demo"; time vireo start demo
console="$VIREO_ROOT/run/domains/demo/console.log"
printf 'waiting for the guest to boot (TCG, about 10 s)...\n'
for _ in $(seq 1 600); do grep -q VIREO-GUEST-READY "$console" 2>/dev/null && break; sleep 0.1; done
step "cat $console   # the serial console so far"
grep -a -E 'VIREO|Linux version' "$console" || cat "$console"
step "vireo list"; vireo list
step "vireo dominfo demo"; vireo dominfo demo
step "vireo suspend demo"; vireo suspend demo
step "vireo domstate demo --reason"; vireo domstate demo --reason
step "vireo resume demo"; vireo resume demo
step "vireo list --json"; vireo list --json
step "vireo shutdown demo"; vireo shutdown demo
for _ in $(seq 1 300); do [ "$(vireo domstate demo)" = "shut off" ] && break; sleep 0.1; done
step "vireo domstate demo --reason"; vireo domstate demo --reason
step "vireo list --all"; vireo list --all
tail -n 3 "$console" | grep -a VIREO || true
