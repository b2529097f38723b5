#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (idempotent). It starts no services: the vitest global
# setup (test/helpers/global-setup.ts) starts the mirror registry and dockerd, so `vitest run` alone works.
#   docker.io        dockerd + BuildKit, driven via /usr/bin/docker
#   docker-registry  CNCF distribution registry (the mirror on 127.0.0.1:5151 and per-test registries)
#   skopeo umoci     independent readers of registries and OCI layouts
#   runc             OCI runtime (direct backend RUN steps)
#   busybox-static   /bin/busybox, the base of the look-alike base images
#   openssl          self-signed CA for TLS registry tests; signing keys and the independent DSSE check
#   uidmap           newuidmap/newgidmap: rootless builds with subordinate ids (test/e2e/rootless.test.ts)
#   time             GNU time: peak RSS of the CLI (test/security/hostile-registry.test.ts)
#   slirp4netns      the network namespace of each RUN step (runtime/network.ts)
#   gcc libc6-dev    a static packet sniffer the sandbox test runs inside a step (test/security/)
#   golang-go        the Go toolchain in the look-alike golang image (test/helpers/go-image.ts, wharf init)
#   qemu-user-static binfmt-support  QEMU emulation (binfmt_misc entries with the F flag) for RUN in
#                    foreign-platform builds; test/helpers/binfmt.ts mounts binfmt_misc and enables them
set -euo pipefail

# Rootless RUN steps open /dev/net/tun (slirp4netns): udev makes it 0666 on a standard system, a
# machine without udev leaves it 0600.
if [[ $(id -u) -eq 0 && -c /dev/net/tun ]]; then chmod 0666 /dev/net/tun; fi

packages=(docker.io docker-registry skopeo umoci runc busybox-static openssl uidmap time slirp4netns gcc libc6-dev zstd
  qemu-user-static binfmt-support golang-go)
# python3: runs scripts/debian-wheels.py (the offline wheelhouse of scripts/test-env-offline.sh)
packages+=(python3)

# busybox-static:arm64 (the arm64 half of busybox:multi, test/helpers/base-images.ts, fetched with
# `apt-get download`) needs arm64 among dpkg's architectures.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "test-env: as root: dpkg --add-architecture arm64 && apt-get update" >&2
    exit 1
  fi
  dpkg --add-architecture arm64
  apt-get update -qq
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "test-env: Debian packages present (${packages[*]})"
  bash "$(dirname "$0")/test-env-offline.sh"
  exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "test-env: missing Debian packages: ${missing[*]}" >&2
  echo "test-env: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "test-env: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "test-env: installed ${missing[*]}"

# What the wharf init build tests need offline (Debian's python3 .debs, wheels, pnpm): fetched now, while
# the network is there.
bash "$(dirname "$0")/test-env-offline.sh"
