"""Keys and tokens for the OAUTHBEARER tests (tests/interop/oauth.sh), with
the openssl command line and nothing else:

    python jwt_tool.py jwks KEY.pem[:KID]...          # a JSON Web Key Set on stdout
    python jwt_tool.py token KEY.pem KID CLAIMS_JSON [ALG]  # a signed JWT on stdout

KEY.pem: an RSA or a P-256 EC private key. CLAIMS_JSON may use {now} for the
current time in seconds (e.g. '{"exp": {now}+3600}' is evaluated).
"""
import base64
import json
import re
import subprocess
import sys
import time


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwk(pem, kid):
    text = subprocess.run(["openssl", "pkey", "-in", pem, "-noout", "-text"],
                          capture_output=True, check=True).stdout.decode()
    if "ASN1 OID: prime256v1" in text:
        pub = re.search(r"pub:\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
        point = bytes.fromhex(re.sub(r"[\s:]", "", pub))
        return {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64url(point[1:33]), "y": b64url(point[33:65])}
    modulus = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-modulus"],
                             capture_output=True, check=True).stdout.decode().strip().split("=")[1]
    return {"kty": "RSA", "kid": kid, "n": b64url(bytes.fromhex(modulus)), "e": "AQAB"}


def der_to_raw(der, size):
    """An ECDSA signature from DER to JWS's r || s."""
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 2
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(size, b"\0")
        i += 2 + n
    return out


def token(pem, kid, claims, alg):
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    if alg == "none":
        return signing_input.decode() + "."
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input=signing_input,
                         capture_output=True, check=True).stdout
    if alg == "ES256":
        sig = der_to_raw(sig, 32)
    return signing_input.decode() + "." + b64url(sig)


def main():
    if sys.argv[1] == "jwks":
        keys = []
        for arg in sys.argv[2:]:
            pem, _, kid = arg.partition(":")
            keys.append(jwk(pem, kid or None))
        print(json.dumps({"keys": [{k: v for k, v in key.items() if v is not None} for key in keys]}))
    elif sys.argv[1] == "token":
        pem, kid, claims = sys.argv[2], sys.argv[3], sys.argv[4]
        alg = sys.argv[5] if len(sys.argv) > 5 else "RS256"
        now = int(time.time())
        claims = json.loads(re.sub(r"\{now\}([+-]\d+)?", lambda m: str(now + int(m.group(1) or 0)), claims))
        print(token(pem, kid, claims, alg))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
