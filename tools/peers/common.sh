# Sourced by the peer scripts: locations and small helpers shared by all of them.
# Downloads are cached where each tool keeps them (~/.m2, pip's and npm's
# caches, the Go module cache); what the scripts make lives under
# $KWIRE_PEERS_DIR (default: build/peers in the source tree).

KWIRE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KWIRE_PEERS_TOOLS="$KWIRE_ROOT/tools/peers"
KWIRE_PEERS_DIR="${KWIRE_PEERS_DIR:-$KWIRE_ROOT/build/peers}"

peers_log() { echo "peers: $*" >&2; }
peers_die() { echo "peers: error: $*" >&2; exit 1; }

# The Java that runs Kafka 4.4 (its tools and server are Java 17 class files):
# $KWIRE_JAVA, else $JAVA_HOME/bin/java, else java on the PATH.
peers_java() {
  local java
  if [[ -n "${KWIRE_JAVA:-}" ]]; then
    java="$KWIRE_JAVA"
  elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    java="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    java="$(command -v java)"
  else
    peers_die "no java found (set JAVA_HOME or KWIRE_JAVA)"
  fi
  local major
  major="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  if [[ -z "$major" || "${major%%.*}" -lt 17 ]]; then
    peers_die "$java is Java ${major:-?}; Kafka 4.4 needs 17 or newer (set JAVA_HOME or KWIRE_JAVA)"
  fi
  echo "$java"
}

# Runs "$@" with an exclusive lock on $1 so that concurrent callers (parallel
# ctest runs) do not race on the same cache. Usage: peers_locked LOCKFILE cmd...
peers_locked() {
  local lock="$1"; shift
  mkdir -p "$(dirname "$lock")"
  (
    flock 9
    "$@"
  ) 9>"$lock"
}
