#!/usr/bin/env bash
# Fetches, while the network is there, what the `wharf init` build tests need offline (tests reach
# loopback only; RUN steps reach nothing on the host). Idempotent: each part is skipped when present.
# Into ${WHARF_TEST_STATE:-~/.cache/wharf-test}/offline/:
#   debs/python/   Debian's python3 + pip + venv and the libraries they load: test/helpers/init-bases.ts
#                  unpacks them (dpkg-deb -x) into the look-alike python:3.12-slim
#   wheelhouse/    wheels made from Debian's python3-<name> for each pin in the Python fixture's
#                  requirements.txt (scripts/debian-wheels.py); the look-alike's pip installs from it
#   corepack/      a COREPACK_HOME holding the pnpm the pnpm-workspace fixture's packageManager names
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/../test/fixtures/init
offline=${WHARF_TEST_STATE:-$HOME/.cache/wharf-test}/offline
mkdir -p "$offline"

# Python: the dependency closure of python3, python3-pip, python3-venv and passwd (useradd, as Debian
# images have it), without what only installs or configures packages (dpkg, debconf, perl, …): the
# image gets files, no maintainer scripts run. Fetched again when the closure changes.
if command -v apt-get >/dev/null; then
  mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances python3 python3-pip python3-venv passwd |
    grep -E '^[a-z0-9]' | grep -v ':' |
    grep -vxE 'debconf|cdebconf|dpkg|install-info|tar|perl|perl-base|perl-modules-.*|libperl.*|openssl|ca-certificates|readline-common|mailcap|mime-support|libnewt.*|libslang.*|libtextwrap.*|libdebian-installer.*|gcc-[0-9]+-base' |
    sort -u)
  if [[ "$(cat "$offline/debs/python/.complete" 2> >(grep -v 'unsandboxed' >&2))" != "$(printf '%s\n' "${closure[@]}")" ]]; then
    rm -rf "$offline/debs/python" && mkdir -p "$offline/debs/python"
    (cd "$offline/debs/python" && apt-get download -qq "${closure[@]}" 2> >(grep -v 'unsandboxed' >&2))
    printf '%s\n' "${closure[@]}" >"$offline/debs/python/.complete"
    echo "test-env: fetched ${#closure[@]} Debian packages for the look-alike python image"
  fi
else
  echo "test-env: no apt-get: the wharf init Python build test will say what it misses" >&2
fi

# Wheels for the Python fixture's pins (`name==version`), from Debian's python3-<name>.
if [[ ! -f $offline/wheelhouse/.complete ]] && command -v apt-get >/dev/null && command -v python3 >/dev/null; then
  rm -rf "$offline/wheelhouse" "$offline/debs/wheels" && mkdir -p "$offline/debs/wheels"
  mapfile -t pins < <(grep -oE '^[A-Za-z0-9_.-]+==' "$fixtures/python-app/requirements.txt" | sed 's/==$//')
  (cd "$offline/debs/wheels" && apt-get download -qq "${pins[@]/#/python3-}" 2> >(grep -v 'unsandboxed' >&2))
  python3 "$here/debian-wheels.py" "$offline/wheelhouse" "$offline"/debs/wheels/*.deb >/dev/null
  touch "$offline/wheelhouse/.complete"
  echo "test-env: made wheels for ${pins[*]}"
fi

# pnpm in corepack's cache. The npm registry's signing keys rotate faster than the corepack bundled
# with Node 20 learns them, so key checks are off for this download; the sha512 in packageManager is
# what corepack checks inside the image.
manager=$(sed -nE 's/.*"packageManager": *"(pnpm@[^"+]+).*/\1/p' "$fixtures/pnpm-workspace/package.json")
if [[ -n $manager && ! -d $offline/corepack/v1/pnpm/${manager#pnpm@} ]] && command -v corepack >/dev/null; then
  COREPACK_HOME=$offline/corepack COREPACK_INTEGRITY_KEYS=0 corepack install -g "$manager" >/dev/null
  echo "test-env: fetched $manager into corepack's cache"
fi
