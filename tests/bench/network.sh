#!/usr/bin/env bash
# Network backends against local servers: stowage vs the usual tools.
#
#   tests/bench/network.sh [s3] [sftp] [webdav]      (default: all three)
#
# Starts Garage (single node), OpenSSH's sshd and nginx+dav-ext on loopback
# (the same configurations as tests/src/servers/), then times, once each:
#   S3:     1 x BIG put and get vs `aws s3 cp` and `rclone copy`;
#           500 x 256 KiB put and get vs `rclone copy --transfers 4` and
#           `aws s3 cp --recursive`;
#   SFTP:   1 x 512 MiB put and get vs OpenSSH `sftp -b`; 500 x 256 KiB vs
#           `rclone copy`;
#   WebDAV: the same two shapes vs `rclone copy`.
# Ratios are throughput ratios (their time / our time: > 1 means stowage
# is faster); peak RSS (/usr/bin/time -v) is shown for every stowage run.
# Each figure is the median of BENCH_RUNS runs (default 3; rclone is given
# --ignore-times so that a repeated copy transfers again rather than
# skipping what it finds in place). Not a timed test: numbers depend on
# the machine. Environment: BENCH_RUNS, BENCH_DIR
# (scratch parent, default /var/tmp), BENCH_BIG (S3 big object, default
# 1024 MiB; 4096 gives the 4 GiB memory figure), STOWAGE_GARAGE.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=lib.sh
source "$ROOT/tests/bench/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
WANT=${*:-s3 sftp webdav}
BIG_MIB=${BENCH_BIG:-1024}
RUNS=${BENCH_RUNS:-3}

echo "building release binaries..." >&2
(cd "$ROOT" && cargo build --release --quiet -p stowage-cli -p stowage-s3 -p stowage-sftp -p stowage-webdav)
BIN=$TARGET/release/stowage

WORK=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" network.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
PLUGINS=$WORK/plugins
mkdir -p "$PLUGINS"
cp "$TARGET"/release/libstowage_{s3,sftp,webdav}.so "$PLUGINS/"
export XDG_CACHE_HOME=$WORK/cache
# Plugins from --plugin-dir run isolated by default; an installed plugin
# runs in process. Measure the installed case unless BENCH_ISOLATE says
# otherwise (tests/bench/isolate.sh measures isolation itself).
STOWAGE=("$BIN" --plugin-dir "$PLUGINS" --isolate="${BENCH_ISOLATE:-never}" -q)
"${STOWAGE[@]}" plugins >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 500); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.02
    done
    echo "port $1 never opened" >&2
    return 1
}
# spawn LOG CMD...: starts CMD in its own process group, remembered for cleanup.
spawn() {
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 &
    PIDS+=($!)
}

# ---- data -----------------------------------------------------------------
DATA=$WORK/data
mkdir -p "$DATA/small" "$WORK/out"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$DATA/big"
head -c $((512 << 20)) "$DATA/big" >"$DATA/mid" 2>/dev/null || head -c $((512 << 20)) /dev/urandom >"$DATA/mid"
for i in $(seq -w 1 500); do head -c 262144 /dev/urandom >"$DATA/small/f$i"; done
SMALL=("$DATA"/small/*)

# measure LABEL CMD...: times CMD RUNS times (each after an untimed sync)
# and keeps the median; for stowage runs also the highest peak RSS. Sets
# LAST (seconds, the median).
measure() {
    local label=$1
    shift
    local t0 t1 rss="" kib=0 times=()
    for _ in $(seq 1 "$RUNS"); do
        sync
        t0=$(now_ns)
        if [[ $1 == "$BIN" ]]; then
            /usr/bin/time -v -o "$WORK/time.txt" "$@" >/dev/null
            kib=$(awk -F': ' -v k="$kib" '/Maximum resident set size/ { print ($2 > k ? $2 : k) }' "$WORK/time.txt")
            rss=$(awk -v k="$kib" 'BEGIN { printf "%.1f MiB", k / 1024 }')
        else
            "$@" >/dev/null 2>"$WORK/err.txt" || { cat "$WORK/err.txt" >&2; return 1; }
        fi
        t1=$(now_ns)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
    done
    LAST=$(median "${times[@]}")
    printf '  %-44s %8.3f s  %-9s (runs: %s)\n' "$label" "$LAST" "$rss" "${times[*]}"
}
ratio() { awk -v ours="$1" -v theirs="$2" 'BEGIN { printf "%.2f", theirs / ours }'; }
report() { printf '  => %-42s %s x (target %s)\n' "$1" "$(ratio "$2" "$3")" "$4"; }

# stowage_one URL FILE OUT: times `stowage put` of FILE and `stowage get`
# of it into OUT, and compares the two. Sets OURS_PUT and OURS_GET.
stowage_one() {
    local url=$1 file=$2 out=$3
    measure "stowage put" "${STOWAGE[@]}" put "$url" "$file"; OURS_PUT=$LAST
    measure "stowage get" "${STOWAGE[@]}" get "$url" "${file##*/}" -o "$out"; OURS_GET=$LAST
    cmp "$file" "$out"
}

