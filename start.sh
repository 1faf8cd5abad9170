#!/bin/sh
# Container start for Open WebUI with invite codes:
#   start.sh [app command ...]
# 1. MIGRATE_CMD, when set (for example "alembic upgrade head"); a failure is a warning.
# 2. The invite code repair (fail-open: the app starts whatever happens).
# 3. exec the app command, so signals reach it; with no command, serve the probe.
# The probe (with no app command, or with HEALTH_PORT set beside the app, where
# it also repairs every REPAIR_INTERVAL seconds when that is set) starts before
# step 1, so /livez answers from the first second however long 1 and 2 take.
#
# SIGTERM and SIGINT during steps 1 and 2 go to the migration or the repair,
# and start.sh exits once it has ended: a container stopped mid-start stops
# at once, and an interrupted repair rolls back. A bad setting of the tool's
# own is one WARNING line, never a reason for the app not to start.
#
# INVITE_CODE_RUNTIME=deno|node picks the runtime (default: Deno when a
# capable one is present, else Node). Running needs Node >= 22.18 or
# Deno >= 2.2. INVITE_CODE_FLAGS adds flags to the repair, e.g. "--batch-size 50000".
set -u
# INVITE_CODE_FLAGS and $launcher are split into words on purpose; never
# expanded as file name patterns ("--timeout *" must stay as written).
set -f

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
# The contract's WARNING prefix (src/messages.ts); test/start_test.ts checks it matches.
warning="WARNING: Failed to auto-fix invite codes:"
# The Deno permissions (src/runtime.ts DENO_PERMISSIONS); test/start_test.ts checks they match.
deno_permissions="--allow-env --allow-net --allow-read --allow-write"
# An encrypted SQLite file (Open WebUI's sqlite+sqlcipher) is opened by a
# native library, which Deno loads only with --allow-ffi: given only then
# (src/runtime.ts CIPHER_PERMISSION, denoPermissionsFor), as Open WebUI picks
# the database: a set DATABASE_URL wins, else DATABASE_TYPE.
cipher_permission="--allow-ffi"
case "${DATABASE_URL:-}" in
  sqlite+sqlcipher://*) deno_permissions="$deno_permissions $cipher_permission" ;;
  "") if [ "${DATABASE_TYPE:-}" = "sqlite+sqlcipher" ]; then
    deno_permissions="$deno_permissions $cipher_permission"
  fi ;;
esac

# version_at_least VERSION MAJOR MINOR: whether VERSION (1.2.3, v1.2.3) >= MAJOR.MINOR.
version_at_least() {
  v=${1#v}
  major=${v%%.*}
  rest=${v#*.}
  minor=${rest%%.*}
  case "$major$minor" in *[!0-9]* | "") return 1 ;; esac
  [ "$major" -gt "$2" ] || { [ "$major" -eq "$2" ] && [ "$minor" -ge "$3" ]; }
}

capable() {
  case "$1" in
    deno) command -v deno >/dev/null 2>&1 &&
      version_at_least "$(deno --version 2>/dev/null | sed -n '1s/^deno \([0-9.]*\).*/\1/p')" 2 2 ;;
    node) command -v node >/dev/null 2>&1 &&
      version_at_least "$(node --version 2>/dev/null)" 22 18 ;;
    *) return 1 ;;
  esac
}

# "Node" and " deno " mean what they say; anything else is a WARNING, and the
# runtime is picked as if it were unset: a setting of this tool's own never
# keeps the app from starting.
runtime=$(printf '%s' "${INVITE_CODE_RUNTIME:-}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')
case "$runtime" in
  "" | deno | node) ;;
  *)
    echo "WARNING: INVITE_CODE_RUNTIME must be deno or node, got \"$INVITE_CODE_RUNTIME\": ignored, picking one as if unset"
    runtime=""
    ;;
esac
case "$runtime" in
  "") if capable deno; then runtime=deno; elif capable node; then runtime=node; fi ;;
  *) capable "$runtime" || runtime="" ;;
esac
if [ -n "$runtime" ]; then
  echo "Using $runtime $("$runtime" --version 2>/dev/null | head -n 1 | sed 's/^deno //; s/ .*//') for invite codes"
fi
found=""
for candidate in node deno; do
  if command -v "$candidate" >/dev/null 2>&1; then
    found="$found $candidate $("$candidate" --version 2>/dev/null | head -n 1)"
  fi
done

# The command that runs a .ts file of the tool, or "" with no capable runtime.
launcher=""
case "$runtime" in
  deno) launcher="deno run $deno_permissions --no-prompt" ;;
  node)
    launcher="node"
    # Node's compile cache keeps the stripped TypeScript: a start with a
    # warm cache skips ~150 ms and ~35 MB. Images bake one in
    # (NODE_COMPILE_CACHE); elsewhere a writable temporary folder serves.
    # Exported, not put in $launcher, which is split into words: a path
    # with a space in it must stay one path.
    cache=${NODE_COMPILE_CACHE:-${TMPDIR:-/tmp}/invite-code-repair-node-cache}
    if mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] || [ -r "$cache" ]; then
      export NODE_COMPILE_CACHE="$cache"
    else
      unset NODE_COMPILE_CACHE
    fi
    ;;
esac

