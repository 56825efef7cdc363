#!/usr/bin/env bash
# Foundation benchmark: the `stowage` command with the `file` plugin against
# plain cp, on one filesystem.
#
# Run from anywhere (it finds the workspace from its own path):
#
#     tests/bench/foundation.sh
#     BENCH_DIR=/path/on/the/same/fs tests/bench/foundation.sh   # keep the data there
#
# What it does:
#   1. cargo build --release -p stowage -p stowage-file
#   2. in BENCH_DIR (default: a fresh `mktemp -d -p /var/tmp`, removed at the
#      end; /var/tmp is on the same filesystem as the target dir here):
#      (a) one 1 GiB file:
#          - `cp FILE DIR/`           vs `stowage put 'file:///DIR?fsync=none' FILE`
#          - `cp FILE DIR/ && sync -f DIR` vs `stowage put file:///DIR FILE`
#            (default durability: durable at close, i.e. a syncfs)
#          - `cp DIR/FILE back`       vs `stowage get file:///DIR FILE -o back`
#          throughput in MB/s and ratio = stowage MB/s / cp MB/s (target >= 0.9),
#          plus the peak RSS of stowage (GNU time's %M; "n/a" when
#          /usr/bin/time is missing: `apt-get install -y time` provides it).
#      (b) 1000 files of 64 KiB:
#          - `cp f* DIR/ && sync -f DIR` vs `stowage put file:///DIR f*`
#          - `cp f* DIR/`               vs `stowage put 'file:///DIR?fsync=none' f*`
#          ratio = stowage time / cp time (target <= 1.5).
#      Page caches cannot be dropped reliably, so every variant runs 5 times
#      (BENCH_RUNS), cp and stowage interleaved, each run after an untimed
#      `sync` and into an emptied destination; the medians are reported.
#   3. prints a compact table: baseline and stowage medians (seconds),
#      MB/s, the ratio, the target and PASS/MISS. The exit status is 0 even
#      when a target is missed (it is a measurement, not a test).
#
# Total runtime is about a minute on the 2-core CI VM (dominated by writing
# the 1 GiB file to disk in the durable variants).
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup stowage-bench 5

if [[ -x /usr/bin/time ]]; then HAVE_TIME=1; else HAVE_TIME=0; fi

# stow ARGS...: runs stowage (under GNU time when available, appending its
# peak RSS in KiB to $WORK/rss.log; a variable would not survive the
# command substitution the timing runs in).
stow() {
    if [[ $HAVE_TIME == 1 ]]; then
        /usr/bin/time -f '%M' -o "$WORK/rss.last" "${STOWAGE[@]}" "$@"
        tail -n 1 "$WORK/rss.last" >>"$WORK/rss.log"
    else
        "${STOWAGE[@]}" "$@"
    fi
}

# The largest RSS logged so far, in KiB.
peak_rss_kb() { sort -n "$WORK/rss.log" 2>/dev/null | tail -n 1 || echo 0; }

# bench_pair SETUP BASE STOW: RUNS rounds of (SETUP; time BASE; SETUP;
# time STOW), interleaved so that drift in the machine's state hits both
# alike; sets BASE_S and STOW_S to the medians.
bench_pair() {
    local setup=$1 base=$2 stowage=$3 b=() s=() i
    for ((i = 0; i < RUNS; i++)); do
        "$setup"
        b+=("$(run_timed "$base")")
        "$setup"
        s+=("$(run_timed "$stowage")")
    done
    BASE_S=$(median "${b[@]}")
    STOW_S=$(median "${s[@]}")
}

fresh_dest() { rm -rf "$WORK/dest"; mkdir -p "$WORK/dest"; }
rm_back() { rm -f "$WORK/back"; }

# The put cases differ only in their files and durability: PUT_FILES and
# PUT_FSYNC ("none": page cache only; "durable": synced) are set by
# bench_put for these two.
cp_put() {
    cp "${PUT_FILES[@]}" "$WORK/dest/"
    if [[ $PUT_FSYNC == durable ]]; then sync -f "$WORK/dest"; fi
}
stow_put() {
    if [[ $PUT_FSYNC == durable ]]; then
        stow put "file://$WORK/dest" "${PUT_FILES[@]}"
    else
        stow put "file://$WORK/dest?fsync=none" "${PUT_FILES[@]}"
    fi
}

