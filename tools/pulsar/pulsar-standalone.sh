#!/usr/bin/env bash
# A real Apache Pulsar standalone on loopback, resolved from Maven Central.
#
#   tools/pulsar/pulsar-standalone.sh start [dir]   start (returns once it serves)
#   tools/pulsar/pulsar-standalone.sh wait  [dir]   wait until it serves
#   tools/pulsar/pulsar-standalone.sh stop  [dir]   stop it and wait for the exit
#   tools/pulsar/pulsar-standalone.sh status [dir]  exit 0 while it runs
#   tools/pulsar/pulsar-standalone.sh classpath     print the runtime classpath
#
# dir holds the data, the log and the pid file (default: build/pulsar-standalone
# under the source tree). Environment:
#   PULSAR_PORT (6650), PULSAR_HTTP_PORT (8080), PULSAR_BOOKIE_PORT (3181)
#   PULSAR_JAVA_HOME  a JDK (17+); default: JAVA_HOME, then java on PATH
#   PULSAR_HEAP       JVM heap (1g)
#   PULSAR_WAIT_SECS  how long start/wait wait (180)
#   PULSAR_WIPE=1     start from empty data
#   PULSAR_AUTH_TOKEN_SECRET_FILE  a file with an HS256 secret: enables token
#                     authentication (clients need a token signed with it)
#   PULSAR_TLS_CERT, PULSAR_TLS_KEY, PULSAR_TLS_CA  PEM files (certificate
#                     chain, PKCS#8 key, trusted CA): TLS only, on
#                     PULSAR_TLS_PORT (6651) and PULSAR_HTTPS_PORT (8443); the
#                     plain ports are closed
#   PULSAR_TLS_CLIENT_CERT, PULSAR_TLS_CLIENT_KEY  with the above: clients must
#                     show a certificate of PULSAR_TLS_CA, and are authenticated
#                     by it (TLS authentication; the common name is the role).
#                     This one, whose role is a super-user, is the standalone's
#                     own client's
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cmd="${1:-}"
dir="${2:-$root/build/pulsar-standalone}"

port="${PULSAR_PORT:-6650}"
http_port="${PULSAR_HTTP_PORT:-8080}"
bk_port="${PULSAR_BOOKIE_PORT:-3181}"
tls_port="${PULSAR_TLS_PORT:-6651}"
https_port="${PULSAR_HTTPS_PORT:-8443}"
heap="${PULSAR_HEAP:-1g}"
wait_secs="${PULSAR_WAIT_SECS:-180}"

java_bin() {
  if [[ -n "${PULSAR_JAVA_HOME:-}" ]]; then echo "$PULSAR_JAVA_HOME/bin/java"
  elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"
  else command -v java; fi
}

# The runtime classpath of Pulsar's broker and client, resolved once by Maven
# and cached next to the pom's hash.
classpath() {
  local cache_dir="$root/build/pulsar-classpath"
  local sum
  sum="$(sha256sum "$here/pom.xml" | cut -c1-16)"
  local cp_file="$cache_dir/$sum.txt"
  if [[ ! -s "$cp_file" ]]; then
    mkdir -p "$cache_dir"
    mvn -q -B -f "$here/pom.xml" dependency:build-classpath \
      -Dmdep.outputFile="$cp_file.tmp" >&2
    mv "$cp_file.tmp" "$cp_file"
  fi
  cat "$cp_file"
}