# stowage_small URL OUT_DIR: times `stowage put` of the SMALL files and
# `stowage get` of them all into OUT_DIR. Sets OURS_PUT and OURS_GET.
stowage_small() {
    local url=$1 out=$2
    measure "stowage put" "${STOWAGE[@]}" put "$url" "${SMALL[@]}"; OURS_PUT=$LAST
    mkdir -p "$out"
    measure "stowage get" "${STOWAGE[@]}" get "$url" "${SMALL[@]##*/}" -o "$out"; OURS_GET=$LAST
}

# versus NAME TARGET PUT_CMD... --then GET_CMD...: times another tool's
# put and get of the same data ("NAME (put)", "NAME (get)") and reports
# both ratios against OURS_PUT and OURS_GET, with the target ratio.
versus() {
    local name=$1 target=$2 put=()
    shift 2
    while [[ $1 != --then ]]; do put+=("$1"); shift; done
    shift
    measure "$name (put)" "${put[@]}"; THEIRS_PUT=$LAST
    measure "$name (get)" "$@"; THEIRS_GET=$LAST
    report "put vs $name" "$OURS_PUT" "$THEIRS_PUT" "$target"
    report "get vs $name" "$OURS_GET" "$THEIRS_GET" "$target"
}

# ---- S3 on Garage -----------------------------------------------------------
bench_s3() {
    local garage=${STOWAGE_GARAGE:-/opt/stowage-ci/garage-2.5.0/bin/garage}
    [[ -x $garage ]] || garage=$(command -v garage) || { echo "SKIPPED s3: no garage" >&2; return; }
    local d=$WORK/garage rpc s3
    rpc=$(free_port) s3=$(free_port)
    mkdir -p "$d/meta" "$d/data"
    cat >"$d/garage.toml" <<EOC
metadata_dir = "$d/meta"
data_dir = "$d/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"
EOC
    local g=("$garage" -c "$d/garage.toml")
    RUST_LOG=garage=warn spawn "$d/log" "${g[@]}" server
    wait_port "$s3"
    until "${g[@]}" status >/dev/null 2>&1; do sleep 0.1; done
    "${g[@]}" layout assign -z dc1 -c 10G "$("${g[@]}" node id -q | cut -d@ -f1)" >/dev/null
    "${g[@]}" layout apply --version 1 >/dev/null
    export AWS_ACCESS_KEY_ID=GK0123456789abcdef01234567
    export AWS_SECRET_ACCESS_KEY=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    export AWS_DEFAULT_REGION=garage
    unset AWS_CA_BUNDLE AWS_PROFILE
    "${g[@]}" key import --yes -n bench "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >/dev/null
    "${g[@]}" bucket create bench >/dev/null
    "${g[@]}" bucket allow --read --write --owner bench --key bench >/dev/null
    local ep=http://127.0.0.1:$s3
    local url="s3://bench/stowage?endpoint=$ep&region=garage&path_style=true"
    local aws=(aws --endpoint-url "$ep" s3)
    export RCLONE_CONFIG_G_TYPE=s3 RCLONE_CONFIG_G_PROVIDER=Other RCLONE_CONFIG_G_ENDPOINT=$ep \
        RCLONE_CONFIG_G_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_G_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
        RCLONE_CONFIG_G_REGION=garage RCLONE_CONFIG_G_FORCE_PATH_STYLE=true

    echo "S3 (Garage), 1 x $BIG_MIB MiB:"
    stowage_one "$url" "$DATA/big" "$WORK/out/big"
    versus "aws s3 cp" 1.5 "${aws[@]}" cp "$DATA/big" s3://bench/aws/big \
        --then "${aws[@]}" cp s3://bench/aws/big "$WORK/out/aws-big"
    versus "rclone copy" 1.0 rclone copy --ignore-times "$DATA/big" g:bench/rclone \
        --then rclone copy --ignore-times g:bench/rclone/big "$WORK/out/rclone"

    echo "S3 (Garage), 500 x 256 KiB:"
    stowage_small "$url" "$WORK/out/s3small"
    versus "aws s3 cp --recursive" 1.5 "${aws[@]}" cp --recursive "$DATA/small" s3://bench/aws/small \
        --then "${aws[@]}" cp --recursive s3://bench/aws/small "$WORK/out/aws-small"
    local ap=$THEIRS_PUT ag=$THEIRS_GET
    versus "rclone copy --transfers 4" 1.0 rclone copy --ignore-times --transfers 4 "$DATA/small" g:bench/rclone/small \
        --then rclone copy --ignore-times --transfers 4 g:bench/rclone/small "$WORK/out/rclone-small"
    local rp=$THEIRS_PUT rg=$THEIRS_GET
    # --jobs puts several objects in flight on the one handle.
    local ip1 ip4 ig4
    measure "stowage put --jobs 1" "${STOWAGE[@]}" put --jobs 1 "$url" "${SMALL[@]}"; ip1=$LAST
    measure "stowage put --jobs 4" "${STOWAGE[@]}" put --jobs 4 "$url" "${SMALL[@]}"; ip4=$LAST
    measure "stowage get --jobs 4" "${STOWAGE[@]}" get --jobs 4 "$url" "${SMALL[@]##*/}" -o "$WORK/out/s3small"; ig4=$LAST
    report "put --jobs 4 vs --jobs 1" "$ip4" "$ip1" "-"
    report "put --jobs 4 vs rclone" "$ip4" "$rp" "1.0"
    report "get --jobs 4 vs rclone" "$ig4" "$rg" "1.0"
    report "put --jobs 4 vs aws" "$ip4" "$ap" "1.5"
    report "get --jobs 4 vs aws" "$ig4" "$ag" "1.5"
}

