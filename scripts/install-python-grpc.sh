#!/usr/bin/env bash
# Installs Python's gRPC runtime and code generator (grpcio, grpcio-tools) from Debian packages,
# for the Python interoperability test. Does nothing when /usr/bin/python3 can already import
# them. Runs non-interactively; needs root (CI runs as root) or passwordless sudo.
set -euo pipefail

if /usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-python-grpc: need root or passwordless sudo to apt-get install python3-grpcio python3-grpc-tools" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends python3-grpcio python3-grpc-tools
/usr/bin/python3 -c 'import grpc, grpc_tools'
