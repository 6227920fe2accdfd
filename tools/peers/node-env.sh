#!/usr/bin/env bash
# Installs kafkajs from the npm registry into $KWIRE_PEERS_DIR/node and prints
# that directory (use it as NODE_PATH=<dir>/node_modules, or put scripts in it).
# npm's cache keeps the downloads; re-running with the same package.json only
# checks that node_modules is in place.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

dir="$KWIRE_PEERS_DIR/node"
src="$KWIRE_PEERS_TOOLS/node/package.json"

setup() {
  command -v node >/dev/null || peers_die "node is not installed"
  mkdir -p "$dir"
  if [[ -d "$dir/node_modules/kafkajs" ]] && cmp -s "$src" "$dir/package.json"; then
    return 0
  fi
  cp "$src" "$dir/package.json"
  peers_log "installing kafkajs into $dir"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
  (cd "$dir" && node -e 'require("kafkajs")') || peers_die "kafkajs does not load"
}

peers_locked "$KWIRE_PEERS_DIR/node.lock" setup
echo "$dir"
