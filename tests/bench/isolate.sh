#!/usr/bin/env bash
# What isolation costs, in one run: child start-up (open + close of a
# backend), per-operation overhead (query x 10,000), put of 1,000 x 64 KiB
# and of one large file (BENCH_BIG_MIB, default 1024), isolated (confined
# by Landlock and not) against in process.
#
# BENCH_PLUGIN=file (default) measures the real file plugin;
# BENCH_PLUGIN=extended measures the test fixture `fixture-extended`, a
# directory store that offers stowage.stream/1 (a confined child then puts
# and gets through the stream, without a staged copy).
#
# The small puts are measured again with the stores on tmpfs (/dev/shm,
# when it is one; BENCH_TMPFS= turns it off): there a file's creation
# costs the same each time, where on ext4 it depends on where the
# filesystem placed the store's directory (2-10x apart on this kind of
# machine), so the tmpfs ratio is the steadier one. The last line prints
# the two fixed costs of an isolated put (the umask read, a round trip).
#
# Goals: overhead <= 30 us per call; puts <= 1.2x (small) and <= 1.05x
# (large) the in-process time; start-up <= 10 ms.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
PLUGIN=${BENCH_PLUGIN:-file}

echo "building release binaries..." >&2
(cd "$ROOT" && cargo build --release --quiet -p stowage-cli -p stowage-file \
    && cargo build --release --quiet -p stowage-isolate --example isolate_bench)

parent=${BENCH_DIR:-/var/tmp}
mkdir -p "$parent"
WORK=$(mktemp -d -p "$parent" isolate.XXXXXX)
# shellcheck disable=SC2064 # expand WORK now
trap "rm -rf '$WORK'" EXIT
mkdir -p "$WORK/plugins"
case "$PLUGIN" in
file)
    cp "$TARGET/release/libstowage_file.so" "$WORK/plugins/"
    URL='file://{}?fsync=none'
    ;;
extended)
    (cd "$ROOT" && cargo build --release --quiet --manifest-path tests/fixtures/Cargo.toml \
        --target-dir "$TARGET/fixtures" -p fixture-extended)
    cp "$TARGET/fixtures/release/libfixture_extended.so" "$WORK/plugins/"
    URL='extended://{}'
    ;;
*)
    echo "BENCH_PLUGIN: file or extended, not $PLUGIN" >&2
    exit 2
    ;;
esac
chmod 755 "$WORK/plugins"

TMPFS_ARGS=()
shm=${BENCH_TMPFS-/dev/shm}
if [ -n "$shm" ] && [ "$(df -T "$shm" 2>/dev/null | awk 'NR==2 {print $2}')" = tmpfs ]; then
    SHM_WORK=$(mktemp -d -p "$shm" isolate.XXXXXX)
    # shellcheck disable=SC2064 # expand both now
    trap "rm -rf '$WORK' '$SHM_WORK'" EXIT
    TMPFS_ARGS=("$SHM_WORK")
fi

echo "plugin: $PLUGIN; scratch directory: $WORK ($(df -T "$WORK" | awk 'NR==2 {print $2}'))"
"$TARGET/release/examples/isolate_bench" "$TARGET/release/stowage" "$WORK/plugins" \
    "$WORK" "${BENCH_BIG_MIB:-1024}" "$URL" "${TMPFS_ARGS[@]}"
