#!/bin/sh
# What the tests need from the system, installed or started only when missing:
#   - Debian's chromium, for the report's browser tests;
#   - a PostgreSQL server on the local socket, for the PostgreSQL store tests.
# Where it cannot help (not root, no apt-get), it says so and carries on: those tests then say
# they did not run (and fail under CI=true, where the machine is expected to provide them).
set -u

can_install() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1; then
  if can_install; then
    echo "system-deps: installing chromium from Debian's packages"
    apt_install chromium || echo "system-deps: apt-get could not install chromium" >&2
  else
    echo "system-deps: chromium is missing and cannot be installed here (needs root and apt-get)" >&2
  fi
fi

pg_up() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h /var/run/postgresql; }
if ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && can_install; then
    echo "system-deps: installing postgresql from Debian's packages"
    apt_install postgresql || echo "system-deps: apt-get could not install postgresql" >&2
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      echo "system-deps: starting PostgreSQL $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
  fi
  pg_up || echo "system-deps: no PostgreSQL server answers on the local socket" >&2
fi
exit 0
