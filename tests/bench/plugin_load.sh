#!/usr/bin/env bash
# Does installing more plugins slow down a command that needs only one?
#
#   bash tests/bench/plugin_load.sh              # 50 runs per case
#   BENCH_RUNS=200 bash tests/bench/plugin_load.sh
#
# Whole-process time of `stowage ls file://DIR` (an empty store) with a
# plugin directory holding only the file plugin, against one also holding
# the network plugins (s3, sftp, webdav) and xorriso and local-peer. Both in
# the default isolation mode for `--plugin-dir` (isolated) and in process
# (`--isolate=never`). The probe cache is warmed first, untimed: a command
# loads only the plugins its URLs need, the others are known from their
# cached descriptors. Uses hyperfine when installed (`apt-get install -y
# hyperfine`), else a loop of BENCH_RUNS runs. Prints the ratio
# all-plugins / file-only (goal: <= 1.10).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
(cd "$(dirname "$0")/../.." && cargo build --release --quiet -p stowage-cli \
    -p stowage-s3 -p stowage-sftp -p stowage-webdav -p stowage-xorriso -p stowage-local-peer)
bench_setup stowage-plugin-load-bench 50

all=$WORK/all-plugins
mkdir "$all"
for p in file s3 sftp webdav xorriso local_peer; do
    cp "$TARGET/release/libstowage_$p.so" "$all/"
done
mkdir "$WORK/store"
url="file://$WORK/store"
# Warm the probe cache for both directories.
"$BIN" --plugin-dir "$all" plugins >/dev/null

mean_of() {
    # mean_of CMD...: mean seconds of BENCH_RUNS runs.
    if command -v hyperfine >/dev/null; then
        hyperfine --style none --warmup 3 --runs "$RUNS" --export-json "$WORK/h.json" \
            "$(printf '%q ' "$@")" >/dev/null 2>&1
        python3 -c 'import json,sys; print("%.5f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$WORK/h.json"
    else
        local t0 t1
        t0=$(now_ns)
        for _ in $(seq 1 "$RUNS"); do "$@" >/dev/null; done
        t1=$(now_ns)
        awk -v a="$t0" -v b="$t1" -v n="$RUNS" 'BEGIN { printf "%.5f\n", (b - a) / 1e9 / n }'
    fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

printf '%-40s %11s %11s %7s\n' "ls file://, mean of $RUNS" "file only" "all plugins" "ratio"
for mode in untrusted never; do
    only=$(mean_of "$BIN" --plugin-dir "$PLUGINS" --isolate="$mode" -q ls "$url")
    every=$(mean_of "$BIN" --plugin-dir "$all" --isolate="$mode" -q ls "$url")
    printf '%-40s %11s %11s %7s\n' "--isolate=$mode" "$only" "$every" "$(ratio "$every" "$only")"
done
echo "(seconds; ratio = all plugins / file only; goal <= 1.10)"
