#!/usr/bin/env bash
# kwire-broker on its embedded store next to Apache Kafka 4.4 (KRaft, one
# node), both driven by the same load tools on the same machine.
#
#   bench/broker/run.sh [KWIRE_BROKER]
#
# KWIRE_BROKER (argument or environment) defaults to
# build/default/examples/broker/kwire-broker. Environment:
#   ROUNDS (3)       rounds; the report gives medians over them
#   ROW_MB (2048)    MiB of record values per loadgen produce row (records =
#                    ROW_MB / record size)
#   PERF_MB (256)    the same for producer-perf-test rows (the Java client
#                    produces a few times slower than franz-go here)
#   CONNS (500)      connections in the connections row, REQUESTS (20) produce
#                    requests each
#   QUICK=1          one round, 8 MiB rows, five rows, no warm-up: a smoke run
#                    (ctest bench.broker_quick); the report goes to a scratch path
#   PROFILE=1        afterwards, perf record -g on kwire-broker during rows
#                    go-p6-1k-all, go-p6-1k-1-128k and go-consume-p6 (needs
#                    perf); appended to the report
#   OUT              the report (bench/results/broker.md, with broker.png beside it)
#   KEEP=1           keep the work directory (logs, raw results)
#
# Rows. Each produce row writes a new topic; a consume row reads, from the
# start, the topic its source row wrote in the same round on the same broker.
# Rather than the full cross product (16 produce rows per tool), each dimension is
# varied at least once with each tool, around two baselines, Kafka's Java
# producer defaults (1 KiB, acks=all, 16 KiB batches) and franz-go:
#   key                  tool                 partitions  size  acks  batch
#   perf-p1-1k-all       producer-perf-test   1           1 KiB all   16 KiB
#   perf-consume-p1      consumer-perf-test   reads perf-p1-1k-all
#   perf-p6-1k-all-128k  producer-perf-test   6           1 KiB all   128 KiB
#   perf-p1-100-1        producer-perf-test   1           100 B 1     16 KiB
#   go-p6-100-1-128k     loadgen produce      6           100 B 1     128 KiB
#   go-p1-1k-1           loadgen produce      1           1 KiB 1     16 KiB
#   go-p6-1k-all         loadgen produce      6           1 KiB all   16 KiB
#   go-p6-1k-1-128k      loadgen produce      6           1 KiB 1     128 KiB
#   go-consume-p6        loadgen consume      reads go-p6-1k-1-128k
#   conns                loadgen conns        6           100 B 1     CONNS connections,
#                                                         REQUESTS one-record produces each
# Both producers linger 5 ms and keep 5 requests in flight (Kafka 4's
# defaults). Within a round each row runs on Kafka and then on kwire-broker
# (the other way round in even rounds), both brokers staying up throughout.
# kwire-broker gets Kafka's defaults where its own differ: no periodic fsync
# (log.flush.interval.ms=-1), no initial rebalance delay (kafka-server.sh sets 0).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
broker_bin="${1:-${KWIRE_BROKER:-$root/build/default/examples/broker/kwire-broker}}"
quick="${QUICK:-0}"
rounds="${ROUNDS:-3}" row_mb="${ROW_MB:-2048}" perf_mb="${PERF_MB:-256}"
conns="${CONNS:-500}" requests="${REQUESTS:-20}"
if [[ $quick == 1 ]]; then
  rounds=1 row_mb=8 perf_mb=8 requests=5
  out="${OUT:-$root/build/bench-broker/broker-quick.md}"
else
  out="${OUT:-$root/bench/results/broker.md}"
fi
tool_timeout=$([[ $quick == 1 ]] && echo 120 || echo 900)

[[ -x "$broker_bin" ]] || { echo "no kwire-broker at $broker_bin" >&2; exit 2; }
broker_bin="$(cd "$(dirname "$broker_bin")" && pwd)/$(basename "$broker_bin")"

