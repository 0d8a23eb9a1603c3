"""Times /password/forgot for addresses with and without an account, interleaved.

Usage: python benches/forgot_timing.py BASE_URL N  (against `cargo run --release`)
The server must run with FOLIO_TRUSTED_PROXIES=127.0.0.1 and FOLIO_SIGNUPS_PER_HOUR=0: each
request comes "from" its own client (X-Forwarded-For) and names its own address, so no
throttle is reached.
"""
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

BASE, N = sys.argv[1], int(sys.argv[2])


def opener():
    jar = CookieJar()
    o = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    o.addheaders = []
    return o


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session():
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def token(o, path, client):
    req = urllib.request.Request(BASE + path, headers={"X-Forwarded-For": client})
    html = o.open(req).read().decode()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post(o, path, fields, client):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(BASE + path, data=data, headers={"X-Forwarded-For": client})
    try:
        r = o.open(req)
        return r.status
    except urllib.error.HTTPError as e:
        return e.code


for i in range(N):
    o = session()
    client = f"10.1.{i // 250}.{i % 250 + 1}"
    t = token(o, "/register", client)
    status = post(o, "/register", {"csrf_token": t, "username": f"known{i}", "email": f"known{i}@example.com",
                                    "password": "a-long-unusual-pass", "password_confirm": "a-long-unusual-pass"}, client)
    assert status == 303, status

times = {"known": [], "unknown": []}
for round_ in range(3):
    for i in range(N):
        for kind in ("known", "unknown"):
            o = session()
            client = f"10.{2 + round_}.{i // 250}.{i % 250 + 1}" if kind == "known" else f"10.{20 + round_}.{i // 250}.{i % 250 + 1}"
            t = token(o, "/password/forgot", client)
            address = f"{kind}{i}@example.com" if round_ == 0 else f"{kind}{i}+r{round_}@example.com" if kind == "unknown" else f"known{i}@example.com"
            start = time.perf_counter()
            status = post(o, "/password/forgot", {"csrf_token": t, "email": address}, client)
            times[kind].append((time.perf_counter() - start) * 1000)
            assert status == 303, (kind, status)

for kind, ms in times.items():
    ms.sort()
    print(f"{kind:8} n={len(ms)} median {statistics.median(ms):.2f} ms  p90 {ms[int(len(ms) * 0.9)]:.2f} ms  mean {statistics.mean(ms):.2f} ms")
