#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root) for Vireo and runs one job:
#   scripts/setup.sh demo   install what is missing, build, run the demo lab (scripts/demo.sh)
#   scripts/setup.sh test   install what is missing, build, run every test (scripts/test.sh)
#   scripts/setup.sh deps   only install what is missing and build
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
job=${1:-deps}

say() { printf '== %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "error: run as root (Vireo creates bridges, TAPs and namespaces, and installs Debian packages)" >&2
  exit 1
fi

# 1. Debian packages: install only the missing ones, so a prepared machine pays nothing.
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' scripts/debian-packages.txt | grep -v '^$')
missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# 2. The .NET SDK is not a Debian package: it must already be on the machine.
if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required and is not on PATH" >&2
  exit 1
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# 3. The CLI (Native AOT) and the test guest.
say "building the vireo CLI"
./vireo --version >&2
say "building the test guest"
guest/build-guest.sh >&2

case "$job" in
  demo) exec scripts/demo.sh ;;
  test) exec scripts/test.sh ;;
  deps) ;;
  *) echo "error: unknown job '$job' (demo, test or deps)" >&2; exit 1 ;;
esac
