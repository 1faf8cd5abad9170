#!/usr/bin/env bash
# Install the Debian packages named as arguments that are not installed yet
# (needs root and the Debian registry). Used by .ci/run for the test suite's
# tools and by `npm run bench` for the original's Python and wrk.
set -euo pipefail
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) != 0 ]]; then
  echo "ERROR: missing Debian packages, and not root to install them: ${missing[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