# From here until the last step has ended, SIGTERM and SIGINT are caught: they
# go to the running step (the migration or the repair) and to the probe, and
# start.sh stops once the step has ended. Caught before any step starts, so
# none slips through.
signalled=""
child=""
probe=""
# setsid gives each step a process group of its own, so a signal reaches all
# it started (the children of a shell MIGRATE_CMD too), not just its shell.
if command -v setsid >/dev/null 2>&1; then own_group="setsid -w"; else own_group=""; fi
signal_child() {
  # Until the child has made its group it may not have exec'd yet: it still
  # has this shell's trap handler, which takes the signal and drops it (dash
  # does, every time, right after the fork), and the step then runs to its end.
  # So wait for the group first (at most about 5 s), then signal it.
  tries=0
  while [ -n "$own_group" ] && [ "$tries" -lt 100 ] &&
    ! kill -0 -"$child" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
    sleep 0.05 2>/dev/null || sleep 1
    tries=$((tries + 1))
  done
  kill -"$1" -"$child" 2>/dev/null || kill -"$1" "$child" 2>/dev/null
}
on_signal() {
  signalled=$1
  # SIGTERM either way: a job this shell started in the background ignores
  # SIGINT from birth (POSIX, for a shell without job control), and so does
  # every program it runs (sleep, alembic, Deno), which would then run its
  # step to the end. start.sh still exits as SIGINT asks (130).
  if [ -n "$child" ]; then signal_child TERM; fi
  if [ -n "$probe" ]; then kill -TERM "$probe" 2>/dev/null; fi
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

# forward COMMAND...: run it as a child that receives the signals start.sh
# catches, and wait until it has ended. Returns its status.
forward() {
  # shellcheck disable=SC2086 # $own_group is a command and its flag
  $own_group "$@" &
  child=$!
  # A signal that came while the child was starting.
  if [ -n "$signalled" ]; then signal_child TERM; fi
  status=0
  wait "$child" || status=$?
  # A caught signal ends `wait` early: wait again until the child has ended.
  while kill -0 "$child" 2>/dev/null; do
    wait "$child" || status=$?
  done
  child=""
  return "$status"
}

stop_if_signalled() {
  if [ -n "$signalled" ]; then
    echo "Stopping on SIG$signalled"
    # Signalled again: the first signal may have come before the probe started.
    if [ -n "$probe" ]; then kill -TERM "$probe" 2>/dev/null && wait "$probe" 2>/dev/null; fi
    [ "$signalled" = TERM ] && exit 143
    exit 130
  fi
}

# The probe first, so that it listens while the migration and the repair
# run: /livez answers at once, readiness says "starting" until it knows.
# Beside an app, its parent becomes the app (exec keeps this PID) and it
# exits with it; with no app command, start.sh waits for it at the end.
# Beside an app, a probe that cannot start (a bad HEALTH_PORT, a port in use)
# says so in one WARNING line (HEALTH_BESIDE_APP) and the app starts anyway.
if [ -n "$launcher" ] && [ "$#" -eq 0 ]; then
  # shellcheck disable=SC2086 # $launcher is a command and its flags
  HEALTH_EXIT_WITH_PARENT=1 $launcher "$here/health.ts" &
  probe=$!
elif [ -n "$launcher" ] && [ -n "${HEALTH_PORT:-}" ]; then
  # shellcheck disable=SC2086
  HEALTH_EXIT_WITH_PARENT=1 HEALTH_BESIDE_APP=1 $launcher "$here/health.ts" &
  probe=$!
fi

if [ -n "${MIGRATE_CMD:-}" ]; then
  echo "Running database migrations..."
  if ! forward sh -c "$MIGRATE_CMD"; then
    stop_if_signalled
    echo "WARNING: Database migrations failed (MIGRATE_CMD exited non-zero), continuing"
  fi
fi

echo "Checking for users without invite codes..."
if [ -z "$runtime" ]; then
  echo "$warning no capable runtime: needs Node >= 22.18 or Deno >= 2.2 (found:${found:- none})"
else
  # mod.ts is fail-open by itself; this guard only covers a runtime that cannot start.
  # A bad flag in INVITE_CODE_FLAGS is then the repair's one WARNING line, exit 0
  # (FLAGS_FROM_START_SH in src/cli.ts); the app never inherits the variable.
  export INVITE_CODE_FLAGS_FROM_START_SH=1
  # shellcheck disable=SC2086 # $launcher and INVITE_CODE_FLAGS are lists of words
  forward $launcher "$here/mod.ts" ${INVITE_CODE_FLAGS:-} ||
    { stop_if_signalled; echo "$warning the repair exited with status $status"; }
  unset INVITE_CODE_FLAGS_FROM_START_SH
fi
stop_if_signalled

if [ "$#" -eq 0 ]; then
  if [ -z "$probe" ]; then
    echo "ERROR: cannot serve the probe without Node >= 22.18 or Deno >= 2.2" >&2
    exit 1
  fi
  # Serve until the probe ends: a signal from here on reaches it (on_signal),
  # and start.sh exits as it does.
  status=0
  wait "$probe" || status=$?
  while kill -0 "$probe" 2>/dev/null; do
    wait "$probe" || status=$?
  done
  exit "$status"
fi
# No step is left to pass a signal to: from here one ends start.sh as usual,
# rather than being caught and then forgotten by the exec below.
trap - TERM INT
exec "$@"
