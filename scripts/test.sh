#!/usr/bin/env bash
# Builds and runs every test project, one after another (the integration tests boot guests and want the
# cores to themselves), and ends with the totals line CI reads: "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Tests run the real CLI binary that ./vireo published.
export VIREO_EXE="$here/.build/vireo/vireo"

art="$here/.build/test-artifacts"
results="$here/.build/test-results"
rm -rf "$results"; mkdir -p "$results"

echo "== building tests"
dotnet build Vireo.sln -c Release --nologo -v quiet --artifacts-path "$art" > "$results/build.log" 2>&1
rc=$?
grep -E 'error|warn' "$results/build.log" | sort -u | head -n 40
if [ "$rc" -ne 0 ]; then
  tail -n 30 "$results/build.log"
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0; failed=0; skipped=0; broken=0
for proj in tests/*/*.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name"
  start=$(date +%s)
  dotnet test "$proj" -c Release --no-build --nologo --artifacts-path "$art" \
    --blame-hang-timeout 15m --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --logger "console;verbosity=detailed" > "$results/$name.log" 2>&1
  rc=$?
  trx="$results/$name.trx"
  if [ -f "$trx" ]; then
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n1)
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); p=${p:-0}
    f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=${f:-0}
    t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); t=${t:-0}
    e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters"); e=${e:-0}
    s=$((t - e))
  else
    p=0; f=0; s=0
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    # The run failed without a failed test (crash, build or discovery error): count it as a failure.
    f=1; broken=$((broken + 1))
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  echo "   $p passed, $f failed, $s skipped in $(( $(date +%s) - start )) s"
  if [ "$f" -ne 0 ]; then
    grep -E -A 25 '^\s+Failed |error' "$results/$name.log" | head -n 120
  fi
  # What the tests print about themselves (conformance counts, timings).
  grep -E '^\s*(\[conformance\]|\[measure\]|conformance )' "$results/$name.log" | sed 's/^\s*/   /' | sort -u | head -n 40 || true
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
