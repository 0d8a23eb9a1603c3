"""Times signing in: the password step, the two-factor code step, and a passkey sign-in, each
at concurrency 4 (median and p99), with Argon2's cost beside them.

Usage: python3 benches/sign_in.py [FOLIO_BINARY] [ACCOUNTS]
  (default target/release/folio, 60 accounts; build it first with cargo build --release)

It starts Folio on a fresh SQLite database in a temporary folder (FOLIO_TRUSTED_PROXIES=
127.0.0.1, so each sign-in comes "from" its own client and no per-address throttle is met),
makes ACCOUNTS accounts with two-factor sign-in on and one passkey each (a software
authenticator here: ES256, "none" attestation, user verified), then signs each in twice:
password, then code (a code works once per 30 s step: set-up takes the step before now, the
sign-ins take now and the one after, which the server's one-step window accepts), and with
its passkey.
Only the standard library and `cryptography` (for the passkey's signatures).
"""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/folio"
ACCOUNTS = int(sys.argv[2]) if len(sys.argv) > 2 else 60
PASSWORD = "correct horse battery staple"
CONCURRENCY = 4


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie jar and a client address of its own."""

    count = 0

    def __init__(self, base):
        Browser.count += 1
        self.base = base
        self.client = f"10.{Browser.count // 65536 % 256}.{Browser.count // 256 % 256}.{Browser.count % 256}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(self, method, path, data=None, json_body=None, headers=None):
        body, h = None, {"X-Forwarded-For": self.client, "Origin": self.base}
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=body, headers=h, method=method)
        try:
            with self.opener.open(req) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers

    def csrf(self, path):
        _, html, _ = self.request("GET", path)
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1), html


def totp(secret_b32, step):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    h = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o : o + 4])[0] & 0x7FFFFFFF) % 1000000)


def pctl(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timed(fn, items):
    """Runs fn(item) for every item at CONCURRENCY; returns each call's seconds."""
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(fn, items))


def report(label, samples):
    ms = [s * 1000 for s in samples]
    print(
        f"| {label} | {len(ms)} | {statistics.median(ms):.1f} ms | {pctl(ms, 99):.1f} ms |"
    )