work="$(mktemp -d)"
: >"$work/topics.txt"
kwire_pid="" kafka_port="" perf_pid="" failed=0
cleanup() {
  [[ -n "$perf_pid" ]] && { kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; }
  [[ -n "$kwire_pid" ]] && { kill -TERM "$kwire_pid" 2>/dev/null || true; wait "$kwire_pid" 2>/dev/null || true; }
  [[ -n "$kafka_port" ]] && { "$root/tools/peers/kafka-server.sh" stop "$kafka_port" "$work/kafka" || true; }
  if [[ "${KEEP:-0}" == 1 || "$failed" != 0 ]]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
kafka_tool() { timeout "$tool_timeout" "$root/tools/peers/kafka-cli.sh" "$@"; }

# --- tools and brokers --------------------------------------------------------
log "building the load generator (franz-go from the Go module proxy)"
(cd "$here/loadgen" && GOFLAGS=-mod=mod go build -o "$work/loadgen" .)
loadgen() { timeout "$tool_timeout" "$work/loadgen" "$@"; }
kafka_version="$("$root/tools/peers/kafka-classpath.sh" | tr ':' '\n' | sed -n 's#.*/kafka-clients-\([^/]*\)\.jar$#\1#p' | head -1)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
# What is measured: the broker's code and this benchmark's, as of now.
revision="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD \
  -- include examples bench/broker 2>/dev/null || echo ' (with uncommitted changes)')"

kafka_port="$(free_port)"
# Deleted topics' files go after 1 s instead of 60, so that a row's topics
# are gone before the next row starts (see drop_topics).
KWIRE_KAFKA_CONFIG="log.segment.delete.delay.ms=1000" \
  "$root/tools/peers/kafka-server.sh" start "$kafka_port" "$work/kafka" >&2
kafka_pid="$(cat "$work/kafka/kafka.pid")"

kwire_port="$(free_port)"
"$broker_bin" --listeners="PLAINTEXT://127.0.0.1:$kwire_port" --log.dirs="$work/kwire" \
  --log.flush.interval.ms=-1 --group.initial.rebalance.delay.ms=0 >"$work/kwire.log" 2>&1 &
kwire_pid=$!
wait_listening "$kwire_port" "$kwire_pid" || { failed=1; tail -20 "$work/kwire.log" >&2; exit 1; }
log "Kafka $kafka_version on $kafka_port (pid $kafka_pid), kwire-broker on $kwire_port (pid $kwire_pid)"

pid_of() { if [[ $1 == kafka ]]; then echo "$kafka_pid"; else echo "$kwire_pid"; fi; }
port_of() { if [[ $1 == kafka ]]; then echo "$kafka_port"; else echo "$kwire_port"; fi; }
# utime + stime of a process, all its threads, in clock ticks.
cpu_ticks() { local s; s="$(cat "/proc/$1/stat")"; s="${s##*) }"; set -- $s; echo $((${12} + ${13})); }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
{
  echo "kafka_start_rss_kb=$(status_kb "$kafka_pid" VmRSS)"
  echo "kwire_start_rss_kb=$(status_kb "$kwire_pid" VmRSS)"
} >"$work/start.txt"

# --- rows ---------------------------------------------------------------------
# key|tool|partitions|size|acks|batch|source row
all_rows="perf-p1-1k-all|perf-produce|1|1024|all|16384|
perf-consume-p1|perf-consume|||||perf-p1-1k-all
perf-p6-1k-all-128k|perf-produce|6|1024|all|131072|
perf-p1-100-1|perf-produce|1|100|1|16384|
go-p6-100-1-128k|go-produce|6|100|1|131072|
go-p1-1k-1|go-produce|1|1024|1|16384|
go-p6-1k-all|go-produce|6|1024|all|16384|
go-p6-1k-1-128k|go-produce|6|1024|1|131072|
go-consume-p6|go-consume|||||go-p6-1k-1-128k
conns|go-conns|6|100|1||"
quick_rows="perf-p1-1k-all perf-consume-p1 go-p6-1k-1-128k go-consume-p6 conns"
row_def() { grep "^$1|" <<<"$all_rows"; }
# records_for ROW: how many records a produce row writes
records_for() {
  local tool size mb="$row_mb"
  IFS='|' read -r _ tool _ size _ <<<"$(row_def "$1")"
  [[ $tool == perf-produce ]] && mb="$perf_mb"
  echo $((mb * 1048576 / size))
}

# run_row ROUND ROW BROKER: one measurement, one JSON line in rows.jsonl
run_row() {
  local round="$1" key="$2" broker="$3" tool parts size acks batch src
  IFS='|' read -r _ tool parts size acks batch src <<<"$(row_def "$key")"
  local pid bs topic n logf="$work/$key-$broker-$round.log" rc=0
  pid="$(pid_of "$broker")" bs="127.0.0.1:$(port_of "$broker")"
  if [[ -n "$src" ]]; then
    topic="$src-r$round" n="$(records_for "$src")"
    IFS='|' read -r _ _ parts size _ <<<"$(row_def "$src")"
  else
    topic="$key-r$round" n="$(records_for "$key")"
    [[ $tool == go-conns ]] && n=$((conns * requests))
    loadgen create -brokers "$bs" -topic "$topic" -partitions "$parts" >>"$logf" 2>&1 || rc=$?
    echo "$broker $topic" >>"$work/topics.txt"
  fi
  local c0 c1 t0 t1
  c0="$(cpu_ticks "$pid")" t0="$(date +%s.%N)"
  if ((rc == 0)); then
    case "$tool" in
      perf-produce)
        kafka_tool kafka-producer-perf-test --bootstrap-server "$bs" --topic "$topic" --num-records "$n" \
          --record-size "$size" --throughput -1 --command-property acks="$acks" batch.size="$batch" >>"$logf" 2>&1 || rc=$? ;;
      perf-consume)
        kafka_tool kafka-consumer-perf-test --bootstrap-server "$bs" --topic "$topic" --num-records "$n" \
          --group "bench-$topic" --timeout 60000 >>"$logf" 2>&1 || rc=$? ;;
      go-produce)
        loadgen produce -brokers "$bs" -topic "$topic" -records "$n" -size "$size" -acks "$acks" \
          -batch-bytes "$batch" >>"$logf" 2>&1 || rc=$? ;;
      go-consume)
        loadgen consume -brokers "$bs" -topic "$topic" -records "$n" >>"$logf" 2>&1 || rc=$? ;;
      go-conns)
        loadgen conns -brokers "$bs" -topic "$topic" -partitions "$parts" -conns "$conns" \
          -requests "$requests" -size "$size" >>"$logf" 2>&1 || rc=$? ;;
    esac
  fi
  c1="$(cpu_ticks "$pid")" t1="$(date +%s.%N)"
  python3 "$here/report.py" row --log "$logf" --row "$key" --tool "$tool" --broker "$broker" --round "$round" \
    --partitions "$parts" --size "$size" --acks "$acks" --batch "$batch" --source "$src" --records "$n" \
    --rc "$rc" --cpu-s "$(awk -v t="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {print t / hz}')" \
    --wall-s "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
    --hwm-kb "$(status_kb "$pid" VmHWM)" --rss-kb "$(status_kb "$pid" VmRSS)" >>"$work/rows.jsonl"
  log "$(tail -1 "$work/rows.jsonl")"
  grep -q '"status": "ok"' <(tail -1 "$work/rows.jsonl") || failed=1
}