pid_of() {
  [[ -f "$dir/pulsar.pid" ]] || return 1
  local pid
  pid="$(cat "$dir/pulsar.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

serving() {
  # Admin HTTP answers, the standalone's namespace exists, and the binary
  # port accepts connections.
  if [[ -n "${PULSAR_TLS_CERT:-}" ]]; then
    local client=()
    [[ -n "${PULSAR_TLS_CLIENT_CERT:-}" ]] && client=(--cert "$PULSAR_TLS_CLIENT_CERT" --key "$PULSAR_TLS_CLIENT_KEY")
    curl -sf -m 5 --cacert "$PULSAR_TLS_CA" "${client[@]}" \
      "https://127.0.0.1:$https_port/admin/v2/namespaces/public/default" >/dev/null 2>&1 || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null || return 1
    return 0
  fi
  curl -sf -m 5 "http://127.0.0.1:$http_port/admin/v2/namespaces/public/default" >/dev/null 2>&1 \
    || [[ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$http_port/admin/v2/namespaces/public/default")" == 401 ]] \
    || return 1
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 1
}

do_wait() {
  local deadline=$((SECONDS + wait_secs))
  while ! serving; do
    if ! pid_of >/dev/null; then
      echo "pulsar-standalone: not running (see $dir/pulsar.log)" >&2
      tail -30 "$dir/pulsar.log" >&2 2>/dev/null || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "pulsar-standalone: not serving after ${wait_secs}s (see $dir/pulsar.log)" >&2
      return 1
    fi
    sleep 1
  done
}

do_start() {
  if pid_of >/dev/null; then
    echo "pulsar-standalone: already running (pid $(pid_of))" >&2
    do_wait
    return
  fi
  if serving || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "pulsar-standalone: port $port or $http_port is taken by another process; set PULSAR_PORT and PULSAR_HTTP_PORT" >&2
    return 1
  fi
  mkdir -p "$dir"
  if [[ "${PULSAR_WIPE:-0}" == 1 ]]; then rm -rf "$dir/data"; fi
  local cp
  cp="$(classpath)"
  local conf="$dir/standalone.conf"
  {
    cat "$here/standalone.conf"
    echo "brokerServicePort=$port"
    echo "webServicePort=$http_port"
    if [[ -n "${PULSAR_AUTH_TOKEN_SECRET_FILE:-}" ]]; then
      echo "authenticationEnabled=true"
      echo "authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken"
      echo "tokenSecretKey=file://$PULSAR_AUTH_TOKEN_SECRET_FILE"
      echo "superUserRoles=admin"
      echo "authorizationEnabled=false"
      echo "brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken"
      echo "brokerClientAuthenticationParameters=token:${PULSAR_ADMIN_TOKEN:-}"
    fi
    if [[ -n "${PULSAR_TLS_CERT:-}" ]]; then
      echo "brokerServicePort="
      echo "webServicePort="
      echo "brokerServicePortTls=$tls_port"
      echo "webServicePortTls=$https_port"
      echo "tlsCertificateFilePath=$PULSAR_TLS_CERT"
      echo "tlsKeyFilePath=$PULSAR_TLS_KEY"
      echo "tlsTrustCertsFilePath=$PULSAR_TLS_CA"
      echo "brokerClientTlsEnabled=true"
      echo "brokerClientTrustCertsFilePath=$PULSAR_TLS_CA"
      if [[ -n "${PULSAR_TLS_CLIENT_CERT:-}" ]]; then
        local role
        role="$(openssl x509 -in "$PULSAR_TLS_CLIENT_CERT" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')"
        echo "tlsRequireTrustedClientCertOnConnect=true"
        echo "authenticationEnabled=true"
        echo "authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderTls"
        echo "superUserRoles=$role"
        echo "authorizationEnabled=false"
        echo "brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationTls"
        echo "brokerClientAuthenticationParameters=tlsCertFile:$PULSAR_TLS_CLIENT_CERT,tlsKeyFile:$PULSAR_TLS_CLIENT_KEY"
      fi
    fi
  } >"$conf"
  cat >"$dir/log4j2.properties" <<LOG
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/pulsar.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{HH:mm:ss.SSS} %-5level [%t] %c{1} - %msg%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.zk.name = org.apache.zookeeper
logger.zk.level = warn
logger.bk.name = org.apache.bookkeeper
logger.bk.level = warn
LOG
  : >"$dir/pulsar.log"
  local java
  java="$(java_bin)"
  (
    cd "$dir"
    # The standalone reads conf/ relative to its working directory for the
    # (disabled) functions worker; an empty conf/ keeps it quiet.
    mkdir -p conf
    exec setsid "$java" -Xms256m -Xmx"$heap" -XX:MaxDirectMemorySize=512m \
      -XX:+UseG1GC -XX:ActiveProcessorCount=2 -XX:TieredStopAtLevel=1 \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" \
      -Dpulsar.allocator.exit_on_oom=true -Dio.netty.leakDetection.level=disabled \
      -Dzookeeper.4lw.commands.whitelist=* \
      --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED \
      --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.misc=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
      --add-opens java.management/sun.management=ALL-UNNAMED \
      --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
      -cp "$cp" org.apache.pulsar.PulsarStandaloneStarter \
      --config "$conf" -nfw -nss \
      --bookkeeper-dir "$dir/data/bookkeeper" --metadata-dir "$dir/data/metadata" \
      --bookkeeper-port "$bk_port" --advertised-address 127.0.0.1 \
      >"$dir/stdout.log" 2>&1 </dev/null
  ) &
  echo $! >"$dir/pulsar.pid"
  do_wait
  if [[ -n "${PULSAR_TLS_CERT:-}" ]]; then
    echo "pulsar-standalone: serving pulsar+ssl://127.0.0.1:$tls_port https://127.0.0.1:$https_port (pid $(pid_of))"
  else
    echo "pulsar-standalone: serving pulsar://127.0.0.1:$port http://127.0.0.1:$http_port (pid $(pid_of))"
  fi
}

do_stop() {
  local pid
  if ! pid="$(pid_of)"; then
    rm -f "$dir/pulsar.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "pulsar-standalone: pid $pid ignored TERM for 60s; killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.5
  done
  rm -f "$dir/pulsar.pid"
}

case "$cmd" in
  start) do_start ;;
  wait) do_wait ;;
  stop) do_stop ;;
  status) pid_of >/dev/null ;;
  classpath) classpath ;;
  *) echo "usage: $0 start|stop|wait|status [dir] | classpath" >&2; exit 2 ;;
esac
