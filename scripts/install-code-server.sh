#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3's server and web client; the last release that runs
# on Node 20) into .cache/code-server, offline-safe: its ripgrep download is satisfied from Debian's rg.
# Needs (Debian): chromium libkrb5-dev ripgrep fonts-noto-cjk — see .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/code-server
version=4.100.3
if [ -x "$dest/node_modules/.bin/code-server" ] && grep -q "\"version\": \"$version\"" "$dest/node_modules/code-server/package.json" 2>/dev/null; then
  exit 0
fi
rg_bin=$(command -v rg) || { echo "install-code-server: ripgrep (Debian package ripgrep) is needed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache="$tmp/vscode-ripgrep-cache-1.15.11"
mkdir -p "$cache" "$tmp/pack"
cp "$rg_bin" "$tmp/pack/rg"
tar -czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$tmp/pack" rg
mkdir -p "$dest"
[ -f "$dest/package.json" ] || echo '{"name":"code-server-cache","private":true}' > "$dest/package.json"
TMPDIR="$tmp" npm_config_unsafe_perm=true npm_config_yes=true \
  npm install --prefix "$dest" --no-audit --no-fund --foreground-scripts=false "code-server@$version" >"$tmp/npm.log" 2>&1 || {
  tail -40 "$tmp/npm.log" >&2
  exit 1
}
"$dest/node_modules/.bin/code-server" --version
