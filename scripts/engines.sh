#!/usr/bin/env bash
# Starts (or checks) the engines the tests need, each on 127.0.0.1 only.
#   scripts/engines.sh [redis] [postgres] [etcd]      (default: all)
#   scripts/engines.sh stop-etcd
# Under CI=true a missing engine is an error naming it; nothing is skipped.
set -uo pipefail

say() { printf 'engines: %s\n' "$*" >&2; }
fail() { say "engine $1: $2"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done; return 1; }

ensure_redis() {
  port_open 6379 && return 0
  command -v redis-server >/dev/null || fail redis "redis-server is not installed (apt-get install -y redis-server)"
  say "starting redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null || fail redis "redis-server did not start"
  wait_port 6379 || fail redis "nothing listens on 127.0.0.1:6379"
}

ensure_postgres() {
  port_open 5432 && return 0
  command -v pg_ctlcluster >/dev/null || fail postgres "PostgreSQL is not installed (apt-get install -y postgresql)"
  say "starting postgresql on 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || fail postgres "pg_ctlcluster start failed"
  wait_port 5432 || fail postgres "nothing listens on 127.0.0.1:5432"
}

ETCD_DIR=${ETCD_DIR:-/tmp/concord-etcd}
ETCD_CLIENT_PORTS=(2379 22379 32379)
ETCD_PEER_PORTS=(2380 22380 32380)

ensure_etcd() {
  if ! command -v etcd >/dev/null; then
    say "installing etcd-server from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server) >/dev/null 2>&1 \
      || fail etcd "apt-get install etcd-server failed"
    # the package may start a system etcd on 2379; ours is the project's own cluster
    pkill -f '^/usr/bin/etcd$' 2>/dev/null || true
    systemctl stop etcd 2>/dev/null || true
  fi
  local cluster="" i
  for i in 0 1 2; do cluster+="m$i=http://127.0.0.1:${ETCD_PEER_PORTS[$i]},"; done
  cluster=${cluster%,}
  for i in 0 1 2; do
    port_open "${ETCD_CLIENT_PORTS[$i]}" && continue
    start_etcd_member "$i" "$cluster"
  done
  for i in 0 1 2; do wait_port "${ETCD_CLIENT_PORTS[$i]}" || fail etcd "member m$i did not listen on 127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"; done
}

# start_etcd_member INDEX [CLUSTER]: one member of the loopback cluster, in the background.
start_etcd_member() {
  local i=$1 cluster=${2:-}
  if [ -z "$cluster" ]; then for j in 0 1 2; do cluster+="m$j=http://127.0.0.1:${ETCD_PEER_PORTS[$j]},"; done; cluster=${cluster%,}; fi
  local state=new
  [ -d "$ETCD_DIR/m$i/member" ] && state=existing
  mkdir -p "$ETCD_DIR"
  say "starting etcd member m$i on 127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
  nohup etcd --name "m$i" --data-dir "$ETCD_DIR/m$i" \
    --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
    --initial-cluster "$cluster" --initial-cluster-state "$state" --initial-cluster-token concord-test \
    --heartbeat-interval 50 --election-timeout 500 --log-level error \
    >"$ETCD_DIR/m$i.log" 2>&1 &
  echo $! >"$ETCD_DIR/m$i.pid"
}

ensure_chrony() {
  command -v chronyd >/dev/null && return 0
  say "installing chrony from Debian (the SNTP tests run their own chronyd on a free loopback port)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chrony) >/dev/null 2>&1 \
    || fail chrony "apt-get install chrony failed"
  # the package may start the system daemon; the tests need none of it
  pkill -x chronyd 2>/dev/null || true
}

case "${1:-all}" in
  stop-etcd)
    for f in "$ETCD_DIR"/m*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; exit 0 ;;
  start-etcd-member) start_etcd_member "$2"; exit 0 ;;
esac

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(redis postgres etcd chrony)
for e in "${wanted[@]}"; do
  case "$e" in
    memory|sqlite) ;;
    redis) ensure_redis ;;
    postgres) ensure_postgres ;;
    etcd) ensure_etcd ;;
    chrony) ensure_chrony ;;
    *) fail "$e" "unknown engine" ;;
  esac
done
