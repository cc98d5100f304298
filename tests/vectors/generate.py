#!/usr/bin/env python3
"""Writes the verification vectors (*.json) next to this script.

Run by hand, once, when vectors change:  python3 tests/vectors/generate.py
CI never runs it; tests read the committed JSON (see README.md).

The output is reproducible: keys come from keys/ (generated once with
openssl), times are constants, and every signature is deterministic (HMAC,
RSASSA-PKCS1-v1_5 and Ed25519 by nature, ECDSA per RFC 6979, RSASSA-PSS with
a salt derived from the message). Needs python3 and `cryptography` (>= 44).
"""

import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "keys")

# ---------------------------------------------------------------- helpers


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def read(name: str) -> str:
    with open(os.path.join(KEYS, name), encoding="ascii") as f:
        return f.read()


def private(name: str):
    with open(os.path.join(KEYS, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


HASHES = {"256": (hashes.SHA256, "sha256"), "384": (hashes.SHA384, "sha384"), "512": (hashes.SHA512, "sha512")}


def mgf1(seed: bytes, length: int, name: str) -> bytes:
    out, counter = b"", 0
    while len(out) < length:
        out += hashlib.new(name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def pss_sign(key, message: bytes, bits: str) -> bytes:
    """RSASSA-PSS (RFC 8017 §9.1.1) with salt length = hash length and a
    salt derived from the message, so the output is reproducible."""
    cls, name = HASHES[bits]
    m_hash = hashlib.new(name, message).digest()
    h_len = len(m_hash)
    salt = hashlib.new(name, b"chat-auth vector salt" + message).digest()[:h_len]
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    h = hashlib.new(name, b"\0" * 8 + m_hash + salt).digest()
    db = b"\0" * (em_len - h_len - h_len - 2) + b"\x01" + salt
    masked = bytearray(a ^ b for a, b in zip(db, mgf1(h, em_len - h_len - 1, name)))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    em = bytes(masked) + h + b"\xbc"
    sig = pow(int.from_bytes(em, "big"), d, n).to_bytes((n.bit_length() + 7) // 8, "big")
    key.public_key().verify(sig, message, padding.PSS(mgf=padding.MGF1(cls()), salt_length=h_len), cls())
    return sig


def sign(alg: str, key, message: bytes) -> bytes:
    bits = alg[2:]
    if alg.startswith("HS"):
        return hmac.new(key, message, HASHES[bits][1]).digest()
    if alg.startswith("RS"):
        return key.sign(message, padding.PKCS1v15(), HASHES[bits][0]())
    if alg.startswith("PS"):
        return pss_sign(key, message, bits)
    if alg.startswith("ES"):
        size = {"256": 32, "384": 48}[bits]
        der = key.sign(message, ec.ECDSA(HASHES[bits][0](), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return key.sign(message)
    raise ValueError(alg)


def jws(header, payload, key=None, alg=None, sig=None) -> str:
    """A compact JWS. `header`/`payload` are dicts (compact JSON), str or bytes."""
    signing_input = b64u(compact(header)) + "." + b64u(compact(payload))
    if sig is None:
        sig = sign(alg or header["alg"], key, signing_input.encode())
    return signing_input + "." + b64u(sig)


def resign(token: str, key, alg: str) -> str:
    h, p, _ = token.split(".")
    return f"{h}.{p}." + b64u(sign(alg, key, f"{h}.{p}".encode()))


def with_sig(token: str, sig: bytes) -> str:
    h, p, _ = token.split(".")
    return f"{h}.{p}.{b64u(sig)}"


def sig_of(token: str) -> bytes:
    return unb64u(token.split(".")[2])


def flip_sig_byte(token: str, index: int = 0) -> str:
    sig = bytearray(sig_of(token))
    sig[index] ^= 0x01
    return with_sig(token, bytes(sig))


def replace_segment(token: str, index: int, value) -> str:
    parts = token.split(".")
    parts[index] = b64u(compact(value))
    return ".".join(parts)


def spki_pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def int_b64u(value: int, size: int = 0) -> str:
    size = size or (value.bit_length() + 7) // 8
    return b64u(value.to_bytes(size, "big"))


def jwk(public_key, **meta) -> dict:
    if isinstance(public_key, rsa.RSAPublicKey):
        nums = public_key.public_numbers()
        body = {"kty": "RSA", "n": int_b64u(nums.n), "e": int_b64u(nums.e)}
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        size = (public_key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public_key.curve.name]
        nums = public_key.public_numbers()
        body = {"kty": "EC", "crv": crv, "x": int_b64u(nums.x, size), "y": int_b64u(nums.y, size)}
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        body = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    elif isinstance(public_key, x25519.X25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        body = {"kty": "OKP", "crv": "X25519", "x": b64u(raw)}
    else:
        raise TypeError(public_key)
    return {**meta, **body}


def oct_jwk(secret: bytes, **meta) -> dict:
    return {**meta, "kty": "oct", "k": b64u(secret)}


def opts(algorithms, **options) -> dict:
    return {"algorithms": algorithms, **options}


class File:
    def __init__(self, name: str, description: str, keys: dict):
        self.name, self.description, self.keys, self.cases = name, description, keys, []

    def case(self, name, token, options, expect, now=None, claims=None):
        assert all(c["name"] != name for c in self.cases), name
        c = {"name": name, "token": token, "options": options, "now": NOW if now is None else now, "expect": expect}
        if claims is not None:
            assert expect == "ok", name
            c["claims"] = claims
        self.cases.append(c)

    def write(self):
        doc = {"description": self.description, "keys": self.keys, "cases": self.cases}
        with open(os.path.join(HERE, self.name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"{self.name}: {len(self.cases)} cases")


# ---------------------------------------------------------------- material

NOW = 1_700_000_000_000  # ms; 2023-11-14T22:13:20Z
T = NOW // 1000
EXP = T + 3600
ISS = "https://auth.example.com"
SUB = "c_8f3a9b2e"
AUD = "chat"
CLAIMS = {"iss": ISS, "sub": SUB, "aud": AUD, "iat": T - 60, "nbf": T - 60, "exp": EXP}


def claims(**changes) -> dict:
    out = dict(CLAIMS)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


RSA = private("rsa2048.pem")
RSA_PUB = read("rsa2048.pub.pem")
RSA_PKCS1 = read("rsa2048.rsapub.pem")
RSA_CERT = read("rsa2048.crt.pem")
RSA_ATK = private("attacker-rsa2048.pem")
RSA_ATK_CERT = read("attacker-rsa2048.crt.pem")
RSA1024 = private("rsa1024.pem")
RSA1024_PUB = read("rsa1024.pub.pem")
RSAPSS = private("rsapss2048.pem")
RSAPSS_PUB = read("rsapss2048.pub.pem")
P256 = private("p256.pem")
P256_PUB = read("p256.pub.pem")
P256_CERT = read("p256.crt.pem")
P256_ATK = private("attacker-p256.pem")
P384 = private("p384.pem")
P384_PUB = read("p384.pub.pem")
K256_PUB = read("secp256k1.pub.pem")
ED = private("ed25519.pem")
ED_PUB = read("ed25519.pub.pem")
ED_CERT = read("ed25519.crt.pem")
ED_ATK = private("attacker-ed25519.pem")
SECRET = read("hmac-secret.txt")
ATK_SECRET = read("attacker-hmac-secret.txt")
RSA_PRIVATE_PEM = read("rsa2048.pem")
assert len(SECRET.encode()) == 32 and len(ATK_SECRET.encode()) == 32

# Deterministic keys of unsupported types, only to be skipped in a JWKS.
P521_PUB = ec.derive_private_key(0xC0FFEE, ec.SECP521R1()).public_key()
X25519_PUB = x25519.X25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
)

JWKS = {
    "keys": [
        jwk(RSA.public_key(), kid="rsa-1", use="sig"),
        jwk(P256.public_key(), kid="ec-1", use="sig", alg="ES256"),
        jwk(P384.public_key(), kid="ec-384"),
        jwk(ED.public_key(), kid="ed-1"),
        jwk(RSA.public_key(), kid="rsa-ps", alg="PS256"),
        jwk(RSA.public_key(), kid="rsa-enc", use="enc"),
        jwk(RSA.public_key(), kid="dup"),
        jwk(P256.public_key(), kid="dup"),
        jwk(P521_PUB, kid="ec-521"),
        jwk(X25519_PUB, kid="x-1"),
        {"kty": "AKP", "kid": "pq-1", "alg": "ML-DSA-44", "pub": "AAAA"},
    ]
}
JWKS_HS = {"keys": [oct_jwk(SECRET.encode(), kid="hs-1")]}
JWKS_ONE_RSA = {"keys": [jwk(RSA.public_key())]}

ALL_ASYM = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]


def rs(payload=None, header=None, key=RSA, alg="RS256"):
    return jws(header or {"alg": alg, "typ": "JWT"}, CLAIMS if payload is None else payload, key, alg=alg)


# ---------------------------------------------------------------- RFC vectors

RFC_A1_JWK = {"kty": "oct", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}
RFC_A2_JWK = {
    "kty": "RSA",
    "n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
    "e": "AQAB",
}
RFC_A3_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}
RFC_PAYLOAD = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
RFC_A1 = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + RFC_PAYLOAD + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)
RFC_A2 = (
    "eyJhbGciOiJSUzI1NiJ9." + RFC_PAYLOAD + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw"
)
RFC_A3 = (
    "eyJhbGciOiJFUzI1NiJ9." + RFC_PAYLOAD + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
RFC_CLAIMS = {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
RFC_NOW = 1300819380_000 - 3_600_000


def rfc_public_keys():
    n = int.from_bytes(unb64u(RFC_A2_JWK["n"]), "big")
    a2 = rsa.RSAPublicNumbers(65537, n).public_key()
    x = int.from_bytes(unb64u(RFC_A3_JWK["x"]), "big")
    y = int.from_bytes(unb64u(RFC_A3_JWK["y"]), "big")
    a3 = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    # The copied bytes must verify, or the vectors would be wrong.
    h, p, s = RFC_A1.split(".")
    assert hmac.new(unb64u(RFC_A1_JWK["k"]), f"{h}.{p}".encode(), "sha256").digest() == unb64u(s)
    h, p, s = RFC_A2.split(".")
    a2.verify(unb64u(s), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
    h, p, s = RFC_A3.split(".")
    raw = unb64u(s)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    a3.verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    assert json.loads(unb64u(RFC_PAYLOAD)) == RFC_CLAIMS
    assert n.bit_length() == 2048
    return spki_pem(a2), spki_pem(a3)


def rfc_file():
    a2_pem, a3_pem = rfc_public_keys()
    f = File(
        "rfc.json",
        "RFC 7515 Appendix A.1 (HS256), A.2 (RS256), A.3 (ES256) and RFC 7519 §3.1, tokens and keys copied "
        "from the RFCs (the PEMs are the RFC keys re-encoded as SubjectPublicKeyInfo). exp is 1300819380.",
        {"a1_jwks": {"keys": [RFC_A1_JWK]}, "a2_jwks": {"keys": [RFC_A2_JWK]}, "a2_pem": a2_pem,
         "a3_jwks": {"keys": [RFC_A3_JWK]}, "a3_pem": a3_pem},
    )
    a1 = {"keys": [RFC_A1_JWK]}
    f.case("rfc7515-a1-hs256", RFC_A1, opts(["HS256"], jwks=a1, issuer="joe"), "ok", RFC_NOW, RFC_CLAIMS)
    f.case("rfc7519-3.1-example-jwt", RFC_A1, opts(["HS256"], jwks=a1), "ok", RFC_NOW, RFC_CLAIMS)
    f.case("rfc7515-a2-rs256-jwks", RFC_A2, opts(["RS256"], jwks={"keys": [RFC_A2_JWK]}), "ok", RFC_NOW, RFC_CLAIMS)
    f.case("rfc7515-a2-rs256-pem", RFC_A2, opts(["RS256"], publicKey=a2_pem), "ok", RFC_NOW, RFC_CLAIMS)
    f.case("rfc7515-a3-es256-jwks", RFC_A3, opts(["ES256"], jwks={"keys": [RFC_A3_JWK]}), "ok", RFC_NOW, RFC_CLAIMS)
    f.case("rfc7515-a3-es256-pem", RFC_A3, opts(["ES256"], publicKey=a3_pem), "ok", RFC_NOW, RFC_CLAIMS)
    f.case("rfc7515-a1-last-ms-in-leeway", RFC_A1, opts(["HS256"], jwks=a1), "ok", 1300819410_000 - 1, RFC_CLAIMS)
    f.case("rfc7515-a1-expired-at-exp-plus-leeway", RFC_A1, opts(["HS256"], jwks=a1), "expired", 1300819410_000)
    f.case("rfc7515-a1-expired-today", RFC_A1, opts(["HS256"], jwks=a1), "expired", NOW)
    f.case("rfc7515-a1-wrong-issuer", RFC_A1, opts(["HS256"], jwks=a1, issuer="Joe"), "issuer_mismatch", RFC_NOW)
    f.case("rfc7515-a1-no-sub-for-customer-id", RFC_A1, opts(["HS256"], jwks=a1, customerId="joe"),
           "claim_mismatch", RFC_NOW)
    f.case("rfc7515-a1-other-secret", RFC_A1, opts(["HS256"], secret=SECRET), "bad_signature", RFC_NOW)
    f.case("rfc7515-a2-rs256-not-allowed", RFC_A2, opts(["PS256"], publicKey=a2_pem), "alg_not_allowed", RFC_NOW)
    f.case("rfc7515-a2-signature-byte-flipped", flip_sig_byte(RFC_A2, 100), opts(["RS256"], publicKey=a2_pem),
           "bad_signature", RFC_NOW)
    f.case("rfc7515-a3-signature-byte-flipped", flip_sig_byte(RFC_A3, 40), opts(["ES256"], publicKey=a3_pem),
           "bad_signature", RFC_NOW)
    f.case("rfc7515-a3-key-is-not-a2", RFC_A3, opts(["ES256", "RS256"], publicKey=a2_pem), "key_type_mismatch",
           RFC_NOW)
    f.write()


# ---------------------------------------------------------------- algorithms


def algorithms_file():
    f = File(
        "algorithms.json",
        "Valid tokens for every supported algorithm and key form: HMAC secret, PEM SubjectPublicKeyInfo, "
        "PKCS#1, X.509 certificate, RSA-PSS OID key, and JWKS with kid.",
        {"secret": SECRET, "rsa_spki": RSA_PUB, "rsa_pkcs1": RSA_PKCS1, "rsa_cert": RSA_CERT,
         "rsapss_spki": RSAPSS_PUB, "p256_spki": P256_PUB, "p256_cert": P256_CERT, "p384_spki": P384_PUB,
         "ed25519_spki": ED_PUB, "ed25519_cert": ED_CERT, "jwks": JWKS, "jwks_hs": JWKS_HS},
    )
    hs_all = ["HS256", "HS384", "HS512"]
    for alg in hs_all:
        t = jws({"alg": alg, "typ": "JWT"}, CLAIMS, SECRET.encode())
        f.case(f"{alg.lower()}-secret", t, opts(hs_all, secret=SECRET), "ok", claims=CLAIMS)
        t = jws({"alg": alg, "kid": "hs-1"}, CLAIMS, SECRET.encode())
        f.case(f"{alg.lower()}-jwks-oct", t, opts([alg], jwks=JWKS_HS), "ok", claims=CLAIMS)
    rsa_algs = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    for alg in rsa_algs:
        t = jws({"alg": alg, "typ": "JWT"}, CLAIMS, RSA)
        f.case(f"{alg.lower()}-spki", t, opts(rsa_algs, publicKey=RSA_PUB), "ok", claims=CLAIMS)
        f.case(f"{alg.lower()}-pkcs1", t, opts([alg], publicKey=RSA_PKCS1), "ok", claims=CLAIMS)
        f.case(f"{alg.lower()}-certificate", t, opts([alg], publicKey=RSA_CERT), "ok", claims=CLAIMS)
    t = jws({"alg": "RS256", "kid": "rsa-1"}, CLAIMS, RSA)
    f.case("rs256-jwks-kid", t, opts(ALL_ASYM, jwks=JWKS), "ok", claims=CLAIMS)
    t = jws({"alg": "PS256", "kid": "rsa-ps"}, CLAIMS, RSA)
    f.case("ps256-jwks-kid-with-jwk-alg", t, opts(ALL_ASYM, jwks=JWKS), "ok", claims=CLAIMS)
    t = jws({"alg": "PS256"}, CLAIMS, RSAPSS)
    f.case("ps256-rsassa-pss-oid-key", t, opts(["PS256"], publicKey=RSAPSS_PUB), "ok", claims=CLAIMS)
    t = jws({"alg": "RS256"}, CLAIMS, RSAPSS)
    f.case("rs256-rsassa-pss-oid-key-read-as-rsa", t, opts(["RS256"], publicKey=RSAPSS_PUB), "ok", claims=CLAIMS)

    es256 = jws({"alg": "ES256", "typ": "JWT"}, CLAIMS, P256)
    f.case("es256-spki", es256, opts(["ES256"], publicKey=P256_PUB), "ok", claims=CLAIMS)
    f.case("es256-certificate", es256, opts(["ES256"], publicKey=P256_CERT), "ok", claims=CLAIMS)
    f.case("es256-jwks-kid", jws({"alg": "ES256", "kid": "ec-1"}, CLAIMS, P256), opts(ALL_ASYM, jwks=JWKS), "ok",
           claims=CLAIMS)
    # ECDSA signatures are malleable: (r, n − s) verifies too. JWS does not
    # forbid it and WebCrypto accepts it, so it is accepted on every target.
    sig = sig_of(es256)
    high_s = sig[:32] + (P256_ORDER - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")
    f.case("es256-high-s-accepted", with_sig(es256, high_s), opts(["ES256"], publicKey=P256_PUB), "ok",
           claims=CLAIMS)
    es384 = jws({"alg": "ES384", "typ": "JWT"}, CLAIMS, P384)
    f.case("es384-spki", es384, opts(["ES384"], publicKey=P384_PUB), "ok", claims=CLAIMS)
    f.case("es384-jwks-kid", jws({"alg": "ES384", "kid": "ec-384"}, CLAIMS, P384), opts(ALL_ASYM, jwks=JWKS), "ok",
           claims=CLAIMS)
    ed = jws({"alg": "EdDSA", "typ": "JWT"}, CLAIMS, ED)
    f.case("eddsa-spki", ed, opts(["EdDSA"], publicKey=ED_PUB), "ok", claims=CLAIMS)
    f.case("eddsa-certificate", ed, opts(["EdDSA"], publicKey=ED_CERT), "ok", claims=CLAIMS)
    f.case("eddsa-jwks-kid", jws({"alg": "EdDSA", "kid": "ed-1"}, CLAIMS, ED), opts(ALL_ASYM, jwks=JWKS), "ok",
           claims=CLAIMS)
    f.case("rs256-all-options-set", rs(), opts(["RS256"], publicKey=RSA_PUB, issuer=ISS, audience=[AUD, "other"],
           customerId=SUB, customerIdClaim="sub", leewaySeconds=0, now=NOW, maxTokenBytes=2048, typ="JWT"),
           "ok", claims=CLAIMS)
    f.write()


# ---------------------------------------------------------------- keys (rules 1 and 6)


def keys_file():
    ec_private_jwk = {**jwk(P256.public_key(), kid="ec-1"), "d": b64u(P256.private_numbers().private_value.to_bytes(32, "big"))}
    compressed = P256.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    spki_prefix = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")
    compressed_pem = (
        "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(spki_prefix + compressed).decode() + "\n-----END PUBLIC KEY-----\n"
    )
    f = File(
        "keys.json",
        "Key selection (rule 6: kid, key type, JWK alg/use) and unusable keys (rule 1: invalid_config). "
        "The JWKS also lists keys of unsupported types (EC P-521, OKP X25519, AKP), which are skipped.",
        {"jwks": JWKS, "rsa_spki": RSA_PUB, "p256_spki": P256_PUB, "rsa1024_spki": RSA1024_PUB,
         "secp256k1_spki": K256_PUB, "secret": SECRET},
    )
    J = opts(ALL_ASYM, jwks=JWKS)
    f.case("kid-rsa", jws({"alg": "RS256", "kid": "rsa-1"}, CLAIMS, RSA), J, "ok", claims=CLAIMS)
    f.case("kid-ec", jws({"alg": "ES256", "kid": "ec-1"}, CLAIMS, P256), J, "ok", claims=CLAIMS)
    f.case("kid-ec-384", jws({"alg": "ES384", "kid": "ec-384"}, CLAIMS, P384), J, "ok", claims=CLAIMS)
    f.case("kid-ed25519", jws({"alg": "EdDSA", "kid": "ed-1"}, CLAIMS, ED), J, "ok", claims=CLAIMS)
    f.case("kid-unknown", jws({"alg": "RS256", "kid": "rsa-2"}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-differs-in-case", jws({"alg": "RS256", "kid": "RSA-1"}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-path-traversal", jws({"alg": "RS256", "kid": "../../etc/passwd"}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-sql-injection", jws({"alg": "RS256", "kid": "x' OR '1'='1"}, CLAIMS, RSA), J, "unknown_key")
    # kid is only ever compared with the JWKS's kids: never a path, a URL or a
    # C string. The classic attack names /dev/null and signs HS256 with an
    # empty key; here it finds no key and no HMAC algorithm.
    dev_null = jws({"alg": "HS256", "kid": "../../../../../../dev/null"}, CLAIMS, b"")
    f.case("kid-dev-null-hs256-empty-key", dev_null, J, "alg_not_allowed")
    f.case("kid-dev-null-hs256-allowed", dev_null, opts(ALL_ASYM + ["HS256"], jwks=JWKS), "unknown_key")
    f.case("kid-path-traversal-to-real-kid", jws({"alg": "RS256", "kid": "../rsa-1"}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-url", jws({"alg": "RS256", "kid": "https://attacker.example/jwks.json#rsa-1"}, CLAIMS, RSA), J,
           "unknown_key")
    f.case("kid-nul-suffix", jws({"alg": "RS256", "kid": "rsa-1\u0000"}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-trailing-space", jws({"alg": "RS256", "kid": "rsa-1 "}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-array-of-real-kid", jws({"alg": "RS256", "kid": ["rsa-1"]}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-empty", jws({"alg": "RS256", "kid": ""}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-number", jws({"alg": "RS256", "kid": 1}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-null", jws({"alg": "RS256", "kid": None}, CLAIMS, RSA), J, "unknown_key")
    f.case("kid-of-skipped-p521-key", jws({"alg": "ES256", "kid": "ec-521"}, CLAIMS, P256), J, "unknown_key")
    f.case("no-kid-several-keys", jws({"alg": "RS256"}, CLAIMS, RSA), J, "unknown_key")
    f.case("no-kid-one-key", jws({"alg": "RS256"}, CLAIMS, RSA), opts(["RS256"], jwks=JWKS_ONE_RSA), "ok",
           claims=CLAIMS)
    one_usable = {"keys": [jwk(P521_PUB, kid="ec-521"), jwk(RSA.public_key(), kid="rsa-1"), jwk(X25519_PUB)]}
    f.case("no-kid-one-usable-key-after-skipping", jws({"alg": "RS256"}, CLAIMS, RSA),
           opts(["RS256"], jwks=one_usable), "ok", claims=CLAIMS)
    f.case("kid-rsa-token-es256", jws({"alg": "ES256", "kid": "rsa-1"}, CLAIMS, P256), J, "key_type_mismatch")
    f.case("kid-ec-p256-token-es384", jws({"alg": "ES384", "kid": "ec-1"}, CLAIMS, P384), J, "key_type_mismatch")
    f.case("kid-ed-token-rs256", jws({"alg": "RS256", "kid": "ed-1"}, CLAIMS, RSA), J, "key_type_mismatch")
    f.case("jwk-alg-ps256-token-rs256", jws({"alg": "RS256", "kid": "rsa-ps"}, CLAIMS, RSA), J, "key_type_mismatch")
    f.case("jwk-alg-es256-token-es256", jws({"alg": "ES256", "kid": "ec-1"}, CLAIMS, P256), J, "ok", claims=CLAIMS)
    f.case("jwk-use-enc", jws({"alg": "RS256", "kid": "rsa-enc"}, CLAIMS, RSA), J, "key_type_mismatch")
    f.case("duplicate-kid-picks-rsa", jws({"alg": "RS256", "kid": "dup"}, CLAIMS, RSA), J, "ok", claims=CLAIMS)
    f.case("duplicate-kid-picks-ec", jws({"alg": "ES256", "kid": "dup"}, CLAIMS, P256), J, "ok", claims=CLAIMS)
    f.case("jwks-hs-kid-token-rs256", jws({"alg": "RS256", "kid": "hs-1"}, CLAIMS, RSA),
           opts(["RS256", "HS256"], jwks=JWKS_HS), "key_type_mismatch")
    # A single PEM key or secret: only the type is matched.
    f.case("pem-ignores-kid", jws({"alg": "RS256", "kid": "whatever"}, CLAIMS, RSA),
           opts(["RS256"], publicKey=RSA_PUB), "ok", claims=CLAIMS)
    f.case("pem-rsa-token-es256", jws({"alg": "ES256"}, CLAIMS, P256), opts(["RS256", "ES256"], publicKey=RSA_PUB),
           "key_type_mismatch")
    f.case("pem-p256-token-rs256", rs(), opts(["RS256", "ES256"], publicKey=P256_PUB), "key_type_mismatch")
    f.case("pem-p256-token-es384", jws({"alg": "ES384"}, CLAIMS, P384), opts(["ES256", "ES384"], publicKey=P256_PUB),
           "key_type_mismatch")
    f.case("pem-p384-token-es256", jws({"alg": "ES256"}, CLAIMS, P256), opts(["ES256", "ES384"], publicKey=P384_PUB),
           "key_type_mismatch")
    f.case("cert-rsa-token-eddsa", jws({"alg": "EdDSA"}, CLAIMS, ED), opts(["RS256", "EdDSA"], publicKey=RSA_CERT),
           "key_type_mismatch")
    f.case("pem-ed25519-token-es256", jws({"alg": "ES256"}, CLAIMS, P256), opts(["ES256", "EdDSA"], publicKey=ED_PUB),
           "key_type_mismatch")
    f.case("secret-token-rs256", rs(), opts(["HS256", "RS256"], secret=SECRET), "key_type_mismatch")
    f.case("pem-with-crlf-and-blank-lines", rs(), opts(["RS256"], publicKey="\r\n\r\n" + RSA_PUB.replace("\n", "\r\n") + "\n\n"),
           "ok", claims=CLAIMS)
    # Rule 1: unusable keys.
    t1024 = rs(key=RSA1024)
    f.case("rsa-1024-pem", t1024, opts(["RS256"], publicKey=RSA1024_PUB), "invalid_config")
    f.case("rsa-1024-jwks", t1024, opts(["RS256"], jwks={"keys": [jwk(RSA1024.public_key())]}), "invalid_config")
    f.case("rsa-1024-in-jwks-with-good-key", rs(),
           opts(["RS256"], jwks={"keys": [jwk(RSA.public_key(), kid="a"), jwk(RSA1024.public_key(), kid="b")]}),
           "invalid_config")
    f.case("secp256k1-pem", rs(), opts(["ES256"], publicKey=K256_PUB), "invalid_config")
    f.case("jwks-only-unsupported-keys", rs(), opts(["ES256"], jwks={"keys": [jwk(P521_PUB), jwk(X25519_PUB)]}),
           "invalid_config")
    f.case("jwks-empty", rs(), opts(["RS256"], jwks={"keys": []}), "invalid_config")
    f.case("jwks-keys-not-array", rs(), opts(["RS256"], jwks={"keys": jwk(RSA.public_key())}), "invalid_config")
    f.case("jwks-is-a-single-jwk", rs(), opts(["RS256"], jwks=jwk(RSA.public_key())), "invalid_config")
    f.case("jwks-private-ec-key", rs(), opts(["ES256"], jwks={"keys": [ec_private_jwk]}), "invalid_config")
    f.case("jwks-ec-coordinate-too-short", rs(),
           opts(["ES256"], jwks={"keys": [{**jwk(P256.public_key()), "x": b64u(b"\x01" * 31)}]}), "invalid_config")
    f.case("jwks-padded-base64", rs(),
           opts(["RS256"], jwks={"keys": [{**jwk(RSA.public_key()), "e": "AQAB===="}]}), "invalid_config")
    f.case("jwks-rsa-exponent-1", rs(),
           opts(["RS256"], jwks={"keys": [{**jwk(RSA.public_key()), "e": "AQ"}]}), "invalid_config")
    f.case("jwks-oct-31-bytes", rs(), opts(["HS256"], jwks={"keys": [oct_jwk(b"k" * 31)]}), "invalid_config")
    f.case("pem-private-key", rs(), opts(["RS256"], publicKey=RSA_PRIVATE_PEM), "invalid_config")
    f.case("pem-compressed-p256-point", jws({"alg": "ES256"}, CLAIMS, P256), opts(["ES256"], publicKey=compressed_pem),
           "invalid_config")
    f.case("pem-two-blocks", rs(), opts(["RS256"], publicKey=RSA_PUB + P256_PUB), "invalid_config")
    f.case("pem-garbage", rs(), opts(["RS256"], publicKey="-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----"),
           "invalid_config")
    f.case("pem-not-pem", rs(), opts(["RS256"], publicKey="ssh-rsa AAAAB3NzaC1yc2E user@host"), "invalid_config")
    f.case("secret-31-bytes", jws({"alg": "HS256"}, CLAIMS, SECRET[:31].encode()), opts(["HS256"], secret=SECRET[:31]),
           "invalid_config")
    f.case("secret-32-bytes", jws({"alg": "HS256"}, CLAIMS, SECRET.encode()), opts(["HS256"], secret=SECRET), "ok",
           claims=CLAIMS)
    f.case("secret-multibyte-utf8-32-bytes", jws({"alg": "HS256"}, CLAIMS, ("é" * 16).encode()),
           opts(["HS256"], secret="é" * 16), "ok", claims=CLAIMS)
    f.case("algorithms-fit-no-key", rs(), opts(["ES256"], publicKey=RSA_PUB), "alg_not_allowed")
    f.write()


# ---------------------------------------------------------------- attacks


def attacks_file():
    f = File(
        "attacks.json",
        "Known JWT attacks: alg none, empty signatures, RS256→HS256 key confusion, ECDSA r/s out of range "
        "(incl. CVE-2022-21449 r=s=0), foreign keys, tampering, jku/x5u/jwk/x5c headers, unknown crit.",
        {"rsa_spki": RSA_PUB, "p256_spki": P256_PUB, "p384_spki": P384_PUB, "ed25519_spki": ED_PUB,
         "secret": SECRET, "jwks": JWKS},
    )
    R = opts(["RS256"], publicKey=RSA_PUB)
    E = opts(["ES256"], publicKey=P256_PUB)
    E384 = opts(["ES384"], publicKey=P384_PUB)
    D = opts(["EdDSA"], publicKey=ED_PUB)
    H = opts(["HS256"], secret=SECRET)
    for alg in ["none", "None", "NONE", "nOnE", "none ", ""]:
        t = jws({"alg": alg, "typ": "JWT"}, CLAIMS, sig=b"")
        f.case(f"alg-{alg.strip() or 'empty'}{'-space' if alg.endswith(' ') else ''}-unsigned", t, R,
               "alg_not_allowed")
    f.case("alg-none-with-hmac-options", jws({"alg": "none"}, CLAIMS, sig=b""), H, "alg_not_allowed")
    f.case("alg-none-with-signature", with_sig(jws({"alg": "none"}, CLAIMS, sig=b""), sig_of(rs())), R,
           "alg_not_allowed")
    f.case("alg-missing", jws({"typ": "JWT"}, CLAIMS, sig=b""), R, "malformed")
    f.case("alg-duplicated-rs256-then-none", jws('{"alg":"RS256","alg":"none"}', CLAIMS, sig=sig_of(rs())), R,
           "malformed")
    f.case("empty-signature-rs256", with_sig(rs(), b""), R, "bad_signature")
    f.case("empty-signature-es256", with_sig(jws({"alg": "ES256"}, CLAIMS, P256), b""), E, "bad_signature")
    f.case("empty-signature-eddsa", with_sig(jws({"alg": "EdDSA"}, CLAIMS, ED), b""), D, "bad_signature")
    f.case("empty-signature-hs256", with_sig(jws({"alg": "HS256"}, CLAIMS, SECRET.encode()), b""), H, "bad_signature")
    # RS256 → HS256 key confusion: the attacker MACs with the public key's bytes.
    for form, pem in [("pem", RSA_PUB), ("pem-no-trailing-newline", RSA_PUB.strip())]:
        t = jws({"alg": "HS256", "typ": "JWT"}, CLAIMS, pem.encode())
        f.case(f"key-confusion-{form}-hs256-not-allowed", t, R, "alg_not_allowed")
        f.case(f"key-confusion-{form}-hs256-allowed", t, opts(["RS256", "HS256"], publicKey=RSA_PUB),
               "key_type_mismatch")
    t = jws({"alg": "HS256"}, CLAIMS, JWKS_ONE_RSA["keys"][0]["n"].encode())
    f.case("key-confusion-jwks-modulus-as-secret", t, opts(["RS256", "HS256"], jwks=JWKS_ONE_RSA), "key_type_mismatch")
    t = jws({"alg": "HS256"}, CLAIMS, P256_PUB.encode())
    f.case("key-confusion-ec-pem-as-secret", t, opts(["ES256", "HS256"], publicKey=P256_PUB), "key_type_mismatch")
    # ECDSA scalars out of range.
    es = jws({"alg": "ES256"}, CLAIMS, P256)
    r, s = sig_of(es)[:32], sig_of(es)[32:]
    n32 = P256_ORDER.to_bytes(32, "big")
    f.case("ecdsa-r-s-zero-cve-2022-21449", with_sig(es, bytes(64)), E, "bad_signature")
    f.case("ecdsa-r-zero", with_sig(es, bytes(32) + s), E, "bad_signature")
    f.case("ecdsa-s-zero", with_sig(es, r + bytes(32)), E, "bad_signature")
    f.case("ecdsa-r-equals-n", with_sig(es, n32 + s), E, "bad_signature")
    f.case("ecdsa-s-equals-n", with_sig(es, r + n32), E, "bad_signature")
    f.case("ecdsa-r-all-ones", with_sig(es, b"\xff" * 32 + s), E, "bad_signature")
    f.case("ecdsa-s-is-n-plus-s-mod-2-256", with_sig(es, r + ((int.from_bytes(s, "big") + P256_ORDER) % 2**256).to_bytes(32, "big")),
           E, "bad_signature")
    f.case("ecdsa-s-all-ones", with_sig(es, r + b"\xff" * 32), E, "bad_signature")
    f.case("ecdsa-r-s-one", with_sig(es, (1).to_bytes(32, "big") * 2), E, "bad_signature")
    der = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    f.case("ecdsa-der-encoded-signature", with_sig(es, der), E, "bad_signature")
    f.case("ecdsa-signature-one-byte-short", with_sig(es, sig_of(es)[:63]), E, "bad_signature")
    f.case("ecdsa-signature-padded-to-p384-size", with_sig(es, bytes(16) + r + bytes(16) + s), E, "bad_signature")
    es384 = jws({"alg": "ES384"}, CLAIMS, P384)
    f.case("ecdsa-p384-r-s-zero", with_sig(es384, bytes(96)), E384, "bad_signature")
    f.case("ecdsa-p384-s-equals-n", with_sig(es384, sig_of(es384)[:48] + P384_ORDER.to_bytes(48, "big")), E384,
           "bad_signature")
    ed = jws({"alg": "EdDSA"}, CLAIMS, ED)
    L = 2**252 + 27742317777372353535851937790883648493
    ed_s = int.from_bytes(sig_of(ed)[32:], "little")
    f.case("eddsa-s-plus-l-non-canonical", with_sig(ed, sig_of(ed)[:32] + (ed_s + L).to_bytes(32, "little")), D,
           "bad_signature")
    f.case("rsa-signature-equals-modulus",
           with_sig(rs(), RSA.public_key().public_numbers().n.to_bytes(256, "big")), R, "bad_signature")
    f.case("rsa-signature-plus-modulus",
           with_sig(rs(), (int.from_bytes(sig_of(rs()), "big") + RSA.public_key().public_numbers().n).to_bytes(257, "big")),
           R, "bad_signature")
    f.case("rsa-signature-leading-zero-byte", with_sig(rs(), b"\0" + sig_of(rs())), R, "bad_signature")
    # Signatures by other keys.
    f.case("rs256-signed-by-attacker", rs(key=RSA_ATK), R, "bad_signature")
    f.case("es256-signed-by-attacker", jws({"alg": "ES256"}, CLAIMS, P256_ATK), E, "bad_signature")
    f.case("eddsa-signed-by-attacker", jws({"alg": "EdDSA"}, CLAIMS, ED_ATK), D, "bad_signature")
    f.case("hs256-signed-with-attacker-secret", jws({"alg": "HS256"}, CLAIMS, ATK_SECRET.encode()), H, "bad_signature")
    f.case("hs256-secret-as-hs512-key", jws({"alg": "HS512"}, CLAIMS, ATK_SECRET.encode()),
           opts(["HS256", "HS512"], secret=SECRET), "bad_signature")
    # Tampering.
    good = rs()
    f.case("tampered-payload-sub", replace_segment(good, 1, claims(sub="admin")), R, "bad_signature")
    f.case("tampered-payload-exp", replace_segment(good, 1, claims(exp=EXP + 86400 * 365)), R, "bad_signature")
    f.case("tampered-header-extra-member", replace_segment(good, 0, {"alg": "RS256", "typ": "JWT", "x": 1}), R,
           "bad_signature")
    f.case("tampered-header-alg-rs512", replace_segment(good, 0, {"alg": "RS512", "typ": "JWT"}),
           opts(["RS256", "RS512"], publicKey=RSA_PUB), "bad_signature")
    f.case("tampered-header-alg-ps256", replace_segment(good, 0, {"alg": "PS256", "typ": "JWT"}),
           opts(["RS256", "PS256"], publicKey=RSA_PUB), "bad_signature")
    f.case("signature-byte-flipped-rs256", flip_sig_byte(good, 128), R, "bad_signature")
    f.case("signature-byte-flipped-eddsa", flip_sig_byte(ed, 5), D, "bad_signature")
    f.case("signature-byte-flipped-hs256", flip_sig_byte(jws({"alg": "HS256"}, CLAIMS, SECRET.encode()), 31), H,
           "bad_signature")
    f.case("signature-spliced-from-other-token", with_sig(rs(claims(sub="other")), sig_of(good)), R, "bad_signature")
    # Key-carrying headers are never trusted.
    atk_jwk = jwk(RSA_ATK.public_key(), kid="rsa-1")
    for name, hdr in [
        ("jku", {"alg": "RS256", "jku": "https://attacker.example/jwks.json"}),
        ("x5u", {"alg": "RS256", "x5u": "https://attacker.example/cert.pem"}),
        ("jwk", {"alg": "RS256", "jwk": atk_jwk}),
        ("x5c", {"alg": "RS256", "x5c": ["".join(RSA_ATK_CERT.splitlines()[1:-1])]}),
    ]:
        t = jws(hdr, CLAIMS, RSA_ATK)
        f.case(f"{name}-header-attacker-key-pem", t, R, "bad_signature")
        f.case(f"{name}-header-attacker-key-jwks-no-kid", t, opts(ALL_ASYM, jwks=JWKS), "unknown_key")
        f.case(f"{name}-header-attacker-key-one-key-jwks", t, opts(["RS256"], jwks=JWKS_ONE_RSA), "bad_signature")
        t = jws({**hdr, "kid": "attacker-1"}, CLAIMS, RSA_ATK)
        f.case(f"{name}-header-attacker-kid", t, opts(ALL_ASYM, jwks=JWKS), "unknown_key")
        t = jws({**hdr, "kid": "rsa-1"}, CLAIMS, RSA_ATK)
        f.case(f"{name}-header-real-kid", t, opts(ALL_ASYM, jwks=JWKS), "bad_signature")
    f.case("unknown-crit", jws({"alg": "RS256", "crit": ["exp"], "exp": 1}, CLAIMS, RSA), R, "malformed")
    f.case("crit-b64-false", jws({"alg": "RS256", "b64": False, "crit": ["b64"]}, CLAIMS, RSA), R, "malformed")
    f.case("crit-empty-array", jws({"alg": "RS256", "crit": []}, CLAIMS, RSA), R, "malformed")
    f.case("zip-deflate", jws({"alg": "RS256", "zip": "DEF"}, CLAIMS, RSA), R, "malformed")
    f.case("cty-nested-jwt", jws({"alg": "RS256", "cty": "JWT"}, CLAIMS, RSA), R, "malformed")
    # Order: the earlier rule's code wins.
    f.case("order-too-large-beats-malformed", "!" * 16385, R, "token_too_large")
    f.case("order-alg-none-beats-crit", jws({"alg": "none", "crit": ["x"]}, CLAIMS, sig=b""), R, "alg_not_allowed")
    f.case("order-crit-beats-unknown-kid", jws({"alg": "RS256", "kid": "nope", "crit": ["x"]}, CLAIMS, RSA),
           opts(ALL_ASYM, jwks=JWKS), "malformed")
    f.case("order-unknown-kid-beats-bad-signature", with_sig(jws({"alg": "RS256", "kid": "nope"}, CLAIMS, RSA), b"x"),
           opts(ALL_ASYM, jwks=JWKS), "unknown_key")
    f.case("order-bad-signature-beats-expired", rs(claims(exp=T - 3600), key=RSA_ATK), R, "bad_signature")
    f.case("order-bad-signature-beats-malformed-payload", jws({"alg": "RS256"}, "not json", RSA_ATK), R,
           "bad_signature")
    f.write()


# ---------------------------------------------------------------- structure (rules 2, 3, 8)


def structure_file():
    f = File(
        "structure.json",
        "Token structure and payload rules: size (2), segments and strict base64url (3), JSON header and "
        "payload (3, 8), claim types and ranges (8), nesting, duplicates. Payload cases are validly signed, "
        "so the payload rule is what fails.",
        {"secret": SECRET},
    )
    H = opts(["HS256"], secret=SECRET)
    K = SECRET.encode()

    def hs(payload, header=None):
        return jws(header or {"alg": "HS256"}, payload, K, alg="HS256")

    good = hs(CLAIMS)
    h, p, s = good.split(".")
    f.case("valid-baseline", good, H, "ok", claims=CLAIMS)
    for name, tok in [
        ("empty-string", ""),
        ("one-segment", h),
        ("two-segments", f"{h}.{p}"),
        ("four-segments", f"{good}.{s}"),
        ("five-segments-jwe-shape", f"{h}.{p}.{s}.{s}.{s}"),
        ("only-dots", ".."),
        ("empty-header", f".{p}.{s}"),
        ("plus-in-header", f"{h[:-1]}+.{p}.{s}"),
        ("slash-in-signature", f"{h}.{p}.{s[:-2]}/{s[-1]}"),
        ("asterisk-in-payload", f"{h}.{p[:5]}*{p[6:]}.{s}"),
        ("space-inside", f"{h}.{p} .{s}"),
        ("leading-space", f" {good}"),
        ("trailing-newline", f"{good}\n"),
        ("percent-encoded", f"{h}%2E{p}.{s}"),
        ("non-ascii-char", f"{h}.{p}é.{s}"),
        ("padding-on-signature", f"{good}="),
        ("padding-on-header", f"{h}=.{p}.{s}" if len(h) % 4 else f"{h}==.{p}.{s}"),
        ("signature-length-mod-4-is-1", f"{good}AA"),
    ]:
        f.case(name, tok, H, "malformed")
    # An empty segment is valid base64url: this unsigned empty payload fails at the signature (rule 7).
    f.case("empty-payload-segment-unsigned", f"{h}..{s}", H, "bad_signature")
    # 32-byte signature: 43 chars, the last carries 2 unused bits.
    last = s[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    f.case("signature-nonzero-unused-bits", f"{h}.{p}.{s[:-1]}{alphabet[alphabet.index(last) | 1]}", H, "malformed")
    f.case("header-not-json", hs(CLAIMS, header="not json"), H, "malformed")
    f.case("header-json-array", hs(CLAIMS, header='["HS256"]'), H, "malformed")
    f.case("header-json-string", hs(CLAIMS, header='"HS256"'), H, "malformed")
    f.case("header-with-bom", jws("\ufeff" + '{"alg":"HS256"}', CLAIMS, K, alg="HS256"), H, "malformed")
    f.case("header-not-utf8", jws(b'{"alg":"HS256","x":"\xff"}', CLAIMS, K, alg="HS256"), H, "malformed")
    f.case("header-trailing-comma", jws('{"alg":"HS256",}', CLAIMS, K, alg="HS256"), H, "malformed")
    f.case("header-alg-number", jws('{"alg":256}', CLAIMS, K, alg="HS256"), H, "malformed")
    f.case("header-alg-null", jws('{"alg":null}', CLAIMS, K, alg="HS256"), H, "malformed")
    f.case("header-duplicate-member", jws('{"alg":"HS256","typ":"JWT","typ":"JWT"}', CLAIMS, K, alg="HS256"), H,
           "malformed")
    deep_ok = '{"alg":"HS256","x":' + "[" * 63 + "]" * 63 + "}"
    deep_bad = '{"alg":"HS256","x":' + "[" * 64 + "]" * 64 + "}"
    f.case("header-nesting-64-ok", jws(deep_ok, CLAIMS, K, alg="HS256"), H, "ok", claims=CLAIMS)
    f.case("header-nesting-65", jws(deep_bad, CLAIMS, K, alg="HS256"), H, "malformed")
    for name, payload in [
        ("payload-not-json", "not json"),
        ("payload-json-array", "[1,2]"),
        ("payload-json-string", '"c_8f3a9b2e"'),
        ("payload-json-number", "1700003600"),
        ("payload-json-null", "null"),
        ("payload-empty", ""),
        ("payload-not-utf8", b'{"exp":1700003600,"sub":"\xc3\x28"}'),
        ("payload-with-bom", "\ufeff" + json.dumps(CLAIMS)),
        ("payload-lone-surrogate", '{"exp":1700003600,"sub":"\\ud800"}'),
        ("payload-nan", '{"exp":NaN}'),
        ("payload-infinite-number", '{"exp":1700003600,"x":1e400}'),
        ("payload-trailing-garbage", json.dumps(CLAIMS) + "x"),
        ("duplicate-claim-exp", '{"exp":1700003600,"exp":1700007200}'),
        ("duplicate-claim-sub", '{"sub":"a","exp":1700003600,"sub":"b"}'),
        ("duplicate-claim-escaped-name", '{"exp":1700003600,"\\u0065xp":1700007200}'),
        ("payload-nesting-65", '{"exp":1700003600,"x":' + "[" * 64 + "]" * 64 + "}"),
        # Far past the cap: the reader must stop at depth 65, not recurse on.
        ("payload-nesting-5000-arrays", '{"exp":1700003600,"x":' + "[" * 5000 + "]" * 5000 + "}"),
        ("payload-nesting-2000-objects", '{"exp":1700003600,"x":' + '{"a":' * 2000 + "1" + "}" * 2000 + "}"),
        ("payload-nesting-unclosed", '{"exp":1700003600,"x":' + "[" * 8000),
        ("payload-json-true", "true"),
        ("payload-empty-object", "{}"),
        ("payload-two-objects", json.dumps(CLAIMS) + json.dumps(CLAIMS)),
        ("exp-missing", claims(exp=None)),
        ("exp-string", claims(exp=str(EXP))),
        ("exp-negative", claims(exp=-1)),
        ("exp-huge", claims(exp=253402300800)),
        ("exp-1e300", '{"exp":1e300}'),
        ("exp-bool", claims(exp=True)),
        ("exp-null", '{"exp":null}'),
        ("exp-array", claims(exp=[EXP])),
        ("nbf-string", claims(nbf="0")),
        ("nbf-negative", claims(nbf=-1)),
        ("nbf-huge", claims(nbf=253402300800)),
        ("iat-string", claims(iat="now")),
        ("iat-negative", claims(iat=-0.5)),
        ("iat-huge", claims(iat=1e13)),
        ("iss-number", claims(iss=1)),
        ("sub-array", claims(sub=[SUB])),
        ("sub-null", '{"exp":1700003600,"sub":null}'),
        ("aud-number", claims(aud=1)),
        ("aud-array-with-number", claims(aud=[AUD, 1])),
        ("aud-object", claims(aud={"a": AUD})),
    ]:
        f.case(name, hs(payload), H, "malformed")
    for name, payload in [
        ("payload-nesting-64-ok", {"exp": EXP, "x": json.loads("[" * 63 + "]" * 63)}),
        ("exp-max-numeric-date", claims(exp=253402300799)),
        ("exp-float-accepted", claims(exp=EXP + 0.25)),
        ("exp-exponent-notation", '{"exp":1.7000036e9}'),
        ("iat-zero", claims(iat=0, nbf=0)),
        ("aud-array", claims(aud=["a", AUD])),
        ("aud-empty-array", claims(aud=[])),
        ("unicode-claims", claims(name="Zoë 😀", sub=SUB)),
        ("nbf-float-accepted", claims(nbf=T - 60.5)),
        ("iat-float-accepted", claims(iat=T - 0.001)),
        ("extra-whitespace-json", '{ "exp" : 1700003600 ,\r\n "sub" : "x" }'),
    ]:
        expected = payload if isinstance(payload, dict) else json.loads(payload)
        # Expected claims 63 levels deep would nest too deeply inside this file.
        f.case(name, hs(payload), H, "ok", claims=None if "nesting" in name else expected)
    # Size.
    big = claims(pad="x" * 50000)
    big_token = hs(big)
    assert len(big_token) > 64 * 1024
    f.case("token-64kib", big_token, H, "token_too_large")
    exact = None
    for pad in range(48000, 49000):
        candidate = hs(claims(pad="x" * pad))
        if len(candidate) == 65536:
            exact = candidate
            break
    assert exact is not None
    f.case("token-exactly-65536-bytes", exact, H, "token_too_large")
    f.case("token-exactly-65536-bytes-with-limit-65536", exact, opts(["HS256"], secret=SECRET, maxTokenBytes=65536),
           "ok")
    f.case("token-exactly-65536-bytes-with-limit-65535", exact, opts(["HS256"], secret=SECRET, maxTokenBytes=65535),
           "token_too_large")
    deep = '{"exp":1700003600,"x":' + "[" * 40000 + "]" * 40000 + "}"
    f.case("deep-nesting-40000-with-raised-limit", hs(deep), opts(["HS256"], secret=SECRET, maxTokenBytes=200000),
           "malformed")
    deep_header = '{"alg":"HS256","x":' + "[" * 5000 + "]" * 5000 + "}"
    f.case("header-nesting-5000", jws(deep_header, CLAIMS, K, alg="HS256"), H, "malformed")
    f.case("token-64kib-with-raised-limit", big_token, opts(["HS256"], secret=SECRET, maxTokenBytes=70000), "ok",
           claims=big)
    f.case("token-16385-bytes-of-garbage", "A" * 16385, H, "token_too_large")
    f.case("token-16384-bytes-of-garbage", "A" * 16384, H, "malformed")
    f.case("token-at-max-token-bytes", good, opts(["HS256"], secret=SECRET, maxTokenBytes=len(good)), "ok",
           claims=CLAIMS)
    f.case("token-one-over-max-token-bytes", good, opts(["HS256"], secret=SECRET, maxTokenBytes=len(good) - 1),
           "token_too_large")
    f.write()


# ---------------------------------------------------------------- header (rule 5)


def header_file():
    f = File(
        "header.json",
        "Header rules (5): no crit/zip/cty; typ must be JWT, at+jwt or application/at+jwt (case-insensitive) "
        "and match options.typ when set; unknown members are ignored.",
        {"rsa_spki": RSA_PUB},
    )
    R = opts(["RS256"], publicKey=RSA_PUB)
    for typ, expect in [("JWT", "ok"), ("jwt", "ok"), ("at+jwt", "ok"), ("AT+JWT", "ok"),
                        ("application/at+jwt", "ok"), ("Application/AT+JWT", "ok"), ("JOSE", "malformed"),
                        ("application/jwt", "malformed"), ("JWT ", "malformed"), ("", "malformed"),
                        ("dpop+jwt", "malformed")]:
        t = rs(header={"alg": "RS256", "typ": typ})
        f.case(f"typ-{typ or 'empty'}".replace(" ", "-space").replace("/", "-"), t, R, expect,
               claims=CLAIMS if expect == "ok" else None)
    for name, value in [("number", 1), ("null", None), ("array", ["JWT"])]:
        f.case(f"typ-{name}", rs(header={"alg": "RS256", "typ": value}), R, "malformed")
    f.case("typ-absent", rs(header={"alg": "RS256"}), R, "ok", claims=CLAIMS)
    AT = opts(["RS256"], publicKey=RSA_PUB, typ="at+jwt")
    f.case("option-typ-at-jwt-matches", rs(header={"alg": "RS256", "typ": "at+jwt"}), AT, "ok", claims=CLAIMS)
    f.case("option-typ-at-jwt-matches-application-form", rs(header={"alg": "RS256", "typ": "application/at+JWT"}), AT,
           "ok", claims=CLAIMS)
    f.case("option-typ-at-jwt-header-jwt", rs(header={"alg": "RS256", "typ": "JWT"}), AT, "malformed")
    f.case("option-typ-at-jwt-header-absent", rs(header={"alg": "RS256"}), AT, "malformed")
    f.case("option-typ-jwt-header-at-jwt", rs(header={"alg": "RS256", "typ": "at+jwt"}),
           opts(["RS256"], publicKey=RSA_PUB, typ="JWT"), "malformed")
    f.case("option-typ-application-form", rs(header={"alg": "RS256", "typ": "at+jwt"}),
           opts(["RS256"], publicKey=RSA_PUB, typ="application/at+jwt"), "ok", claims=CLAIMS)
    for member, value in [("crit", ["exp"]), ("zip", "DEF"), ("cty", "JWT"), ("cty", "application/json")]:
        f.case(f"{member}-{str(value).lower().replace('/', '-')}".replace("['exp']", "exp"),
               rs(header={"alg": "RS256", member: value}), R, "malformed")
    f.case("unknown-members-ignored", rs(header={"alg": "RS256", "typ": "JWT", "x-tenant": "t1", "iss": "h"}), R, "ok",
           claims=CLAIMS)
    f.case("kid-ignored-with-pem", rs(header={"alg": "RS256", "kid": "k"}), R, "ok", claims=CLAIMS)
    f.case("alg-lowercase", rs(header={"alg": "rs256"}), R, "alg_not_allowed")
    f.case("alg-with-space", rs(header={"alg": "RS256 "}), R, "alg_not_allowed")
    f.case("alg-es512-unsupported", jws({"alg": "ES512"}, CLAIMS, sig=b"\x01" * 132), R, "alg_not_allowed")
    f.write()


# ---------------------------------------------------------------- claims (rules 9, 10)


def claims_file():
    f = File(
        "claims.json",
        "Time (9) at both sides of every leeway edge, and issuer/audience/customer checks (10), in rule order.",
        {"secret": SECRET},
    )
    K = SECRET.encode()

    def hs(payload):
        return jws({"alg": "HS256"}, payload, K)

    def H(**o):
        return opts(["HS256"], secret=SECRET, **o)

    e, nb, ia = 2_000_000_000, 1_900_000_000, 1_900_000_000
    t_exp = hs({"exp": e})
    f.case("exp-last-ms-inside-leeway", t_exp, H(), "ok", (e + 30) * 1000 - 1, {"exp": e})
    f.case("exp-first-ms-past-leeway", t_exp, H(), "expired", (e + 30) * 1000)
    f.case("exp-leeway-0-last-ms", t_exp, H(leewaySeconds=0), "ok", e * 1000 - 1, {"exp": e})
    f.case("exp-leeway-0-at-exp", t_exp, H(leewaySeconds=0), "expired", e * 1000)
    f.case("exp-leeway-120-last-ms", t_exp, H(leewaySeconds=120), "ok", (e + 120) * 1000 - 1, {"exp": e})
    f.case("exp-leeway-120-edge", t_exp, H(leewaySeconds=120), "expired", (e + 120) * 1000)
    f.case("exp-fractional-leeway", t_exp, H(leewaySeconds=0.5), "expired", e * 1000 + 500)
    f.case("exp-fractional-leeway-inside", t_exp, H(leewaySeconds=0.5), "ok", e * 1000 + 499, {"exp": e})
    t_frac = hs({"exp": e + 0.75})
    f.case("exp-float-inside", t_frac, H(leewaySeconds=0), "ok", e * 1000 + 749, {"exp": e + 0.75})
    f.case("exp-float-edge", t_frac, H(leewaySeconds=0), "expired", e * 1000 + 750)
    t_nbf = hs({"exp": e, "nbf": nb})
    f.case("nbf-one-ms-before-leeway", t_nbf, H(), "not_yet_valid", (nb - 30) * 1000 - 1)
    f.case("nbf-first-ms-inside-leeway", t_nbf, H(), "ok", (nb - 30) * 1000, {"exp": e, "nbf": nb})
    f.case("nbf-leeway-0-before", t_nbf, H(leewaySeconds=0), "not_yet_valid", nb * 1000 - 1)
    f.case("nbf-leeway-0-at-nbf", t_nbf, H(leewaySeconds=0), "ok", nb * 1000, {"exp": e, "nbf": nb})
    t_iat = hs({"exp": e, "iat": ia})
    f.case("iat-one-ms-too-far-in-future", t_iat, H(), "not_yet_valid", (ia - 30) * 1000 - 1)
    f.case("iat-at-leeway-edge", t_iat, H(), "ok", (ia - 30) * 1000, {"exp": e, "iat": ia})
    f.case("iat-leeway-0-future", t_iat, H(leewaySeconds=0), "not_yet_valid", ia * 1000 - 1)
    f.case("iat-leeway-0-now", t_iat, H(leewaySeconds=0), "ok", ia * 1000, {"exp": e, "iat": ia})
    f.case("iat-in-past-fine", t_iat, H(), "ok", (e - 1) * 1000, {"exp": e, "iat": ia})
    f.case("option-now-overrides-clock", t_exp, H(now=e * 1000), "ok", (e + 10**6) * 1000, {"exp": e})
    f.case("option-now-overrides-clock-expired", t_exp, H(now=(e + 30) * 1000), "expired", 0)
    t_all = hs({"exp": e, "nbf": nb, "iat": ia})
    f.case("order-expired-before-nbf", hs({"exp": 1000, "nbf": nb}), H(), "expired", NOW)
    f.case("order-nbf-before-iat", t_all, H(), "not_yet_valid", 1000)

    base = hs(CLAIMS)
    f.case("issuer-equal", base, H(issuer=ISS), "ok", claims=CLAIMS)
    f.case("issuer-differs-in-case", base, H(issuer=ISS.upper()), "issuer_mismatch")
    f.case("issuer-trailing-slash", base, H(issuer=ISS + "/"), "issuer_mismatch")
    f.case("issuer-missing-claim", hs(claims(iss=None)), H(issuer=ISS), "issuer_mismatch")
    f.case("issuer-code-points-not-normalized", hs(claims(iss="https://caf\u00e9.example")),
           H(issuer="https://cafe\u0301.example"), "issuer_mismatch")
    f.case("issuer-unicode-equal", hs(claims(iss="https://caf\u00e9.example")), H(issuer="https://caf\u00e9.example"),
           "ok", claims=claims(iss="https://caf\u00e9.example"))
    f.case("audience-string", base, H(audience=AUD), "ok", claims=CLAIMS)
    f.case("audience-option-array-one-matches", base, H(audience=["other", AUD]), "ok", claims=CLAIMS)
    f.case("audience-claim-array-one-matches", hs(claims(aud=["x", AUD])), H(audience=AUD), "ok",
           claims=claims(aud=["x", AUD]))
    f.case("audience-mismatch", base, H(audience="Chat"), "audience_mismatch")
    f.case("audience-missing-claim", hs(claims(aud=None)), H(audience=AUD), "audience_mismatch")
    f.case("audience-empty-claim-array", hs(claims(aud=[])), H(audience=AUD), "audience_mismatch")
    f.case("customer-id-matches-sub", base, H(customerId=SUB), "ok", claims=CLAIMS)
    f.case("customer-id-differs", base, H(customerId="c_other"), "claim_mismatch")
    f.case("customer-id-differs-in-case", base, H(customerId=SUB.upper()), "claim_mismatch")
    f.case("customer-id-sub-missing", hs(claims(sub=None)), H(customerId=SUB), "claim_mismatch")
    f.case("customer-id-claim-custom", hs(claims(cid="x-42")), H(customerId="x-42", customerIdClaim="cid"), "ok",
           claims=claims(cid="x-42"))
    f.case("customer-id-claim-custom-differs", hs(claims(cid="x-42")), H(customerId=SUB, customerIdClaim="cid"),
           "claim_mismatch")
    f.case("customer-id-claim-number", hs(claims(cid=42)), H(customerId="42", customerIdClaim="cid"),
           "claim_mismatch")
    f.case("customer-id-claim-null-turns-off", base, H(customerId="c_other", customerIdClaim=None), "ok",
           claims=CLAIMS)
    f.case("no-customer-id-no-check", hs(claims(sub=None)), H(), "ok", claims=claims(sub=None))
    f.case("order-expired-before-issuer", hs(claims(exp=T - 3600)), H(issuer="x"), "expired")
    f.case("order-not-yet-valid-before-issuer", hs(claims(nbf=T + 3600)), H(issuer="x"), "not_yet_valid")
    f.case("order-issuer-before-audience", base, H(issuer="x", audience="x", customerId="x"), "issuer_mismatch")
    f.case("order-audience-before-customer", base, H(audience="x", customerId="x"), "audience_mismatch")
    f.case("all-checks-pass", base, H(issuer=ISS, audience=AUD, customerId=SUB), "ok", claims=CLAIMS)
    f.write()


# ---------------------------------------------------------------- options (rule 1)


def options_file():
    f = File(
        "options.json",
        "VerifyOptions validation (rule 1): every problem is invalid_config, checked before the token.",
        {"secret": SECRET, "rsa_spki": RSA_PUB},
    )
    good = jws({"alg": "HS256"}, CLAIMS, SECRET.encode())
    base = {"algorithms": ["HS256"], "secret": SECRET}
    f.case("baseline", good, base, "ok", claims=CLAIMS)
    for name, options in [
        ("algorithms-missing", {"secret": SECRET}),
        ("algorithms-empty", {**base, "algorithms": []}),
        ("algorithms-string", {**base, "algorithms": "HS256"}),
        ("algorithms-number-item", {**base, "algorithms": [256]}),
        ("algorithms-none", {**base, "algorithms": ["HS256", "none"]}),
        ("algorithms-None", {**base, "algorithms": ["None"]}),
        ("algorithms-NONE", {**base, "algorithms": ["NONE", "HS256"]}),
        ("algorithms-unknown", {**base, "algorithms": ["HS256", "HS1"]}),
        ("algorithms-lowercase", {**base, "algorithms": ["hs256"]}),
        ("algorithms-es512", {**base, "algorithms": ["HS256", "ES512"]}),
        ("no-key", {"algorithms": ["HS256"]}),
        ("two-keys", {**base, "publicKey": RSA_PUB}),
        ("three-keys", {**base, "publicKey": RSA_PUB, "jwks": JWKS_ONE_RSA}),
        ("secret-number", {**base, "secret": 12345}),
        ("secret-empty", {**base, "secret": ""}),
        ("public-key-object", {"algorithms": ["RS256"], "publicKey": {"pem": RSA_PUB}}),
        ("jwks-string", {"algorithms": ["RS256"], "jwks": json.dumps(JWKS_ONE_RSA)}),
        ("issuer-empty", {**base, "issuer": ""}),
        ("issuer-null", {**base, "issuer": None}),
        ("issuer-array", {**base, "issuer": [ISS]}),
        ("audience-empty-string", {**base, "audience": ""}),
        ("audience-empty-array", {**base, "audience": []}),
        ("audience-array-with-empty", {**base, "audience": [AUD, ""]}),
        ("audience-array-with-number", {**base, "audience": [AUD, 1]}),
        ("audience-number", {**base, "audience": 1}),
        ("customer-id-empty", {**base, "customerId": ""}),
        ("customer-id-number", {**base, "customerId": 42}),
        ("customer-id-claim-empty", {**base, "customerIdClaim": ""}),
        ("customer-id-claim-bool", {**base, "customerIdClaim": False}),
        ("leeway-negative", {**base, "leewaySeconds": -1}),
        ("leeway-string", {**base, "leewaySeconds": "30"}),
        ("leeway-null", {**base, "leewaySeconds": None}),
        ("now-negative", {**base, "now": -1}),
        ("now-string", {**base, "now": "2023-11-14"}),
        ("now-beyond-date-range", {**base, "now": 9e15}),
        ("max-token-bytes-zero", {**base, "maxTokenBytes": 0}),
        ("max-token-bytes-fraction", {**base, "maxTokenBytes": 100.5}),
        ("max-token-bytes-negative", {**base, "maxTokenBytes": -5}),
        ("max-token-bytes-huge", {**base, "maxTokenBytes": 1e12}),
        ("typ-unknown", {**base, "typ": "JOSE"}),
        ("typ-number", {**base, "typ": 1}),
        ("unknown-key", {**base, "issuers": [ISS]}),
        ("snake-case-key", {**base, "max_token_bytes": 100}),
        ("session-only-key", {**base, "jwksUrl": "https://auth.example.com/jwks"}),
        ("leeway-misspelled", {**base, "leeway": 30}),
    ]:
        f.case(name, good, options, "invalid_config")
    f.case("invalid-config-before-token-too-large", "A" * 20000, {**base, "issuer": ""}, "invalid_config")
    f.case("invalid-config-before-malformed", "not a token", {**base, "algorithms": ["none"]}, "invalid_config")
    f.case("customer-id-claim-null-ok", good, {**base, "customerIdClaim": None}, "ok", claims=CLAIMS)
    f.case("duplicate-algorithms-ok", good, {**base, "algorithms": ["HS256", "HS256"]}, "ok", claims=CLAIMS)
    f.case("leeway-zero-ok", good, {**base, "leewaySeconds": 0}, "ok", claims=CLAIMS)
    f.case("now-fractional-ms-floored", good, {**base, "now": NOW + 0.9}, "ok", claims=CLAIMS)
    f.write()


if __name__ == "__main__":
    rfc_file()
    algorithms_file()
    keys_file()
    attacks_file()
    structure_file()
    header_file()
    claims_file()
    options_file()
