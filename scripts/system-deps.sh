#!/usr/bin/env bash
# Debian packages the test suite drives for real: SIPp (sip-tester), Chromium, espeak-ng and sox
# (speech fixtures), baresip (a real softphone), Kamailio (SIP proxy), Kannel and its fakesmsc (SMS). Installed with apt-get when
# we are root (or have sudo); otherwise we say loudly what is missing. Under CI=true missing
# packages are an error.
set -u
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check sipp sip-tester
check chromium chromium
check espeak-ng espeak-ng
check sox sox
check baresip baresip
check kamailio kamailio
[ -x /usr/sbin/bearerbox ] || need+=(kannel)  # SMS gateway: messaging tests send through a real Kannel
[ -x /usr/lib/kannel/test/fakesmsc ] || need+=(kannel-extras)  # Kannel's test SMSC
check redis-server redis-server  # outage tests start, kill and restart a private one
check nginx nginx  # `make up` and its test: the front proxy of the production layout
# Chromium renders Chinese only with a CJK font (screenshots otherwise show boxes)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
fi
if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
  echo "system-deps: installing ${need[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && \
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null && exit 0
fi
echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
echo "!! system-deps: missing Debian packages: ${need[*]}"
echo "!! tests that need them will be SKIPPED. Enable with: sudo apt-get install ${need[*]}"
echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
[ "${CI:-}" = "true" ] && { echo "CI=true: missing packages are a failure"; exit 1; }
exit 0