# Deletes the topics written so far on both brokers and waits until Kafka has
# removed their files: no row pays for an earlier row's deletions, and the
# page cache holds no more than a row or two of data (a consume row reads
# from it, on both brokers).
drop_topics() {
  local b t
  while read -r b t; do
    loadgen delete -brokers "127.0.0.1:$(port_of "$b")" -topic "$t" >/dev/null 2>&1 || true
  done <"$work/topics.txt"
  : >"$work/topics.txt"
  for _ in $(seq 1 300); do
    compgen -G "$work/kafka/data/*-delete" >/dev/null || break
    sleep 0.2
  done
}

rows="$(cut -d'|' -f1 <<<"$all_rows")"
[[ $quick == 1 ]] && rows="$quick_rows"
if [[ $quick != 1 ]]; then
  # The JVM compiles its hot paths during the first minute; neither broker is
  # measured before both have taken some load.
  log "warm-up"
  for b in kafka kwire; do
    loadgen create -brokers "127.0.0.1:$(port_of "$b")" -topic warmup -partitions 6 >/dev/null
    loadgen produce -brokers "127.0.0.1:$(port_of "$b")" -topic warmup -records 300000 -size 1024 >/dev/null
    loadgen consume -brokers "127.0.0.1:$(port_of "$b")" -topic warmup -records 300000 >/dev/null
    loadgen delete -brokers "127.0.0.1:$(port_of "$b")" -topic warmup >/dev/null
  done
