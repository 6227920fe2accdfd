# Test certificates, made fresh for each test run (never committed):
#   source certs.sh; make_certs DIR
# DIR/ca.pem           the test CA
# DIR/server.pem       the broker's private key and certificate chain (CN=localhost, SAN localhost and 127.0.0.1)
# DIR/client.pem       a client certificate from the CA (CN=app-client,O=kwire) and DIR/client.key
# DIR/stranger.pem     a client certificate from another CA (CN=stranger) and DIR/stranger.key
# DIR/truststore.jks   the CA for Java clients (password "changeit")
make_certs() {
  local d="$1"
  mkdir -p "$d"
  (
    cd "$d"
    local q=(-loglevel error)
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=kwire test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
      -extfile server.ext 2>/dev/null
    cat server.key server.crt ca.pem >server.pem
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/O=kwire/CN=app-client" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.pem -days 2 -subj "/CN=stranger" \
      2>/dev/null
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.jks -storepass changeit >/dev/null 2>&1
  )
}
