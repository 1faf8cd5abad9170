#!/usr/bin/env bash
# podman for the container tests, without any image registry (none is
# reachable here; Debian's mirror and the npm registry are). Adapted from
# ../shared/recipes/podman.sh, which explains each setting:
#   scripts/podman.sh up                 podman, runc, mmdebstrap + settings
#   scripts/podman.sh node-base TAG      Debian bookworm + the project's Node, user node (1000)
#   scripts/podman.sh openwebui-base TAG Debian bookworm + python3, alembic, SQLAlchemy, psycopg2
#   scripts/podman.sh run ARGS...        podman with this machine's settings
set -euo pipefail

P() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }

up() {
  "$(dirname "$0")/debian.sh" podman runc mmdebstrap
  mkdir -p /etc/containers
  [[ -f /etc/containers/containers.conf ]] ||
    printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n' \
      "$(ulimit -Hn)" "$(ulimit -Hn)" > /etc/containers/containers.conf
}

# rootfs EXTRA_PACKAGES: a cached Debian bookworm minbase tarball.
rootfs() {
  local extra=$1
  local tar=/tmp/invite-code-bookworm${extra:+-$(echo "$extra" | md5sum | cut -c1-8)}.tar
  if [[ ! -s $tar ]]; then
    # mmdebstrap picks the format from the name: keep ".tar" on the partial file.
    mmdebstrap --variant=minbase --include="ca-certificates${extra:+,$extra}" bookworm "${tar%.tar}.part.tar" >/dev/null 2>&1
    mv "${tar%.tar}.part.tar" "$tar"
  fi
  echo "$tar"
}

# base TAG WITH_NODE EXTRA_PACKAGES
base() {
  local tag=$1 with_node=$2 extra=${3:-} dir tar
  [[ $tag == */* ]] || tag=docker.io/library/$tag
  P image exists "$tag" && return 0
  tar=$(rootfs "$extra")
  dir=$(mktemp -d)
  cp "$tar" "$dir/rootfs.tar"
  {
    echo "FROM scratch"
    echo "ADD rootfs.tar /"
  } > "$dir/Containerfile"
  if [[ $with_node == yes ]]; then
    cp "$(command -v node)" "$dir/node"
    cp -r "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$dir/npm"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/ca.crt"
    cat >> "$dir/Containerfile" <<'EOC'
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca.crt /etc/ssl/certs/ca-certificates.crt
# This machine reaches the npm registry only through its own CA bundle.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && groupadd -g 1000 node && useradd -u 1000 -g node -s /bin/sh -m node
CMD ["node"]
EOC
  fi
  P build --isolation=chroot --network=host -t "$tag" -f "$dir/Containerfile" "$dir" >/dev/null
  rm -rf "$dir"
}

case "${1:-}" in
  up) up ;;
  node-base) base "$2" yes ;;
  openwebui-base) base "$2" no "python3,alembic,python3-alembic,python3-sqlalchemy,python3-psycopg2" ;;
  run) shift; P "$@" ;;
  *) echo "usage: scripts/podman.sh up | node-base TAG | openwebui-base TAG | run ARGS..." >&2; exit 2 ;;
esac
