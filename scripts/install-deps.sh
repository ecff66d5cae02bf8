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
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

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
