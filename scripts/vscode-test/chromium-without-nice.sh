#!/bin/sh
# Chromium for the tests, without the right to raise its threads' priority. Run as root (as CI
# is), Chromium puts its compositor threads at nice -8; on a 2-core machine they then starve the
# extension host under test for 100 ms at a time. A user's editor never runs with that right.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  exec setpriv --bounding-set -sys_nice --inh-caps -sys_nice "${CHROMIUM_PATH:-/usr/bin/chromium}" "$@"
fi
exec "${CHROMIUM_PATH:-/usr/bin/chromium}" "$@"
