#!/usr/bin/env bash
# Runs every libFuzzer target (one per fuzz/*.cpp) for FUZZ_SECONDS over a
# scratch copy of its checked-in seed corpus (fuzz/corpus/<target>/), with a
# memory limit and a per-input time limit. Any crash, leak, timeout or
# out-of-memory fails the run; the input that did it is kept under
# <build>/fuzz-artifacts/<target>/. Prints target / executions / exec/s /
# corpus size (seeds -> after the run).
#
#   scripts/fuzz-ci.sh [BUILD_DIR]      (default build-fuzz, made by `make fuzz`)
#   FUZZ_SECONDS=60 FUZZ_RSS_MB=2048 FUZZ_TIMEOUT=10 FUZZ_SEED=1 FUZZ_JOBS=2 FUZZ_TARGETS="fuzz_bundle fuzz_cms"
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
RSS_MB=${FUZZ_RSS_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-10}
# A fixed seed makes a CI run repeatable: the same mutations in the same order
# (FUZZ_SEED=0 asks libFuzzer for a random one, for longer hunting by hand).
SEED=${FUZZ_SEED:-1}

targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
  for src in fuzz/*.cpp; do targets="$targets $(basename "$src" .cpp)"; done
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bpfsig-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
artifacts="$BUILD/fuzz-artifacts"
# One target: its row (target|status|executions|exec/s|corpus) goes to
# $scratch/$t.row. Targets run FUZZ_JOBS at a time (default: one per core),
# each single-threaded, so every target still gets its FUZZ_SECONDS of a core.
fuzz_one() {
  local t=$1 bin="$BUILD/$1"
  if [ ! -x "$bin" ]; then
    echo "fuzz-ci: $bin is missing (run make fuzz)" >&2
    echo "$t|MISSING|-|-|-" > "$scratch/$t.row"
    return
  fi
  local seeds="fuzz/corpus/$t" corpus="$scratch/$t" nseeds=0
  mkdir -p "$corpus" "$artifacts/$t"
  if [ -d "$seeds" ]; then
    cp -r "$seeds/." "$corpus/"
    nseeds=$(find "$corpus" -type f | wc -l)
  else
    echo "fuzz-ci: warning: $t has no seed corpus ($seeds)" >&2
  fi
  local log="$scratch/$t.log"
  echo "fuzz-ci: $t for ${SECONDS_PER_TARGET}s ($nseeds seeds)" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -seed="$SEED" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
    -timeout="$TIMEOUT" -print_final_stats=1 -artifact_prefix="$artifacts/$t/" "$corpus" >"$log" 2>&1
  local rc=$?
  local execs secs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  [ -z "$execs" ] && execs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#')
  [ -z "$execs" ] && execs=0
  { [ -z "$secs" ] || [ "$secs" = 0 ]; } && secs=$SECONDS_PER_TARGET
  local rate=$((execs / secs)) after status=ok
  after=$(find "$corpus" -type f | wc -l)
  if [ $rc -ne 0 ]; then
    status="FAIL($rc)"
    {
      echo "fuzz-ci: $t FAILED (exit $rc); log tail:"
      grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20
      tail -30 "$log"
    } >&2
  fi
  echo "$t|$status|$execs|$rate|$nseeds -> $after" > "$scratch/$t.row"
}

jobs_max=${FUZZ_JOBS:-$(nproc)}
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  fuzz_one "$t" &
done
wait

failed=0
rows=()
for t in $targets; do
  row=$(cat "$scratch/$t.row" 2>/dev/null || echo "$t|NO-RESULT|-|-|-")
  rows+=("$row")
  [ "$(echo "$row" | cut -d'|' -f2)" = ok ] || failed=1
done

printf '\n%-16s %-9s %12s %10s %s\n' target status executions 'exec/s' 'corpus (seeds -> after)'
for r in "${rows[@]}"; do
  IFS='|' read -r t s e x c <<<"$r"
  printf '%-16s %-9s %12s %10s %s\n' "$t" "$s" "$e" "$x" "$c"
done
exit $failed