# ---- SFTP on OpenSSH -----------------------------------------------------------
bench_sftp() {
    local sshd=/usr/sbin/sshd
    [[ -x $sshd ]] || { echo "SKIPPED sftp: no sshd" >&2; return; }
    local d=$WORK/sshd port
    port=$(free_port)
    mkdir -p "$d" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$d/host" && ssh-keygen -q -t ed25519 -N '' -f "$d/client"
    cp "$d/client.pub" "$d/authorized_keys"
    printf '%s\n' "Port $port" "ListenAddress 127.0.0.1" "HostKey $d/host" "PidFile $d/pid" \
        "AuthorizedKeysFile $d/authorized_keys" "StrictModes no" "PasswordAuthentication no" \
        "KbdInteractiveAuthentication no" "UsePAM no" "PermitRootLogin prohibit-password" \
        "Subsystem sftp internal-sftp" >"$d/sshd_config"
    spawn "$d/log" "$sshd" -D -e -f "$d/sshd_config"
    wait_port "$port"
    echo "[127.0.0.1]:$port $(cat "$d/host.pub")" >"$d/known_hosts"
    local user
    user=$(id -un)
    local remote=$WORK/sftp-store
    mkdir -p "$remote"
    local url="sftp://$user@127.0.0.1:$port/$remote?identity=$d/client&known_hosts=$d/known_hosts"
    local ssh_opts=(-o "UserKnownHostsFile=$d/known_hosts" -o IdentitiesOnly=yes -i "$d/client" -P "$port")
    export RCLONE_CONFIG_S_TYPE=sftp RCLONE_CONFIG_S_HOST=127.0.0.1 RCLONE_CONFIG_S_PORT=$port \
        RCLONE_CONFIG_S_USER=$user RCLONE_CONFIG_S_KEY_FILE=$d/client RCLONE_CONFIG_S_KNOWN_HOSTS_FILE=$d/known_hosts

    echo "SFTP (OpenSSH), 1 x 512 MiB:"
    stowage_one "$url" "$DATA/mid" "$WORK/out/mid"
    echo "put $DATA/mid $remote/openssh-mid" >"$d/put.batch"
    echo "get $remote/openssh-mid $WORK/out/openssh-mid" >"$d/get.batch"
    versus "OpenSSH sftp -b" 0.8 sftp "${ssh_opts[@]}" -b "$d/put.batch" "$user@127.0.0.1" \
        --then sftp "${ssh_opts[@]}" -b "$d/get.batch" "$user@127.0.0.1"

    echo "SFTP (OpenSSH), 500 x 256 KiB:"
    stowage_small "$url" "$WORK/out/sftpsmall"
    versus "rclone copy" 1.0 rclone copy --ignore-times "$DATA/small" "s:$remote/rclone" \
        --then rclone copy --ignore-times "s:$remote/rclone" "$WORK/out/rclone-sftp"
}

