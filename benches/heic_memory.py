"""Peak memory of Folio while 16 people upload a 12 MP HEIC at once: the server's RSS plus
that of its decoder children (`folio __decode heic`), sampled every 20 ms.

Usage: python benches/heic_memory.py BASE_URL SERVER_PID FILE [N]  (against `cargo run
--release`, run with FOLIO_TRUSTED_PROXIES=127.0.0.1 and FOLIO_SIGNUPS_PER_HOUR=0)
"""
import os
import re
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

BASE, PID, FILE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 16
PICTURE = open(FILE, "rb").read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())


def send(o, req):
    try:
        return o.open(req).status
    except urllib.error.HTTPError as e:
        return e.code


def token(o, path, client):
    req = urllib.request.Request(BASE + path, headers={"X-Forwarded-For": client})
    return re.search(r'name="csrf_token" value="([^"]+)"', o.open(req).read().decode()).group(1)


def register(i):
    o, client = session(), f"10.9.0.{i + 1}"
    fields = {"csrf_token": token(o, "/register", client), "username": f"heic{i}_{os.getpid()}",
              "email": f"heic{i}_{os.getpid()}@example.com", "password": "a-long-unusual-pass",
              "password_confirm": "a-long-unusual-pass"}
    req = urllib.request.Request(BASE + "/register", data=urllib.parse.urlencode(fields).encode(),
                                 headers={"X-Forwarded-For": client})
    assert send(o, req) == 303
    return o, client


def upload(o, client, statuses):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            f"{token(o, '/account', client)}\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"picture\"; filename=\"IMG_0001.HEIC\"\r\nContent-Type: image/heic\r\n\r\n").encode()
    body += PICTURE + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(BASE + "/account/picture", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Forwarded-For": client})
    statuses.append(send(o, req))


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    except (OSError, AttributeError):
        return 0


def children(pid):
    # A child belongs to the thread that started it: the blocking pool's, not the main one.
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return kids


sessions = [register(i) for i in range(N)]
peak = {"total": 0, "server": 0, "children": 0, "most_children": 0}
done = threading.Event()


def sample():
    while not done.is_set():
        kids = children(PID)
        server, kid_rss = rss_kb(PID), sum(rss_kb(k) for k in kids)
        peak["total"] = max(peak["total"], server + kid_rss)
        peak["server"] = max(peak["server"], server)
        peak["children"] = max(peak["children"], kid_rss)
        peak["most_children"] = max(peak["most_children"], len(kids))
        time.sleep(0.02)


before = rss_kb(PID)
sampler = threading.Thread(target=sample)
sampler.start()
statuses, started = [], time.perf_counter()
threads = [threading.Thread(target=upload, args=(o, c, statuses)) for o, c in sessions]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - started
done.set()
sampler.join()
print(f"{N} uploads of {FILE} ({len(PICTURE) / 1e6:.1f} MB): statuses {sorted(set(statuses))}, "
      f"{elapsed:.1f} s")
print(f"server RSS before {before / 1024:.0f} MB; peak server {peak['server'] / 1024:.0f} MB, "
      f"children {peak['children'] / 1024:.0f} MB (at most {peak['most_children']} at once), "
      f"server + children {peak['total'] / 1024:.0f} MB")
