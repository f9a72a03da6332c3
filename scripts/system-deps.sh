#!/bin/sh
# Debian packages the tests need: chromium for the report's browser tests.
# Installs only what is missing; says so and carries on where it cannot install (not root, no apt).
set -u
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install$missing here (needs root and apt-get); the browser tests will say they did not run." >&2
  exit 0
fi
echo "system-deps: installing$missing from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null \
  || echo "system-deps: apt-get could not install$missing; the browser tests will say they did not run." >&2
exit 0