def start(folder):
    env = dict(
        os.environ,
        FOLIO_BIND="127.0.0.1:0",
        DATABASE_URL=os.path.join(folder, "folio.db"),
        FOLIO_MEDIA_DIR=os.path.join(folder, "media"),
        FOLIO_MAIL_DIR=os.path.join(folder, "mail"),
        FOLIO_SECRET_KEY_FILE=os.path.join(folder, "folio.key"),
        FOLIO_SIGNUPS_PER_HOUR="0",
        FOLIO_TRUSTED_PROXIES="127.0.0.1",
        RUST_LOG="warn,folio::startup=info",
    )
    log = open(os.path.join(folder, "log"), "w+")
    proc = subprocess.Popen([BINARY], env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        time.sleep(0.1)
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return proc, f"http://localhost:{m.group(1)}"
    proc.kill()
    log.seek(0)
    raise SystemExit("folio did not start:\n" + log.read()[-2000:])


def enrol(base, i):
    """An account with two-factor on; returns (username, base32 secret)."""
    b = Browser(base)
    name = f"bench{i}"
    token, _ = b.csrf("/register")
    status, _, _ = b.request(
        "POST",
        "/register",
        {"csrf_token": token, "username": name, "email": f"{name}@example.org",
         "password": PASSWORD, "password_confirm": PASSWORD},
    )
    assert status == 303, status
    token, _ = b.csrf("/account/security")
    b.request("POST", "/account/totp/start", {"csrf_token": token, "password": PASSWORD})
    _, html = b.csrf("/account/security")
    secret = re.search(r'id="totp-secret"[^>]*>([^<]+)<', html).group(1).replace(" ", "")
    step = int(time.time()) // 30 - 1
    status, _, _ = b.request("POST", "/account/totp/confirm", {"csrf_token": token, "code": totp(secret, step)})
    assert status == 303, status
    return name, secret, step


def main():
    folder = tempfile.mkdtemp(prefix="folio-sign-in-")
    proc, base = start(folder)
    try:
        print(f"Folio {BINARY}, {ACCOUNTS} accounts, concurrency {CONCURRENCY}; "
              "Argon2id m=19456 KiB, t=2, p=1 (src/auth/password.rs)")
        accounts = [enrol(base, i) for i in range(ACCOUNTS)]
        pending = {}

        def password_step(item):
            name, secret, step = item
            b = Browser(base)
            token, _ = b.csrf("/login")
            t = time.perf_counter()
            status, _, headers = b.request("POST", "/login", {"csrf_token": token, "username": name, "password": PASSWORD, "next": "/"})
            took = time.perf_counter() - t
            assert status == 303 and headers.get("Location") == "/login/two-factor", (status, headers)
            token, _ = b.csrf("/login/two-factor")
            pending[(name, step)] = (b, token)
            return took

        def code_step(item):
            name, secret, step = item
            b, token = pending[(name, step)]
            t = time.perf_counter()
            status, body, headers = b.request("POST", "/login/two-factor", {"csrf_token": token, "code": totp(secret, step)})
            took = time.perf_counter() - t
            assert status == 303, (status, body[:300])
            return took

        # Each account signs in twice, with the codes of the two steps after its set-up's.
        password, code = [], []
        for r in (1, 2):
            batch = [(name, secret, last + r) for name, secret, last in accounts]
            password += timed(password_step, batch)
            code += timed(code_step, batch)
        print("| step | sign-ins | median | p99 |\n| --- | --- | --- | --- |")
        report("password (Argon2id verify)", password)
        report("two-factor code", code)
        passkey = passkey_sign_ins(base, [pending[(name, last + 2)][0] for name, _, last in accounts])
        if passkey:
            report("passkey (no password, no code)", passkey)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value):
    """The little CBOR WebAuthn needs: ints, byte and text strings, maps."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for size, code in ((1, 24), (2, 25), (4, 26), (8, 27)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | code]) + n.to_bytes(size, "big")
        raise ValueError(n)
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(value)


class SoftPasskey:
    """A discoverable, user-verifying ES256 authenticator ("none" attestation)."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.user_handle = None

    def auth_data(self, rp_id, flags, attested=b""):
        self.counter += 1
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + self.counter.to_bytes(4, "big") + attested

    def create(self, options, origin):
        pk = options["publicKey"]
        self.user_handle = unb64u(pk["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cose
        client = json.dumps({"type": "webauthn.create", "challenge": pk["challenge"], "origin": origin, "crossOrigin": False}).encode()
        auth = self.auth_data(pk["rp"]["id"], 0x45, attested)  # UP, UV, AT
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth})
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id), "type": "public-key",
                "response": {"attestationObject": b64u(attestation), "clientDataJSON": b64u(client)},
                "extensions": {}}

    def get(self, options, origin):
        pk = options["publicKey"]
        client = json.dumps({"type": "webauthn.get", "challenge": pk["challenge"], "origin": origin, "crossOrigin": False}).encode()
        auth = self.auth_data(pk["rpId"], 0x05)  # UP, UV
        signature = self.key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id), "type": "public-key",
                "response": {"authenticatorData": b64u(auth), "clientDataJSON": b64u(client),
                             "signature": b64u(signature), "userHandle": b64u(self.user_handle)},
                "extensions": {}}


def passkey_sign_ins(base, browsers):
    """Adds a passkey to the account of each logged-in browser, then signs each in with it
    (twice); each sign-in's seconds (its options request and its finish, as a browser makes
    them). None while Folio has no passkeys."""
    keys = []
    for b in browsers:
        token, _ = b.csrf("/account/security")
        status, body, _ = b.request("POST", "/account/passkeys/options", json_body={"password": PASSWORD, "name": "bench"}, headers={"X-CSRF-Token": token})
        if status == 404:
            return None
        assert status == 200, (status, body[:300])
        started = json.loads(body)
        key = SoftPasskey()
        credential = key.create(started["options"], base)
        status, body, _ = b.request("POST", "/account/passkeys", json_body={"challenge": started["challenge"], "name": "bench", "credential": credential}, headers={"X-CSRF-Token": token})
        assert status == 200, (status, body[:300])
        keys.append(key)

    def sign_in(key):
        b = Browser(base)
        token, _ = b.csrf("/login")
        t = time.perf_counter()
        status, body, _ = b.request("POST", "/login/passkey/options", json_body={}, headers={"X-CSRF-Token": token})
        assert status == 200, (status, body[:300])
        started = json.loads(body)
        credential = key.get(started["options"], base)
        status, body, _ = b.request("POST", "/login/passkey", json_body={"challenge": started["challenge"], "next": "/", "credential": credential}, headers={"X-CSRF-Token": token})
        took = time.perf_counter() - t
        assert status == 200, (status, body[:300])
        return took

    return timed(sign_in, keys + keys)


if __name__ == "__main__":
    main()
