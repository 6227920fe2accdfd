# Shared by the Pulsar tests that need a standalone of their own (other
# settings than the ctest fixture's, or one a test may leave unable to write):
#
#   source own_standalone.sh PORT_VAR_PREFIX PULSAR_PORT HTTP_PORT BOOKIE_PORT
#
# sets here, root, work (a temporary directory), url and web; exports the
# standalone's ports (overridable as ${PREFIX}_PULSAR_PORT, ..._HTTP_PORT,
# ..._BOOKIE_PORT); `pid` (a kwire-broker the test starts) is stopped, then
# the standalone in $work/pulsar, and $work removed (kept with
# E2E_KEEP_WORK=1) when the test exits; fail MESSAGE shows the broker's log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
work="$(mktemp -d)"
own_prefix="$1"
own_port_var="${own_prefix}_PULSAR_PORT" own_http_var="${own_prefix}_PULSAR_HTTP_PORT"
own_bookie_var="${own_prefix}_PULSAR_BOOKIE_PORT"
export PULSAR_PORT="${!own_port_var:-$2}" PULSAR_HTTP_PORT="${!own_http_var:-$3}"
export PULSAR_BOOKIE_PORT="${!own_bookie_var:-$4}" PULSAR_WIPE=1
url="pulsar://127.0.0.1:$PULSAR_PORT"
web="http://127.0.0.1:$PULSAR_HTTP_PORT"
pid=""
cleanup() {
  [[ -n "$pid" ]] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  "$root/tools/pulsar/pulsar-standalone.sh" stop "$work/pulsar" >/dev/null 2>&1 || true
  [[ -n "${E2E_KEEP_WORK:-}" ]] && echo "work dir kept: $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$work/broker.log" >&2 || true; exit 1; }
mkdir -p "$work/pulsar"