ROWS=()
# row LABEL BASE_S STOWAGE_S BYTES KIND: KIND "throughput" (ratio of MB/s,
# target >= 0.9) or "time" (ratio of times, target <= 1.5).
row() {
    ROWS+=("$(awk -v l="$1" -v b="$2" -v s="$3" -v n="$4" -v k="$5" 'BEGIN {
        bm = n / b / 1e6; sm = n / s / 1e6
        if (k == "throughput") { r = sm / bm; t = ">= 0.90"; ok = r >= 0.9 }
        else                   { r = s / b;   t = "<= 1.50"; ok = r <= 1.5 }
        printf "%-44s %9.3f %9.3f %9.0f %9.0f %7.2f  %-8s %s", l, b, s, bm, sm, r, t, ok ? "PASS" : "MISS"
    }')")
}

# bench_put LABEL BYTES KIND FSYNC FILE...: `cp FILE... dest/` (then
# `sync -f` when FSYNC is "durable") vs `stowage put` of the same files
# (with `?fsync=none` when FSYNC is "none"), each into a fresh directory;
# adds the row.
bench_put() {
    local label=$1 bytes=$2 kind=$3
    PUT_FSYNC=$4
    shift 4
    PUT_FILES=("$@")
    bench_pair fresh_dest cp_put stow_put
    row "$label" "$BASE_S" "$STOW_S" "$bytes" "$kind"
}

# ---- (a) one 1 GiB file ---------------------------------------------------
echo "(a) creating a 1 GiB file..." >&2
BIG=$WORK/big.bin
# 64 MiB of random data written 16 times: incompressible enough, and much
# faster than reading 1 GiB from /dev/urandom.
head -c $((64 << 20)) /dev/urandom >"$WORK/chunk"
for _ in $(seq 16); do cat "$WORK/chunk"; done >"$BIG"
rm -f "$WORK/chunk"
SIZE=$(stat -c %s "$BIG")

echo "(a) put, page cache only..." >&2
bench_put "1 GiB put ?fsync=none vs cp" "$SIZE" throughput none "$BIG"

echo "(a) put, durable..." >&2
bench_put "1 GiB put (durable) vs cp && sync -f" "$SIZE" throughput durable "$BIG"

echo "(a) get..." >&2
fresh_dest
cp "$BIG" "$WORK/dest/big.bin"
cp_back() { cp "$WORK/dest/big.bin" "$WORK/back"; }
stow_back() { stow get "file://$WORK/dest" big.bin -o "$WORK/back"; }
bench_pair rm_back cp_back stow_back
row "1 GiB get vs cp" "$BASE_S" "$STOW_S" "$SIZE" throughput
rm -f "$BIG" "$WORK/back"
BIG_RSS_KB=$(peak_rss_kb)

# ---- (b) 1000 files of 64 KiB ----------------------------------------------
echo "(b) creating 1000 files of 64 KiB..." >&2
SMALL=$WORK/small
mkdir -p "$SMALL"
head -c $((1000 * 65536)) /dev/urandom | (cd "$SMALL" && split -b 65536 -a 4 --numeric-suffixes=1 - f)
mapfile -t FILES < <(find "$SMALL" -type f -name 'f*' | sort)
((${#FILES[@]} == 1000)) || { echo "expected 1000 files, got ${#FILES[@]}" >&2; exit 1; }
TOTAL=$((1000 * 65536))

echo "(b) durable..." >&2
bench_put "1000 x 64 KiB put (durable) vs cp && sync -f" "$TOTAL" time durable "${FILES[@]}"

echo "(b) fsync=none..." >&2
bench_put "1000 x 64 KiB put ?fsync=none vs cp" "$TOTAL" time none "${FILES[@]}"

# ---- report -----------------------------------------------------------------
echo
echo "stowage foundation benchmark: $(uname -sr), $(nproc) cores, data in $WORK"
echo "fs: $(df -hT "$WORK" | awk 'NR == 2 { print $1, $2 }'); median of $RUNS runs each"
printf '%-44s %9s %9s %9s %9s %7s  %-8s %s\n' "case" "base s" "stow s" "base MB/s" "stow MB/s" "ratio" "target" ""
printf '%s\n' "${ROWS[@]}"
if [[ $HAVE_TIME == 1 ]]; then
    echo "peak RSS of stowage: $((BIG_RSS_KB / 1024)) MiB in the 1 GiB runs, $(($(peak_rss_kb) / 1024)) MiB in all runs"
else
    echo "peak RSS of stowage: n/a (/usr/bin/time missing; apt-get install -y time)"
fi
