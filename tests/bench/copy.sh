#!/usr/bin/env bash
# Benchmark of `stowage copy` between two file:// stores against `cp` of the same files.
#
#   bash tests/bench/copy.sh             # 5 runs, scratch under /var/tmp
#   BENCH_RUNS=9 BENCH_DIR=/dev/shm bash tests/bench/copy.sh
#
# 1,000 objects of 64 KiB: `stowage copy --jobs 4 file://SRC file://DST` (the destination's
# default durability, fsync on close, and `?fsync=none`, which is what cp does) versus
# `cp SRC/* DST/`. Prints medians and the ratio stowage / cp (goal: <= 2).
# Then `stowage put` of the same 1,000 files with `--jobs 1` and `--jobs 4`
# into a file:// store, the plugin in process (`--isolate=never`, as from
# the system plugin directory), and the ratio jobs 4 / jobs 1 (goal: <= 1,
# the file plugin must not get slower with more jobs).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# bench_setup builds the library and the plugin; the binary first, since it runs it.
(cd "$(dirname "$0")/../.." && cargo build --release --quiet -p stowage-cli)
bench_setup stowage-copy-bench 5

src=$WORK/src
mkdir "$src"
for i in $(seq -w 1 1000); do head -c 65536 /dev/urandom >"$src/obj$i"; done

copy_default() { rm -rf "$WORK/dst"; "${STOWAGE[@]}" copy --jobs 4 "file://$src" "file://$WORK/dst"; }
copy_nosync() { rm -rf "$WORK/dst"; "${STOWAGE[@]}" copy --jobs 4 "file://$src" "file://$WORK/dst?fsync=none"; }
copy_cp() { rm -rf "$WORK/dst"; mkdir "$WORK/dst"; cp "$src"/* "$WORK/dst/"; }

t_default=(); t_nosync=(); t_cp=()
for _ in $(seq 1 "$RUNS"); do
    t_default+=("$(run_timed copy_default)")
    diff -rq "$src" "$WORK/dst" >/dev/null || { echo "stowage copy produced different files" >&2; exit 1; }
    t_nosync+=("$(run_timed copy_nosync)")
    t_cp+=("$(run_timed copy_cp)")
done

m_default=$(median "${t_default[@]}"); m_nosync=$(median "${t_nosync[@]}"); m_cp=$(median "${t_cp[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-44s %9s %7s\n' "1000 x 64 KiB, median of $RUNS" "seconds" "ratio"
printf '%-44s %9s %7s\n' "cp SRC/* DST/" "$m_cp" "1.00"
printf '%-44s %9s %7s\n' "stowage copy --jobs 4 (fsync on close)" "$m_default" "$(ratio "$m_default" "$m_cp")"
printf '%-44s %9s %7s\n' "stowage copy --jobs 4 (?fsync=none, as cp)" "$m_nosync" "$(ratio "$m_nosync" "$m_cp")"
echo "(ratio = stowage / cp; goal <= 2)"

put_jobs() {
    rm -rf "$WORK/dst"
    "${STOWAGE[@]}" put --jobs "$1" "file://$WORK/dst" "$src"/*
}
put_jobs_1() { put_jobs 1; }
put_jobs_4() { put_jobs 4; }
t_put1=(); t_put4=()
for _ in $(seq 1 "$RUNS"); do
    t_put1+=("$(run_timed put_jobs_1)")
    t_put4+=("$(run_timed put_jobs_4)")
    diff -rq "$src" "$WORK/dst" >/dev/null || { echo "stowage put produced different files" >&2; exit 1; }
done
m_put1=$(median "${t_put1[@]}"); m_put4=$(median "${t_put4[@]}")
echo
printf '%-44s %9s %7s\n' "put 1000 x 64 KiB, median of $RUNS" "seconds" "ratio"
printf '%-44s %9s %7s\n' "stowage put --jobs 1 (in process)" "$m_put1" "1.00"
printf '%-44s %9s %7s\n' "stowage put --jobs 4 (in process)" "$m_put4" "$(ratio "$m_put4" "$m_put1")"
echo "(ratio = jobs 4 / jobs 1; goal <= 1)"
