#!/bin/sh
# Installs the NVIDIA driver and the NVIDIA Container Toolkit and registers the nvidia runtime
# with Docker, following NVIDIA's documented apt installation. Idempotent.
set -eu
export DEBIAN_FRONTEND=noninteractive
if ! command -v nvidia-smi >/dev/null 2>&1; then
  apt-get install -y ubuntu-drivers-common
  ubuntu-drivers install --gpgpu
fi
if ! command -v nvidia-ctk >/dev/null 2>&1; then
  keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
  # NVIDIA's instructions pipe curl into gpg and sed; a pipeline's status is its last command's,
  # so a failed download went unnoticed there (and left an empty source list). Files instead.
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  curl -fsSL -o "$download/gpgkey" https://nvidia.github.io/libnvidia-container/gpgkey
  gpg --batch --yes --dearmor -o "$keyring" < "$download/gpgkey"
  curl -fsSL -o "$download/list" \
    https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list
  sed "s#deb https://#deb [signed-by=$keyring] https://#g" "$download/list" \
    > /etc/apt/sources.list.d/nvidia-container-toolkit.list
  apt-get update
  apt-get install -y nvidia-container-toolkit
fi
# `nvidia-ctk runtime configure` registers the runtime in Docker's daemon.json; once it is there
# (a second run, or an image prepared with everything), Docker need not be restarted: on such an
# image this script only checks the GPU.
if ! grep -qs '"nvidia"' /etc/docker/daemon.json; then
  nvidia-ctk runtime configure --runtime=docker
  systemctl restart docker
fi
modprobe nvidia || true
nvidia-smi
