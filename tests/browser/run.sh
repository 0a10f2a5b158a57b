#!/usr/bin/env bash
# The dashboard in a real browser (issue 25, SPEC D1-D7): tests/browser/dashboard.mjs drives
# Debian's Chromium with npm's playwright-core (which never downloads a browser of its own)
# against target/release/onebot-host serving the example plugins. Screenshots go to
# target/browser/. Exits non-zero when a check fails.
#
#   tests/browser/run.sh            # after `plugins/build && cargo test --release`
#
# Installs, once: Debian's `chromium` (apt-get, as root) when /usr/bin/chromium is missing, and
# playwright-core at the version package-lock.json pins into tests/browser/node_modules.
# ONEBOT_HOST_BIN and CHROMIUM override the host binary and the browser.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bin=${ONEBOT_HOST_BIN:-$root/target/release/onebot-host}
export ONEBOT_HOST_BIN=$bin
# playwright-core has no browser download step; this makes sure nothing else tries one.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [ ! -x "$bin" ] || [ ! -f plugins/mock-account.wasm ]; then
    echo "== building the host and the example plugin"
    timeout 1800 cargo build --release
fi

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "== installing Debian's chromium"
    [ "$(id -u)" = 0 ] || { echo "chromium is missing: apt-get install chromium (as root)" >&2; exit 1; }
    timeout 600 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium >/dev/null
fi

command -v node >/dev/null || { echo "node is missing (apt-get install nodejs npm)" >&2; exit 1; }
# npm ci when node_modules lacks the version package-lock.json pins.
pinned() { node -p "require('./tests/browser/$1').packages?.['node_modules/playwright-core']?.version ?? require('./tests/browser/$1').version" 2>/dev/null || true; }
if [ "$(pinned package-lock.json)" != "$(pinned node_modules/playwright-core/package.json)" ]; then
    echo "== playwright-core (npm ci)"
    (cd tests/browser && timeout 300 npm ci --no-audit --no-fund --silent)
fi

echo "== dashboard checks in $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -n1)"
timeout 300 node tests/browser/dashboard.mjs
