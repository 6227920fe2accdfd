# Shell helpers for scripts that start servers on loopback (tests, bench).
#
#   free_port                  a loopback port nobody listens on now
#   wait_listening PORT [PID] [SECONDS]
#                              0 once 127.0.0.1:PORT accepts a connection;
#                              1 if PID exits first or SECONDS (10) pass

free_port() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/free_port.py"
}

wait_listening() {
  local port="$1" pid="${2:-}" tries=$((${3:-10} * 20))
  while ((tries-- > 0)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.05
  done
  return 1
}
