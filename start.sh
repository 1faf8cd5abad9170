#!/bin/sh
# Container start for Open WebUI with invite codes:
#   start.sh [app command ...]
# 1. MIGRATE_CMD, when set (for example "alembic upgrade head"); a failure is a warning.
# 2. The invite code repair (fail-open: the app starts whatever happens).
# 3. exec the app command, so signals reach it; with no command, serve the probe.
# With HEALTH_PORT set and an app command, the probe also runs beside the app.
#
# INVITE_CODE_RUNTIME=deno|node picks the runtime (default: Deno when present,
# else Node). INVITE_CODE_FLAGS adds flags to the repair, e.g. "--batch-size 50000".
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

runtime=${INVITE_CODE_RUNTIME:-}
if [ -z "$runtime" ]; then
  if command -v deno >/dev/null 2>&1; then runtime=deno; else runtime=node; fi
fi
case "$runtime" in
  deno) set -- deno run --allow-env --allow-net --allow-read --allow-write --no-prompt -- "$@" ;;
  node) set -- node -- "$@" ;;
  *)
    echo "ERROR: INVITE_CODE_RUNTIME must be deno or node, got \"$runtime\"" >&2
    exit 2
    ;;
esac
# "$@" is now: runtime words, "--", then the app command. Split them apart.
launcher=""
while [ "$1" != "--" ]; do
  launcher="$launcher $1"
  shift
done
shift
version=$($runtime --version 2>/dev/null | head -n 1 | sed 's/^deno //; s/ .*//')
echo "Using $runtime $version for invite codes"

if [ -n "${MIGRATE_CMD:-}" ]; then
  echo "Running database migrations..."
  if ! sh -c "$MIGRATE_CMD"; then
    echo "WARNING: Database migrations failed (MIGRATE_CMD exited non-zero), continuing"
  fi
fi

echo "Checking for users without invite codes..."
# mod.ts is fail-open by itself; this guard only covers a runtime that cannot start.
# shellcheck disable=SC2086 # $launcher and INVITE_CODE_FLAGS are lists of words
$launcher "$here/mod.ts" ${INVITE_CODE_FLAGS:-} ||
  echo "WARNING: Failed to auto-fix invite codes: the repair exited with status $?"

if [ "$#" -eq 0 ]; then
  # shellcheck disable=SC2086
  exec $launcher "$here/health.ts"
fi
if [ -n "${HEALTH_PORT:-}" ]; then
  # The probe's parent becomes the app (exec keeps this PID); it exits with it.
  # shellcheck disable=SC2086
  HEALTH_EXIT_WITH_PARENT=1 $launcher "$here/health.ts" &
fi
exec "$@"
