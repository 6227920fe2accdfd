#!/usr/bin/env bash
# A real single-node Apache Kafka 4.4.0 on loopback: KRaft, one process that is
# both broker and controller, storage formatted on first start.
#
#   tools/peers/kafka-server.sh start <port> <dir>   # returns once it serves
#   tools/peers/kafka-server.sh stop  <port> <dir>   # clean shutdown
#   tools/peers/kafka-server.sh status <port> <dir>  # exit 0 while it runs
#
# The broker listens on 127.0.0.1:<port> (PLAINTEXT); the controller on a free
# loopback port chosen at first start (or $KWIRE_KAFKA_CONTROLLER_PORT) and kept
# in <dir>/controller.port. <dir> holds server.properties, the data (<dir>/data),
# server.log, the JVM's output (<dir>/kafka.out) and the pid (<dir>/kafka.pid).
# Extra broker settings: lines of key=value in $KWIRE_KAFKA_CONFIG, appended to
# server.properties at every start (a repeated key overrides the default;
# @PORT@ and @CONTROLLER_PORT@ are replaced by the two ports). Start is a no-op
# if it already runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { echo "usage: $0 start|stop|status <port> <dir>" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
cmd="$1" port="$2" dir="$3"
[[ "$port" =~ ^[0-9]+$ ]] || usage
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
pid_file="$dir/kafka.pid"
start_timeout="${KWIRE_KAFKA_START_TIMEOUT:-90}"

running_pid() {
  [[ -s "$pid_file" ]] || return 1
  local pid
  pid="$(cat "$pid_file")"
  kill -0 "$pid" 2>/dev/null || return 1
  # A stale pid file may name a process that is not this broker.
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/server.properties"; then
    return 1
  fi
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  "$(dirname "${BASH_SOURCE[0]}")/../../tests/support/free_port.py"
}

write_config() {
  local cport="$1"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  if [[ -n "${KWIRE_KAFKA_CONFIG:-}" ]]; then
    local extra="${KWIRE_KAFKA_CONFIG//@PORT@/$port}"
    printf '%s\n' "${extra//@CONTROLLER_PORT@/$cport}" >>"$dir/server.properties"
  fi
}

start() {
  if pid="$(running_pid)"; then
    peers_log "Kafka already running (pid $pid) in $dir"
    return 0
  fi
  if port_open "$port"; then
    peers_die "127.0.0.1:$port is already in use"
  fi
  local cport
  if [[ -s "$dir/controller.port" ]]; then
    cport="$(cat "$dir/controller.port")"
  else
    cport="${KWIRE_KAFKA_CONTROLLER_PORT:-$(free_port)}"
    # Nothing listens on either port yet, so a free port may be picked twice.
    while [[ -z "${KWIRE_KAFKA_CONTROLLER_PORT:-}" && "$cport" == "$port" ]]; do cport="$(free_port)"; done
    echo "$cport" >"$dir/controller.port"
  fi
  write_config "$cport"

  local classpath java
  classpath="$("$KWIRE_PEERS_TOOLS/kafka-classpath.sh")"
  java="$(peers_java)"
  local jvm=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
             -Dlog4j2.configurationFile="$KWIRE_PEERS_TOOLS/kafka/log4j2-server.properties"
             -Dkafka.logs.dir="$dir")

  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$("$java" "${jvm[@]}" -cp "$classpath" kafka.tools.StorageTool random-uuid)"
    "$java" "${jvm[@]}" -cp "$classpath" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.out" 2>&1 \
      || { cat "$dir/format.out" >&2; peers_die "formatting $dir/data failed"; }
  fi

  # setsid: the broker gets its own process group and outlives this script.
  setsid "$java" "${jvm[@]}" -cp "$classpath" kafka.Kafka "$dir/server.properties" \
    >"$dir/kafka.out" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$pid_file"

  local waited=0
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/kafka.out" "$dir/server.log" >&2 2>/dev/null || true
      rm -f "$pid_file"
      peers_die "Kafka exited during start-up (see $dir/server.log)"
    fi
    if port_open "$port" && grep -q "Kafka Server started" "$dir/server.log" 2>/dev/null; then
      break
    fi
    if ((waited >= start_timeout * 5)); then
      stop
      peers_die "Kafka did not start within ${start_timeout}s (see $dir/server.log)"
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  peers_log "Kafka 4.4.0 serving on 127.0.0.1:$port (pid $pid, dir $dir)"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pid_file"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= 300)); then
      peers_log "Kafka (pid $pid) did not stop within 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$pid_file"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) running_pid >/dev/null ;;
  *) usage ;;
esac
