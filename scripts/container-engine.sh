#!/usr/bin/env bash
# A Docker engine for the pilot on a machine that has none running (no systemd, no
# registry): Debian's docker.io started by hand, and a `debian:12` base image made with
# debootstrap from the machine's own apt mirror. Prints `export DOCKER_HOST=...`.
#   eval "$(bash scripts/container-engine.sh)"     start (or reuse) the engine
#   bash scripts/container-engine.sh stop          stop the engine this script started
# An engine that already answers (DOCKER_HOST, or the default socket) is used as it is.
set -euo pipefail
DIR=${FB_ENGINE_DIR:-/var/tmp/fedbroker-engine}

if [ "${1:-}" = stop ]; then
  [ -f "$DIR/pid" ] && kill "$(cat "$DIR/pid")" 2>/dev/null
  exit 0
fi

install=()
command -v dockerd >/dev/null || install+=(docker.io)
command -v docker-compose >/dev/null || install+=(docker-compose)
command -v debootstrap >/dev/null || install+=(debootstrap)
if [ ${#install[@]} -gt 0 ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${install[@]}" >/dev/null
fi

if docker version >/dev/null 2>&1; then
  export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
else
  export DOCKER_HOST=unix://$DIR/docker.sock
  mkdir -p "$DIR"
  if ! docker version >/dev/null 2>&1; then
    dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$DIR/pid" \
      -H "$DOCKER_HOST" >"$DIR/dockerd.log" 2>&1 &
    for _ in $(seq 1 120); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
    docker version >/dev/null 2>&1 || { echo "dockerd did not start: $DIR/dockerd.log" >&2; exit 1; }
  fi
fi
echo "export DOCKER_HOST=$DOCKER_HOST"

# The base image, when no registry can provide one: minbase bookworm from the first
# Debian mirror of the machine's apt sources, slimmed like Debian's -slim images.
if ! docker image inspect debian:12 >/dev/null 2>&1; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '^(deb|URIs:) +[^ ]+' | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)
  [ -n "$mirror" ] || { echo "no Debian mirror in the apt sources" >&2; exit 1; }
  root=$DIR/rootfs
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$DIR/debootstrap.log" 2>&1 ||
    { echo "debootstrap failed: $DIR/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' >"$root/etc/dpkg/dpkg.cfg.d/slim"
  tar -C "$root" -c . | docker import - debian:12 >/dev/null
  rm -rf "$root"
fi
docker image inspect debian:12-slim >/dev/null 2>&1 || docker tag debian:12 debian:12-slim