# ---- WebDAV on nginx -----------------------------------------------------------
bench_webdav() {
    local nginx=/usr/sbin/nginx module=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
    [[ -x $nginx && -f $module ]] || { echo "SKIPPED webdav: no nginx or dav-ext" >&2; return; }
    local d=$WORK/nginx port
    port=$(free_port)
    mkdir -p "$d/root" "$d/tmp"
    echo "bench:{PLAIN}bench-secret" >"$d/htpasswd"
    local user_line=""
    [[ $(id -u) == 0 ]] && user_line="user root;"
    cat >"$d/nginx.conf" <<EOC
load_module $module;
$user_line
daemon off;
worker_processes 2;
pid $d/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $d/tmp;
  server {
    listen 127.0.0.1:$port;
    root $d/root;
    location / {
      auth_basic "bench";
      auth_basic_user_file $d/htpasswd;
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      client_max_body_size 0;
    }
  }
}
EOC
    spawn "$d/log" "$nginx" -p "$d" -c "$d/nginx.conf"
    wait_port "$port"
    export STOWAGE_WEBDAV_USER=bench STOWAGE_WEBDAV_PASSWORD=bench-secret
    local url="webdav://127.0.0.1:$port/stowage"
    export RCLONE_CONFIG_W_TYPE=webdav RCLONE_CONFIG_W_URL=http://127.0.0.1:$port RCLONE_CONFIG_W_USER=bench \
        RCLONE_CONFIG_W_PASS=$(rclone obscure bench-secret)

    echo "WebDAV (nginx), 1 x 512 MiB:"
    stowage_one "$url" "$DATA/mid" "$WORK/out/dav-mid"
    versus "rclone copy" 1.0 rclone copy --ignore-times "$DATA/mid" w:rclone \
        --then rclone copy --ignore-times w:rclone/mid "$WORK/out/rclone-dav"

    echo "WebDAV (nginx), 500 x 256 KiB:"
    stowage_small "$url" "$WORK/out/davsmall"
    versus "rclone copy" 1.0 rclone copy --ignore-times "$DATA/small" w:rclone/small \
        --then rclone copy --ignore-times w:rclone/small "$WORK/out/rclone-dav-small"
}

for what in $WANT; do "bench_$what"; done
