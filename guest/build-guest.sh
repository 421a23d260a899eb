#!/bin/bash
# Builds the Vireo test guest from installed Debian packages only (no downloads):
#   OUTDIR/vmlinuz     the newest kernel in $SYSROOT/boot (linux-image-amd64)
#   OUTDIR/vmlinux     the same kernel uncompressed (ELF, booted by QEMU through PVH: much faster
#                      under TCG), when the kernel has CONFIG_PVH=y
#   OUTDIR/initrd.img  a gzip'd newc cpio: busybox-static, guest/rootfs, and the kernel modules of
#                      guest/modules.txt with their dependencies, uncompressed (busybox insmod needs that)
#   OUTDIR/manifest    what it was built from
# Usage: guest/build-guest.sh [OUTDIR]      (default guest/out)
# Environment: VIREO_GUEST_SYSROOT (default /) where boot/ and lib/modules/ are found, so the build
# can be exercised against other module trees (e.g. compressed modules); BUSYBOX (default /bin/busybox).
# Skips the work when OUTDIR is newer than every input. Fails loudly, never leaves a broken guest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-$here/out}
sysroot=${VIREO_GUEST_SYSROOT:-/}
sysroot=${sysroot%/}
busybox=${BUSYBOX:-/bin/busybox}

die() {
  echo "build-guest: error: $*" >&2
  exit 1
}
need_package() { # need_package PACKAGE WHAT
  die "$2 is missing; install it with: apt-get install -y $1"
}

# --- inputs -------------------------------------------------------------------------------------
command -v modinfo >/dev/null || need_package kmod "modinfo (kmod)"
command -v gzip >/dev/null || need_package gzip "gzip"
[ -x "$busybox" ] || need_package busybox-static "busybox ($busybox)"
# The dynamic busybox package installs the same path; it cannot run without a libc in the initramfs.
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked; the guest needs the static one: apt-get install -y busybox-static"
fi
applets=$("$busybox" --list)
for applet in sh insmod mount acpid udhcpc ip ping poweroff setsid cttyhack cpio ipcalc dmesg; do
  grep -qx "$applet" <<<"$applets" || die "$busybox has no '$applet' applet; install busybox-static"
done

kernel=$(ls -1 "$sysroot"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$kernel" ] || need_package linux-image-amd64 "a kernel ($sysroot/boot/vmlinuz-*)"
[ -r "$kernel" ] || die "cannot read $kernel (run as root)"
kver=${kernel##*/vmlinuz-}
moddir=$sysroot/lib/modules/$kver
[ -d "$moddir" ] || die "no modules for kernel $kver in $moddir; reinstall linux-image-$kver"
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep is missing; run depmod $kver"

inputs=("${BASH_SOURCE[0]}" "$here/modules.txt" "$here/rootfs" "$kernel" "$busybox" "$moddir/modules.dep")
manifest_want="kernel=$kver sysroot=${sysroot:-/} busybox=$busybox"

mkdir -p "$outdir"
# One builder at a time per OUTDIR, across processes (parallel test runs, the demo).
exec 9>"$outdir/.lock"
flock 9

up_to_date() {
  [ -s "$outdir/vmlinuz" ] && [ -s "$outdir/initrd.img" ] && [ -f "$outdir/manifest" ] || return 1
  [ "$(head -n 1 "$outdir/manifest")" = "$manifest_want" ] || return 1
  [ -z "$(find "${inputs[@]}" -newer "$outdir/initrd.img" -print -quit)" ]
}
if up_to_date; then
  echo "build-guest: $outdir is up to date (kernel $kver)"
  exit 0
fi

# --- modules in dependency order ------------------------------------------------------------------
mi() { modinfo -b "${sysroot:-/}" -k "$kver" "$@"; }

declare -A state=()  # module name -> visiting|done|builtin
declare -A params=()
order=()
filenames=()

# Depth-first, dependencies first, so "virtio_ring" lands before "virtio" before "virtio_pci".
visit() { # visit NAME REQUIRED-BY
  local name=$1 by=$2 file deps dep key
  key=${name//-/_}
  case "${state[$key]:-}" in
    done|builtin|core) return 0 ;;
    visiting) die "module dependency cycle through $name" ;;
  esac
  if ! file=$(mi -F filename "$name" 2>/dev/null) || [ -z "$file" ]; then
    die "kernel $kver has no module '$name' (needed by $by)"
  fi
  if [ "$file" = "(builtin)" ]; then
    state[$key]=builtin
    return 0
  fi
  state[$key]=visiting
  deps=$(mi -F depends "$name")
  for dep in ${deps//,/ }; do
    visit "$dep" "$name"
  done
  state[$key]=done
  order+=("$key")
  filenames+=("$file")
}

# Load order of NAME and the dependencies it needs beyond the core set, for on-demand modules.
declare -A seen=()
closure() { # closure NAME -> appends to $closure_list
  local name=$1 dep key=${1//-/_}
  [ -z "${seen[$key]:-}" ] || return 0
  seen[$key]=1
  case "${state[$key]:-}" in builtin|core) return 0 ;; esac
  for dep in $(mi -F depends "$name" | tr , ' '); do
    closure "$dep"
  done
  closure_list+=" $key"
}

ondemand=()
while read -r name kind rest; do
  case "$name" in ''|'#'*) continue ;; esac
  key=${name//-/_}
  params[$key]=$rest
  case "$kind" in
    required) visit "$name" modules.txt ;;
    optional|ondemand)
      if mi -F filename "$name" >/dev/null 2>&1; then
        if [ "$kind" = ondemand ]; then ondemand+=("$name"); else visit "$name" modules.txt; fi
      else
        echo "build-guest: note: optional module $name is not in kernel $kver, skipped"
      fi
      ;;
    *) die "modules.txt: '$name' must be marked required, optional or ondemand, not '$kind'" ;;
  esac
