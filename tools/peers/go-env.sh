#!/usr/bin/env bash
# A Go module for kwire's franz-go interop programs, with franz-go (kgo, kadm,
# kmsg) from the Go module proxy. The module's go.mod/go.sum are kept in
# tools/peers/go; the working copy is $KWIRE_PEERS_DIR/go (downloads go to
# the Go module cache).
#
#   tools/peers/go-env.sh                      # prints the module directory
#   tools/peers/go-env.sh build SRC OUT        # builds a program: SRC is a
#                                              # main package directory or .go file
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

dir="$KWIRE_PEERS_DIR/go"
src="$KWIRE_PEERS_TOOLS/go"

setup() {
  command -v go >/dev/null || peers_die "go is not installed"
  mkdir -p "$dir"
  if cmp -s "$src/go.mod" "$dir/go.mod" && cmp -s "$src/go.sum" "$dir/go.sum" &&
     cmp -s "$src/check/main.go" "$dir/check/main.go" && [[ -x "$dir/bin/check" ]]; then
    return 0
  fi
  cp "$src/go.mod" "$src/go.sum" "$dir/"
  rm -rf "$dir/check" && cp -r "$src/check" "$dir/check"
  peers_log "downloading franz-go into the Go module cache"
  (cd "$dir" && go mod download >&2 && go build -o bin/check ./check >&2)
  "$dir/bin/check" >/dev/null || peers_die "the franz-go check program failed"
}

peers_locked "$KWIRE_PEERS_DIR/go.lock" setup

case "${1:-}" in
  "")
    echo "$dir" ;;
  build)
    [[ $# -eq 3 ]] || peers_die "usage: $0 build SRC OUT"
    in="$(realpath "$2")" out="$(realpath -m "$3")"
    name="$(basename "${in%.go}")"
    # A directory of its own per build: tests running at once may build the
    # same program.
    mkdir -p "$dir/src"
    work="$(mktemp -d "$dir/src/${name}_XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    if [[ -d "$in" ]]; then cp "$in"/*.go "$work/"; else cp "$in" "$work/"; fi
    (cd "$dir" && go build -o "$out" "./src/$(basename "$work")")
    ;;
  *)
    peers_die "usage: $0 [build SRC OUT]" ;;
esac
