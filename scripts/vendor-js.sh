#!/usr/bin/env bash
# Browser libraries from the npm registry (package.json / package-lock.json), copied into the
# console's static folder so pages load them from this server, never from a CDN (a centre's network
# may be closed). Without npm the reports page still shows every figure as tables, without charts;
# under CI=true a missing npm is a failure.
set -eu
cd "$(dirname "$0")/.."
dest=agent_console/static/vendor/echarts
if ! command -v npm >/dev/null 2>&1; then
  echo "!! vendor-js: npm not found: the reports' charts (Apache ECharts) are off (tables only)."
  echo "!! Install Node.js/npm (Debian: apt-get install npm) and run make install again."
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p "$dest"
cp node_modules/echarts/dist/echarts.min.js node_modules/echarts/LICENSE "$dest/"
echo "vendor-js: echarts $(node -p 'require("./node_modules/echarts/package.json").version') -> $dest"