done <"$here/modules.txt"

# Everything loaded at boot is marked core; on-demand modules are copied too, and listed with
# the part of their dependency chain that the core set does not already load.
core_count=${#order[@]}
for key in "${order[@]}"; do state[$key]=core; done
ondemand_lines=()
for name in "${ondemand[@]}"; do
  seen=() closure_list=
  closure "$name"
  visit "$name" modules.txt
  ondemand_lines+=("${name//-/_}:$closure_list")
done

# --- stage the initramfs ----------------------------------------------------------------------------
stage=$(mktemp -d "$outdir/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,etc,lib/modules,var/log,root}
cp -a "$here/rootfs/." "$stage/"
chmod 0755 "$stage/init"
cp "$busybox" "$stage/bin/busybox"
for applet in $applets; do
  [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
# The console node lets the kernel hand init its stdio; init falls back to devtmpfs without it.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"

: >"$stage/etc/modules.order"
printf '%s\n' "${ondemand_lines[@]}" >"$stage/etc/modules.ondemand"
for i in "${!order[@]}"; do
  key=${order[$i]} file=$sysroot${filenames[$i]#"$sysroot"}
  target=$stage/lib/modules/$key.ko
  case "$file" in
    *.ko) cp "$file" "$target" ;;
    *.ko.xz) xz -dc "$file" >"$target" 2>/dev/null || "$busybox" xz -dc "$file" >"$target" \
               || die "cannot decompress $file" ;;
    *.ko.gz) gzip -dc "$file" >"$target" || die "cannot decompress $file" ;;
    *.ko.zst)
      command -v zstd >/dev/null || need_package zstd "zstd (kernel modules are .ko.zst)"
      zstd -q -dc "$file" >"$target" || die "cannot decompress $file"
      ;;
    *) die "unknown module file type: $file" ;;
  esac
  [ -s "$target" ] || die "module $key came out empty from $file"
  [ "$i" -lt "$core_count" ] && echo "$key ${params[$key]:-}" >>"$stage/etc/modules.order"
done

# --- an uncompressed kernel for PVH boot ------------------------------------------------------------
# QEMU boots an ELF vmlinux that has a PVH entry note directly, skipping the bzImage's own
# decompression: under TCG that is ~40% of the boot (5 of 12 s of CPU for Debian's xz kernel).
extract_vmlinux() { # extract_vmlinux BZIMAGE OUT -> 0 when OUT is an ELF kernel
  local img=$1 out=$2 setup poff plen start magic len
  [ "$(od -An -c -j 514 -N4 "$img" | tr -d ' ')" = HdrS ] || return 1
  [ "$(od -An -tu2 -j 518 -N2 "$img" | tr -d ' ')" -ge 520 ] || return 1  # payload fields: protocol 2.08
  setup=$(od -An -tu1 -j 497 -N1 "$img" | tr -d ' ')
  [ "$setup" -ne 0 ] || setup=4
  poff=$(od -An -tu4 -j 584 -N4 "$img" | tr -d ' ')
  plen=$(od -An -tu4 -j 588 -N4 "$img" | tr -d ' ')
  start=$(( (setup + 1) * 512 + poff ))
  magic=$(od -An -tx1 -j "$start" -N4 "$img" | tr -d ' ')
  local decompress
  case "$magic" in
    fd377a58) decompress="xz -dc" ; command -v xz >/dev/null || decompress="$busybox xz -dc" ;;
    1f8b*) decompress="gzip -dc" ;;
    28b52ffd) command -v zstd >/dev/null || return 1; decompress="zstd -q -dc" ;;
    *) return 1 ;;
  esac
  # Most kernel payloads end with the 4-byte decompressed size, which the decompressors reject.
  for len in $((plen - 4)) "$plen"; do
    # shellcheck disable=SC2086 # $decompress is a command and its flags
    if dd if="$img" iflag=skip_bytes,count_bytes skip="$start" count="$len" bs=1M status=none \
        | $decompress >"$out" 2>/dev/null \
        && [ "$(od -An -c -N4 "$out" | tr -d ' ')" = '177ELF' ]; then
      return 0
    fi
  done
  return 1
}
rm -f "$outdir/.vmlinux.tmp"
vmlinux=no
if grep -qx 'CONFIG_PVH=y' "$sysroot/boot/config-$kver" 2>/dev/null; then
  if extract_vmlinux "$kernel" "$outdir/.vmlinux.tmp"; then
    vmlinux=yes
  else
    rm -f "$outdir/.vmlinux.tmp"
    echo "build-guest: note: could not extract an ELF vmlinux from $kernel; guests boot the bzImage (slower)"
  fi
fi

(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) \
  | gzip -6 -n >"$outdir/.initrd.tmp"
cp "$kernel" "$outdir/.vmlinuz.tmp"
{
  echo "$manifest_want"
  echo "modules=${order[*]:0:$core_count}"
  echo "ondemand=${ondemand_lines[*]}"
  echo "vmlinux=$vmlinux"
} >"$outdir/.manifest.tmp"
# Publish atomically: a reader sees the old guest or the new one, never half of one.
mv -f "$outdir/.vmlinuz.tmp" "$outdir/vmlinuz"
if [ "$vmlinux" = yes ]; then mv -f "$outdir/.vmlinux.tmp" "$outdir/vmlinux"; else rm -f "$outdir/vmlinux"; fi
mv -f "$outdir/.initrd.tmp" "$outdir/initrd.img"
mv -f "$outdir/.manifest.tmp" "$outdir/manifest"
echo "build-guest: built $outdir/initrd.img (kernel $kver, ${#order[@]} modules)"
