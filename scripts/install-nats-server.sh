#!/usr/bin/env bash
# Installs Debian's nats-server, the peer that `brook bench compare` measures Brook against.
# Does nothing when nats-server is already on PATH (or in /usr/bin, /usr/sbin). Runs
# non-interactively; needs root or passwordless sudo. Exits non-zero with a message when it cannot.
set -euo pipefail

for candidate in "$(command -v nats-server 2>/dev/null || true)" /usr/bin/nats-server /usr/sbin/nats-server; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    exit 0
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-nats-server: need root or passwordless sudo to run: apt-get install -y nats-server" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends nats-server; then
  # A fresh machine may have no package lists yet: fetch them once and try again.
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends nats-server
fi
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/bin/nats-server ] && [ ! -x /usr/sbin/nats-server ]; then
  echo "install-nats-server: apt-get reported success but nats-server is not on PATH" >&2
  exit 1
fi
