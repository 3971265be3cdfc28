#!/usr/bin/env bash
# Build the local base image (riskops-base:bookworm) from Debian's packages, for a Docker that cannot pull
# python:3.11-slim-bookworm: debootstrap a minimal bookworm, `docker import` it, add Python 3.11 and this
# machine's CA bundle (docker/base/Dockerfile). Skipped when an image built from the same inputs exists
# (its label riskops.base.inputs), so CI builds it once per machine. Prints the image name.
#   usage: docker/base/build.sh [IMAGE]     (default riskops-base:bookworm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
image="${1:-riskops-base:bookworm}"
debian="riskops-debian:bookworm"
suite=bookworm
# The CA bundle this machine's pip trusts (its proxy's CA included), copied into the base for pip and uv.
ca="${RISKOPS_HOST_CA:-${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}}"
[ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
# The Debian mirror apt uses on this machine (deb822 or one-line sources), else Debian's CDN.
mirror="$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null \
          | grep -oE 'https?://[^ ]+' | head -n1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"

inputs="$( { cat "$here/build.sh" "$here/Dockerfile" "$ca"; echo "$suite $mirror"; } | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{ index .Config.Labels "riskops.base.inputs" }}' "$image" 2>/dev/null)" = "$inputs" ]; then
  echo "$image (cached, inputs $inputs)" >&2
  echo "$image"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "debootstrap $suite from $mirror ..." >&2
debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# Slim as Debian's own -slim images: the downloaded .debs, apt's caches, documentation, manuals and
# translations out of the layer, and dpkg told to leave them out of every later install too.
rootfs="$work/rootfs"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/riskops-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
printf 'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' > "$rootfs/etc/apt/apt.conf.d/riskops-no-cache"
tar -C "$work/rootfs" -c . | docker import -c "LABEL riskops.base.inputs=$inputs" - "$debian" >/dev/null
mkdir "$work/context"
cp "$ca" "$work/context/host-ca.crt"
cp "$here/Dockerfile" "$work/context/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q --build-arg "DEBIAN=$debian" --label "riskops.base.inputs=$inputs" \
  -t "$image" "$work/context" >/dev/null
echo "$image"
