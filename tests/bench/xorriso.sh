#!/usr/bin/env bash
# Benchmark of the xorriso plugin through the real `stowage` command against hand-driven xorriso.
#
#   bash tests/bench/xorriso.sh            # RUNS=5 by default, images in a temp dir under /var/tmp
#   RUNS=9 BENCH_DIR=/dev/shm bash tests/bench/xorriso.sh
#
# Prints, as medians of RUNS runs:
#   (a) 100 x 4 KiB: `stowage put xorriso:///img.iso f001..f100` (one process, one session at close)
#       versus one hand-written `xorriso -dev stdio:img -map ... x100 -commit`. Target ratio <= 1.5.
#   (b) 200 MiB: `stowage put` (+ close) versus `xorriso -dev stdio:img -map F /F -commit`, and
#       `stowage get` versus `xorriso -osirrox on -indev stdio:img -extract /F out`.
# The ratio is stowage time / hand-written time (lower is better).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v xorriso >/dev/null || { echo "xorriso is not installed (apt-get install xorriso)" >&2; exit 1; }
RUNS=${RUNS:-5}

cargo build --release --quiet -p stowage -p stowage-xorriso
bin=target/release/stowage
plugins=$(mktemp -d)
cp target/release/libstowage_xorriso.so "$plugins/"
chmod 755 "$plugins"
export XDG_CACHE_HOME="$plugins/cache"
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" stowage-xorriso-bench.XXXXXX)
trap 'rm -rf "$work" "$plugins"' EXIT
# Plugins from --plugin-dir run isolated by default; an installed plugin
# runs in process. Measure the installed case unless BENCH_ISOLATE says
# otherwise.
stowage() { "$bin" -q --plugin-dir "$plugins" --isolate="${BENCH_ISOLATE:-never}" "$@" >/dev/null; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.4f\n", b - a}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

mkdir "$work/small"
for i in $(seq -w 1 100); do head -c 4096 /dev/urandom >"$work/small/f$i"; done
small=("$work"/small/f*)
head -c $((200 * 1024 * 1024)) /dev/urandom >"$work/big"
stowage plugins # warm the probe cache once, outside the timings

: >"$work/t_small_ours"; : >"$work/t_small_hand"
: >"$work/t_put_ours"; : >"$work/t_put_hand"; : >"$work/t_get_ours"; : >"$work/t_get_hand"
for _ in $(seq 1 "$RUNS"); do
    rm -f "$work"/*.iso "$work"/out*
    t=$(now); stowage put "xorriso://$work/ours.iso" "${small[@]}"; elapsed "$t" >>"$work/t_small_ours"
    args=(); for f in "${small[@]}"; do args+=(-map "$f" "/$(basename "$f")"); done
    t=$(now)
    xorriso -abort_on FAILURE -report_about SORRY -dev "stdio:$work/hand.iso" "${args[@]}" -commit >/dev/null 2>&1
    elapsed "$t" >>"$work/t_small_hand"

    rm -f "$work"/*.iso
    t=$(now); stowage put "xorriso://$work/ours.iso" "$work/big"; elapsed "$t" >>"$work/t_put_ours"
    t=$(now)
    xorriso -abort_on FAILURE -report_about SORRY -dev "stdio:$work/hand.iso" -map "$work/big" /big -commit >/dev/null 2>&1
    elapsed "$t" >>"$work/t_put_hand"

    t=$(now); stowage get "xorriso://$work/ours.iso" big -o "$work/out_ours"; elapsed "$t" >>"$work/t_get_ours"
    t=$(now)
    xorriso -abort_on FAILURE -report_about SORRY -osirrox on -indev "stdio:$work/hand.iso" -extract /big "$work/out_hand" >/dev/null 2>&1
    elapsed "$t" >>"$work/t_get_hand"
    cmp -s "$work/big" "$work/out_ours" || { echo "stowage get returned different bytes" >&2; exit 1; }
done

printf '%-34s %10s %10s %7s\n' "case (median of $RUNS)" "stowage s" "xorriso s" "ratio"
for c in small:"100 x 4 KiB put + close" put:"200 MiB put + close" get:"200 MiB get"; do
    key=${c%%:*}; label=${c#*:}
    case $key in small) o=t_small_ours; h=t_small_hand ;; put) o=t_put_ours; h=t_put_hand ;; get) o=t_get_ours; h=t_get_hand ;; esac
    mo=$(median <"$work/$o"); mh=$(median <"$work/$h")
    printf '%-34s %10s %10s %7s\n' "$label" "$mo" "$mh" "$(ratio "$mo" "$mh")"
done
echo "(ratio = stowage / hand-driven xorriso; target for 100 x 4 KiB: <= 1.5)"
