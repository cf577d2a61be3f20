#!/usr/bin/env bash
# Make sure the services the portal needs are there and answering, on any Debian machine:
# PostgreSQL and Redis (from DATABASE_URL / REDIS_URL, default the local servers on their standard ports),
# plus, when asked, the Debian packages the tests need (chromium, wrk) and gettext for the translations.
# A local server that is installed but down is started; one that is missing is installed (as root).
set -euo pipefail

want_chromium=0
for arg in "$@"; do
  case "$arg" in
    --chromium) want_chromium=1 ;;
    *) echo "usage: $0 [--chromium]" >&2; exit 2 ;;
  esac
done

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/portal}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "Need root to run: $* (install it yourself, or run make as root)" >&2; return 1
  fi
}
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq >/dev/null; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

url_part() {  # url_part URL host|port
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
print({"host": u.hostname or "127.0.0.1", "port": u.port or (5432 if u.scheme.startswith("postgres") else 6379)}[sys.argv[2]])
PY
}
is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0 ;; *) return 1 ;; esac; }
port_open() { python3 -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('$1', $2)))"; }
wait_port() {  # wait_port host port name
  for _ in $(seq 1 60); do port_open "$1" "$2" && return 0; sleep 0.5; done
  echo "$3 does not answer on $1:$2" >&2; return 1
}

# --- PostgreSQL -------------------------------------------------------------------------------------
pg_host=$(url_part "$DATABASE_URL" host); pg_port=$(url_part "$DATABASE_URL" port)
if ! port_open "$pg_host" "$pg_port"; then
  if ! is_local "$pg_host"; then wait_port "$pg_host" "$pg_port" PostgreSQL; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "Installing PostgreSQL (Debian package)…"
    apt_install postgresql
    # Local development servers trust loopback connections, like the CI machines.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "Starting PostgreSQL $version…"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port "$pg_host" "$pg_port" PostgreSQL
fi

# --- Redis ------------------------------------------------------------------------------------------
redis_host=$(url_part "$REDIS_URL" host); redis_port=$(url_part "$REDIS_URL" port)
if ! port_open "$redis_host" "$redis_port"; then
  if ! is_local "$redis_host"; then wait_port "$redis_host" "$redis_port" Redis; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Installing Redis (Debian package)…"
    apt_install redis-server
  fi
  echo "Starting Redis…"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/portal.log || \
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no
  wait_port "$redis_host" "$redis_port" Redis
fi

# --- Tools ------------------------------------------------------------------------------------------
if ! command -v msgfmt >/dev/null 2>&1; then
  echo "Installing gettext (Debian package)…"
  apt_install gettext
fi
if [ "$want_chromium" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Chromium for the browser tests (Debian package)…"
  apt_install chromium
fi
# wrk drives `make bench`; its end-to-end test runs with it too.
if [ "$want_chromium" = 1 ] && ! command -v wrk >/dev/null 2>&1; then
  echo "Installing wrk for the benchmark harness (Debian package)…"
  apt_install wrk
fi
echo "Services ready: PostgreSQL $pg_host:$pg_port, Redis $redis_host:$redis_port"