fi
for round in $(seq 1 "$rounds"); do
  order="kafka kwire"
  ((round % 2 == 0)) && order="kwire kafka"
  for key in $rows; do
    for b in $order; do
      log "round $round/$rounds: $key on $b"
      run_row "$round" "$key" "$b"
    done
    # unless the next row reads them
    grep -q "|$key\$" <<<"$all_rows" || drop_topics
  done
done

# --- profile --------------------------------------------------------------------
# profile_row NAME ROW: perf record -g on kwire-broker for the length of one row
profile_row() {
  perf record -g -o "$work/perf-$1.data" -p "$kwire_pid" >"$work/perf-$1.err" 2>&1 &
  perf_pid=$!
  sleep 1
  run_row 99 "$2" kwire
  kill -INT "$perf_pid"; wait "$perf_pid" || true; perf_pid=""
  # Tab-separated, unpadded; report.py keeps the first 15 lines.
  perf report -i "$work/perf-$1.data" --no-children -g none --sort dso,symbol --stdio -t $'\t' \
    >"$work/profile-$1.txt" 2>/dev/null || true
}
if [[ "${PROFILE:-0}" == 1 ]]; then
  log "profiling kwire-broker (perf record -g)"
  profile_row produce go-p6-1k-all
  profile_row produce-128k go-p6-1k-1-128k
  profile_row consume go-consume-p6
  grep -v '"round": 99' "$work/rows.jsonl" >"$work/rows.tmp" && mv "$work/rows.tmp" "$work/rows.jsonl"
fi

# --- report -------------------------------------------------------------------
grep -iE '\b(warn|error|fail)' "$work/kwire.log" | head -20 >"$work/kwire.issues" || true
grep -E ' (ERROR|FATAL) ' "$work/kafka/server.log" | head -20 >"$work/kafka.issues" || true
{
  cat "$work/start.txt"
  echo "load_before=$load_before"
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "nproc=$(nproc)"
  echo "memory=$(free -g | awk '/^Mem:/{print $2 " GiB"}')"
  echo "kernel=$(uname -sr)"
  echo "kafka=$kafka_version"
  echo "java=$(java -version 2>&1 | head -1 | tr -d '"')"
  echo "go=$(go version | cut -d' ' -f3)"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "revision=$revision"
  echo "rounds=$rounds"
  echo "row_mb=$row_mb"
  echo "perf_mb=$perf_mb"
  echo "conns=$conns"
  echo "requests=$requests"
  echo "quick=$quick"
} >"$work/machine.txt"

venv="$root/build/bench-broker/venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  log "installing matplotlib (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check matplotlib
fi
mkdir -p "$(dirname "$out")"
"$venv/bin/python" "$here/report.py" report --work "$work" --md "$out" --png "${out%.md}.png" || failed=1
log "wrote $out and ${out%.md}.png"
exit "$failed"
