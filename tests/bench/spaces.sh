#!/usr/bin/env bash
# Backup-spaces benchmark: `stowage space backup` with the file plugin
# against `cp -a` of the same tree, on one filesystem; and the dedup saving
# when the same tree goes into two spaces of one store.
#
# Run from anywhere (it finds the workspace from its own path):
#
#     tests/bench/spaces.sh
#     BENCH_DIR=/path/on/the/same/fs BENCH_RUNS=5 tests/bench/spaces.sh
#
# What it does:
#   1. cargo build --release -p stowage -p stowage-file
#   2. in BENCH_DIR (default: a fresh `mktemp -d -p /var/tmp`, removed at the
#      end) builds two trees:
#        small/  10,000 files of 1-8 KiB in 100 directories (about 45 MiB)
#        large/  8 distinct files of 128 MiB (1 GiB)
#   3. for each tree, BENCH_RUNS times (default 3), interleaved, each after an
#      untimed `sync` and into an emptied destination:
#        - `cp -a TREE DEST && sync -f DEST`
#        - `stowage space backup file://STORE s TREE` (a fresh store; the
#          default durability: one syncfs at close)
#      and prints the medians, MB/s, and the ratio stowage MB/s / cp MB/s.
#      Backing up also hashes every byte (SHA-256) and writes a manifest;
#      cp does neither.
#   4. dedup: both trees into space "a", then again into space "b" of the
#      same store; prints the store's size after each, the saving
#      (1 - stored / (2 x tree)), and how long the second backup took
#      (content is hashed but not uploaded again).
#   The exit status is 0 whatever the numbers (a measurement, not a test).
#
# Total runtime: about 2-3 minutes on the 2-core CI VM (mostly writing the
# 1 GiB tree, 2 x BENCH_RUNS times).
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup stowage-spaces-bench 3
export STOWAGE_LOCK_DIR=$WORK/locks

tree_bytes() { du -sb --apparent-size "$1" | cut -f1; }
store_bytes() { du -sb --apparent-size "$1" | cut -f1; }

# ---- the trees --------------------------------------------------------------
echo "creating 10,000 small files..." >&2
SMALL=$WORK/small
for d in $(seq -w 0 99); do
    mkdir -p "$SMALL/d$d"
    # 100 files of 4 KiB from one stream, then each trimmed to 1-8 KiB.
    head -c $((100 * 8192)) /dev/urandom | (cd "$SMALL/d$d" && split -b 8192 -a 3 -d - f)
done
find "$SMALL" -type f | awk '{ printf "%s %d\n", $0, 1024 + (NR * 2654435761 % 7169) }' |
    while read -r f n; do truncate -s "$n" "$f"; done
N_SMALL=$(find "$SMALL" -type f | wc -l)

echo "creating 1 GiB of large files..." >&2
LARGE=$WORK/large
mkdir -p "$LARGE"
head -c $((64 << 20)) /dev/urandom >"$WORK/chunk"
for i in $(seq 1 8); do
    { printf 'large file %d\n' "$i"; cat "$WORK/chunk" "$WORK/chunk"; } >"$LARGE/big$i"
done
rm -f "$WORK/chunk"

ROWS=()
row() { # LABEL BASE_S STOW_S BYTES
    ROWS+=("$(awk -v l="$1" -v b="$2" -v s="$3" -v n="$4" 'BEGIN {
        bm = n / b / 1e6; sm = n / s / 1e6
        printf "%-36s %9.3f %9.3f %9.0f %9.0f %7.2f", l, b, s, bm, sm, sm / bm
    }')")
}

bench_tree() { # LABEL TREE
    local label=$1 tree=$2 b=() s=() i bytes
    bytes=$(tree_bytes "$tree")
    cp_tree() { rm -rf "$WORK/dest"; cp -a "$tree" "$WORK/dest" && sync -f "$WORK/dest"; }
    stow_tree() { "${STOWAGE[@]}" space backup "file://$WORK/store" s "$tree"; }
    for ((i = 0; i < RUNS; i++)); do
        rm -rf "$WORK/dest"
        b+=("$(run_timed cp_tree)")
        rm -rf "$WORK/dest" "$WORK/store"
        s+=("$(run_timed stow_tree)")
        rm -rf "$WORK/store"
    done
    row "$label" "$(median "${b[@]}")" "$(median "${s[@]}")" "$bytes"
}

echo "timing $N_SMALL small files..." >&2
bench_tree "$N_SMALL small files (cp -a vs backup)" "$SMALL"
echo "timing 1 GiB of large files..." >&2
bench_tree "8 x 128 MiB (cp -a vs backup)" "$LARGE"

# ---- dedup ------------------------------------------------------------------
echo "dedup: the same trees into two spaces..." >&2
STORE=$WORK/store
rm -rf "$STORE"
TREE_BYTES=$(($(tree_bytes "$SMALL") + $(tree_bytes "$LARGE")))
A_S=$(run_timed "${STOWAGE[@]}" space backup "file://$STORE" a "$SMALL" "$LARGE")
AFTER_A=$(store_bytes "$STORE")
B_S=$(run_timed "${STOWAGE[@]}" space backup "file://$STORE" b "$SMALL" "$LARGE")
AFTER_B=$(store_bytes "$STORE")
"${STOWAGE[@]}" space verify "file://$STORE" b >/dev/null

echo
echo "stowage backup-spaces benchmark: $(uname -sr), $(nproc) cores, data in $WORK"
echo "fs: $(df -hT "$WORK" | awk 'NR == 2 { print $1, $2 }'); median of $RUNS runs each; both sides durable (sync -f / syncfs)"
printf '%-36s %9s %9s %9s %9s %7s\n' "case" "cp s" "stow s" "cp MB/s" "stow MB/s" "ratio"
printf '%s\n' "${ROWS[@]}"
echo
awk -v t="$TREE_BYTES" -v a="$AFTER_A" -v b="$AFTER_B" -v as="$A_S" -v bs="$B_S" 'BEGIN {
    printf "dedup: tree %.1f MiB; store after space a %.1f MiB, after space b %.1f MiB\n", t / 1048576, a / 1048576, b / 1048576
    printf "dedup: saving %.1f%% of 2 x tree; second backup %.2f s vs first %.2f s (%.2fx)\n", (1 - b / (2 * t)) * 100, bs, as, as / bs
}'
