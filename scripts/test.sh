#!/usr/bin/env bash
# `npm test`: every test. Installs what the VS Code tests need when it can (Debian packages as root,
# code-server into .cache), then: build, type check, unit tests, integration tests in a real VS Code
# extension host, the end-to-end UI test — and the unit tests' summary last.
set -euo pipefail
cd "$(dirname "$0")/.."
# Corpora the tests prepare go to a cache of their own, not the user's (~/.cache/corpus-lab).
export CORPUS_LAB_CACHE="${CORPUS_LAB_CACHE:-$(mktemp -d -t corpus-lab-test-cache.XXXXXX)}"

need=()
for pkg in chromium ripgrep fonts-noto-cjk libkrb5-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages for the VS Code tests: ${need[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  else
    echo "the VS Code tests need these Debian packages: ${need[*]} (sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
bash scripts/install-code-server.sh >/dev/null

npm run --silent build
npm run --silent typecheck
npm run --silent lint
node scripts/build-tests.mjs
node test/integration/run.mjs
node scripts/package.mjs  # corpus-lab.vsix (universal) and corpus-lab-linux-x64.vsix (native addon inside)
node --test --test-concurrency=1 --test-reporter=spec test/e2e/  # one session at a time, each is code-server + Chromium
node --test --test-reporter=spec out/test/unit/
