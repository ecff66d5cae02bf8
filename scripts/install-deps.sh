#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages. Idempotent: when all
# packages are present it only checks and returns. Works as root; uses sudo otherwise.
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake ninja-build ccache pkg-config
  libcpprest-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libssh-dev
  prometheus-cpp-dev libboost-log-dev libboost-program-options-dev libboost-system-dev
  libboost-thread-dev libgtest-dev libgmock-dev
  # real tools the tests run against
  openssh-server openssh-client prometheus cloud-init docker-compose python3-kubernetes
  golang-go golang-github-masterminds-sprig-dev curl ca-certificates openssl procps
  # instance tests: the cloud-init scripts run in network namespaces
  iptables iproute2 python3-yaml
)

# node and npm (schema validation of the chart) come with the machine image's nodejs; install
# Debian's when they are absent.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# kubectl 1.32 is part of the machine image; Debian 12's kubernetes-client (1.20) is too old
# for server-side apply and `kubectl wait --for=condition`, so it is not a substitute.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "install-deps: kubectl (1.28 or newer) is required and not on PATH" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# --no-install-recommends keeps prometheus and cloud-init from pulling in services we never start.
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
