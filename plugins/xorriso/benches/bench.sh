#!/usr/bin/env bash
# 100 × 4 KiB puts + close through stowage-xorriso, versus one hand-written xorriso run that
# maps the same 100 files and commits once. Prints the median of RUNS runs of each and the
# ratio. Usage: benches/bench.sh [RUNS] (default 5); BENCH_DIR to choose where images go.
set -euo pipefail
runs=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
command -v xorriso >/dev/null || { echo "xorriso is not installed" >&2; exit 1; }
cargo build --quiet --release -p stowage-xorriso --example put_many --manifest-path "$here/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$here/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target_dir/release/examples/put_many"

work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/xorriso-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
for i in $(seq -w 1 100); do head -c 4096 /dev/urandom > "$work/src/f$i"; done
files=("$work"/src/f*)

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { sort -g | head -n 1; }

: > "$work/t_ours"; : > "$work/t_hand"
for r in $(seq 1 "$runs"); do
    rm -f "$work/ours.iso" "$work/hand.iso"
    t0=$(now)
    "$bin" "xorriso://$work/ours.iso" "${files[@]}" 2>/dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$work/t_ours"

    args=()
    for f in "${files[@]}"; do args+=(-map "$f" "/$(basename "$f")"); done
    t0=$(now)
    xorriso -abort_on FAILURE -report_about SORRY -md5 on -dev "stdio:$work/hand.iso" "${args[@]}" -commit >/dev/null 2>&1
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$work/t_hand"
done

ours=$(median < "$work/t_ours")
hand=$(median < "$work/t_hand")
ours_min=$(minimum < "$work/t_ours")
hand_min=$(minimum < "$work/t_hand")
printf 'stowage-xorriso, 100 x 4 KiB puts + close: median %.3f s, min %.3f s (%d runs)\n' "$ours" "$ours_min" "$runs"
printf 'hand-written xorriso, 100 -map + -commit:   median %.3f s, min %.3f s (%d runs)\n' "$hand" "$hand_min" "$runs"
printf 'ratio (stowage / hand-written): median %.2f, min %.2f\n' \
    "$(awk -v a="$ours" -v b="$hand" 'BEGIN {print a / b}')" \
    "$(awk -v a="$ours_min" -v b="$hand_min" 'BEGIN {print a / b}')"
printf 'image sizes: %s bytes (stowage), %s bytes (hand-written)\n' \
    "$(stat -c %s "$work/ours.iso")" "$(stat -c %s "$work/hand.iso")"
