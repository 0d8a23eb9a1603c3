"""Two Folio instances on PostgreSQL, under light load, while the database stops for a while.

Usage: python3 benches/outage.py [--binary target/debug/folio] [--seconds-down 7]
                                 [--closed-loop] [--keep-logs DIR]

The contract it measures: while the database cannot be reached after start, every page answers
a 503 page (the API a 503 problem) within 2 seconds, with Retry-After; /healthz answers 503;
service resumes by itself when the database is back; the log says so once when the outage
starts ("the database cannot be reached: answering 503 until it can", ERROR) and once when it
ends ("the database answers again", INFO).

What it does: a throwaway PostgreSQL cluster on loopback from Debian's packages (as
tests/common/postgres.rs makes one: initdb and pg_ctl as the `postgres` user when run as root),
two instances of the binary against it (FOLIO_BIND=127.0.0.1:0, a shared FOLIO_SECRET_KEY,
RUST_LOG unset), a member registered through the forms, then ~10 requests/s per instance over
/, /users, /api/v1/users/NAME, /login (anonymous), /account (the member's cookie) and /healthz,
from two threads per instance (the rate holds however slow the answers; --closed-loop: each
thread waits for its answer, so slow answers lower the rate).
After ~4 s the cluster stops (pg_ctl stop -m fast) for --seconds-down seconds, starts again, and
the load goes on ~6 s more. It prints, per phase and path, the statuses and latencies, whether
every answer during the outage was the contract's 503, how long after the restart each instance
served a page again, and each instance's ERROR and WARN log lines. Everything (instances,
cluster, temp folder) is removed at the end, also on Ctrl-C or an error. Standard library only;
all traffic goes to 127.0.0.1.
"""
import argparse
import base64
import collections
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PAGES = ("/", "/users", "/login", "/account")
BEFORE_SECS = 4.0
AFTER_SECS = 6.0
RATE_PER_INSTANCE = 10.0  # requests per second, over all of an instance's threads
THREADS_PER_INSTANCE = 2
CLIENT_TIMEOUT = 10.0
LIMIT_SECS = 2.0  # the contract's answer time while the database is down
OUTAGE_LINES = ("the database cannot be reached", "the database answers again")


def log(message):
    print(f"[outage] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- PostgreSQL


def running_as_root():
    return os.geteuid() == 0


def find_pg_binaries():
    """The newest /usr/lib/postgresql/N/bin (Debian keeps them off PATH), or initdb on PATH."""
    versions = []
    try:
        for name in os.listdir("/usr/lib/postgresql"):
            bin_dir = os.path.join("/usr/lib/postgresql", name, "bin")
            if name.isdigit() and os.path.exists(os.path.join(bin_dir, "initdb")):
                versions.append((int(name), bin_dir))
    except FileNotFoundError:
        pass
    if versions:
        return max(versions)[1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return os.path.dirname(initdb)
    sys.exit("PostgreSQL's initdb was not found (apt-get install postgresql)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, root):
        self.root = root
        self.bin = find_pg_binaries()
        self.data = os.path.join(root, "pg", "data")
        self.sockets = os.path.join(root, "pg")
        self.logfile = os.path.join(root, "pg", "log")
        self.port = None
        self.initialised = False

    def pg(self, program, *args, check=True):
        """Runs one of the cluster's programs, as `postgres` when we are root."""
        command = [os.path.join(self.bin, program), *args]
        if running_as_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.sockets, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}")
        return done

    def create(self):
        os.makedirs(self.sockets)
        if running_as_root():
            subprocess.run(["chown", "-R", "postgres:postgres", self.sockets], check=True)
        self.pg("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C.UTF-8", "-N")
        self.initialised = True
        self.port = free_port()
        self.start()
        self.pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "folio")

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.sockets} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self.pg("pg_ctl", "-D", self.data, "-l", self.logfile, "-o", options, "-w", "start")

    def stop(self, mode="fast", check=True):
        return self.pg("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=check)

    def destroy(self):
        if self.initialised:
            done = self.pg("pg_ctl", "-D", self.data, "status", check=False)
            if done.returncode == 0:
                self.stop("immediate", check=False)

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/folio"


# ---------------------------------------------------------------- Folio instances


class Instance:
    def __init__(self, number, binary, root, database_url, secret_key):
        self.number = number
        self.dir = os.path.join(root, f"folio{number}")
        os.makedirs(self.dir)
        self.logfile = os.path.join(self.dir, "folio.log")
        # What an operator's service gets: no FOLIO_ setting from this shell, the default log
        # filter, and no backtraces (a developer's RUST_BACKTRACE=1 adds ~80 lines to each
        # unexpected error's log line).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FOLIO_")
               and k not in ("DATABASE_URL", "RUST_LOG", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}
        env.update({
            "DATABASE_URL": database_url,
            "FOLIO_BIND": "127.0.0.1:0",
            "FOLIO_SECRET_KEY": secret_key,
            "FOLIO_MEDIA_DIR": os.path.join(self.dir, "media"),
            "FOLIO_MAIL_DIR": os.path.join(self.dir, "mail"),
        })
        self._log = open(self.logfile, "wb")
        # Its own folder as working directory: no .env of the repository is read.
        self.process = subprocess.Popen([binary], cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.host = None
        self.port = None

    def wait_listening(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.logfile, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            found = re.search(r"listening on http://([0-9.]+):(\d+)", text)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"instance {self.number} exited ({self.process.returncode}):\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"instance {self.number} did not say where it listens in {timeout} s")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def log_text(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")


# ---------------------------------------------------------------- HTTP


def request(instance, method, path, cookie=None, body=None, timeout=CLIENT_TIMEOUT):
    """One request on a new connection, no redirect followed: (status, headers, body)."""
    conn = http.client.HTTPConnection(instance.host, instance.port, timeout=timeout)
    try:
        headers = {"Accept": "text/html,application/json;q=0.9,*/*;q=0.8"}
        if cookie:
            headers["Cookie"] = cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(body).encode()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheaders(), data
    finally:
        conn.close()


def set_cookies(headers, jar):
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            jar[key.strip()] = val.strip()


def cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def register(instance, username, password):
    """Registers through the forms; the logged-in session's Cookie header."""
    jar = {}
    status, headers, body = request(instance, "GET", "/register")
    if status != 200:
        raise RuntimeError(f"GET /register: {status}")
    set_cookies(headers, jar)
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    if not token:
        raise RuntimeError("GET /register: no csrf_token")
    status, headers, body = request(instance, "POST", "/register", cookie=cookie_header(jar), body={
        "csrf_token": token.group(1).decode(), "username": username,
        "email": f"{username}@example.com", "password": password, "password_confirm": password,
    })
    if status != 303:
        raise RuntimeError(f"POST /register: {status} {body[:500]!r}")
    set_cookies(headers, jar)
    cookie = cookie_header(jar)
    status, _, _ = request(instance, "GET", "/account", cookie=cookie)
    if status != 200:
        raise RuntimeError(f"GET /account after registering: {status}")
    return cookie


Result = collections.namedtuple(
    "Result", "sent instance path status latency retry_after content_type detail")


def one(instance, path, cookie, t0, results, lock):
    """One request, recorded: (sent, instance, path, status, latency, Retry-After, type)."""
    sent = time.monotonic()
    try:
        status, headers, body = request(instance, "GET", path,
                                        cookie=cookie if path == "/account" else None)
        latency = time.monotonic() - sent
        h = {k.lower(): v for k, v in headers}
        retry = "retry-after" in h
        ctype = h.get("content-type", "").split(";")[0].strip()
        detail = body[:300].decode("utf-8", "replace") if status >= 500 and status != 503 else ""
    except Exception as e:  # a timeout, a refused or reset connection: recorded as such
        latency = time.monotonic() - sent
        status, retry, ctype, detail = f"error:{type(e).__name__}", False, "", str(e)
    with lock:
        results.append(Result(sent - t0, instance.number, path, status, latency, retry, ctype,
                              detail))


def load(instance, offset, paths, cookie, t0, stop, results, lock, closed_loop, workers):
    """One thread's loop over the paths, at RATE_PER_INSTANCE / THREADS_PER_INSTANCE a second.

    By default the rate holds whatever the latency (each request on a short-lived thread of
    its own, as independent visitors keep arriving); with closed_loop a thread waits for each
    answer before the next request, so slow answers lower the rate."""
    interval = THREADS_PER_INSTANCE / RATE_PER_INSTANCE
    next_at = time.monotonic() + offset * interval / len(paths)
    i = offset
    while not stop.is_set():
        delay = next_at - time.monotonic()
        if delay > 0 and stop.wait(delay):
            break
        next_at = max(next_at + interval, time.monotonic())
        path = paths[i % len(paths)]
        i += 1
        if closed_loop:
            one(instance, path, cookie, t0, results, lock)
        else:
            worker = threading.Thread(target=one, daemon=True,
                                      args=(instance, path, cookie, t0, results, lock))
            worker.start()
            with lock:
                workers.append(worker)


# ---------------------------------------------------------------- report


def kind(path):
    if path.startswith("/api/"):
        return "api"
    if path == "/healthz":
        return "healthz"
    return "page"


def fmt_ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def report(results, marks, instances, seconds_down):
    t_stop, t_stopped, t_start, t_started, t_end = (
        marks["stop"], marks["stopped"], marks["start"], marks["started"], marks["end"])
    out = []
    p = out.append
    # The member's name changes from run to run: the API path is shown with NAME.
    results = [r._replace(path=re.sub(r"^/api/v1/users/[^/]+$", "/api/v1/users/NAME", r.path))
               for r in results]

    def phase(r):
        if r.sent < t_stop:
            return "before"
        if r.sent < t_stopped:
            return "stopping"
        if r.sent < t_start:
            return "down"
        if r.sent < t_started:
            return "starting"
        return "after"

    p(f"timeline (s from the first request): stop issued {t_stop:.2f}, stopped {t_stopped:.2f}, "
      f"start issued {t_start:.2f}, accepting again {t_started:.2f}, load ended {t_end:.2f} "
      f"(database down {t_started - t_stop:.2f} s, asked for {seconds_down} s)")
    p(f"requests: {len(results)}")
    p("")
    p("phase     path                   n  statuses                     median      max")
    order = ["before", "stopping", "down", "starting", "after"]
    groups = collections.defaultdict(list)
    for r in results:
        groups[(phase(r), r.path)].append(r)
    paths = sorted({r.path for r in results}, key=lambda x: (kind(x), x))
    for ph in order:
        for path in paths:
            rs = groups.get((ph, path))
            if not rs:
                continue
            counts = collections.Counter(str(r.status) for r in rs)
            statuses = " ".join(f"{s}x{n}" for s, n in sorted(counts.items()))
            lat = [r.latency for r in rs]
            p(f"{ph:9} {path:20} {len(rs):3}  {statuses:27} {fmt_ms(statistics.median(lat)):>8} "
              f"{fmt_ms(max(lat)):>8}")
    p("")

    # The outage proper: sent after the stop returned and answered before the start was issued.
    outage = [r for r in results if r.sent >= t_stopped and r.sent + r.latency <= t_start]
    wrong = []
    for r in outage:
        want_type = {"api": "application/problem+json", "page": "text/html",
                     "healthz": None}[kind(r.path)]
        problems = []
        if r.status != 503:
            problems.append(f"status {r.status}")
        if not r.retry_after:
            problems.append("no Retry-After")
        if want_type and r.content_type != want_type:
            problems.append(f"content type {r.content_type or 'none'}")
        if r.latency > LIMIT_SECS:
            problems.append(f"{fmt_ms(r.latency)}")
        if problems:
            wrong.append((r, problems))
    p(f"outage (sent and answered between the stop and the restart): {len(outage)} requests")
    if not outage:
        p("  none: the outage window is empty")
    elif not wrong:
        p("  every one a 503 with Retry-After, application/problem+json for /api/, text/html for "
          f"pages, within {LIMIT_SECS:.0f} s")
    else:
        p(f"  {len(wrong)} break the contract:")
        for r, problems in wrong[:40]:
            p(f"    t={r.sent:6.2f} instance {r.instance} {r.path}: {', '.join(problems)}")
        if len(wrong) > 40:
            p(f"    ... and {len(wrong) - 40} more")
    down_all = [r for r in results if t_stop <= r.sent < t_started]
    if down_all:
        worst = max(down_all, key=lambda r: r.latency)
        p(f"longest answer sent while the database was down (stop issued .. accepting again): "
          f"{fmt_ms(worst.latency)} (instance {worst.instance} {worst.path} -> {worst.status}, "
          f"t={worst.sent:.2f})")
        for k in ("page", "api", "healthz"):
            rs = [r.latency for r in down_all if kind(r.path) == k]
            if rs:
                p(f"  {k:8} n={len(rs):3} median {fmt_ms(statistics.median(rs))}, max {fmt_ms(max(rs))}")
    slow = [r for r in results if r.latency > LIMIT_SECS]
    p(f"answers slower than {LIMIT_SECS:.0f} s in the whole run: {len(slow)}")
    for r in slow[:20]:
        p(f"    t={r.sent:6.2f} instance {r.instance} {r.path} -> {r.status} in {fmt_ms(r.latency)}")
    p("")

    p("service after the restart (from pg_ctl start -w returning; a negative time: answered "
      "between the start being issued and it returning):")
    for inst in instances:
        mine = [r for r in results if r.instance == inst.number]
        done = lambda r: r.sent + r.latency  # noqa: E731
        first_page = min((r for r in mine if kind(r.path) == "page" and r.status == 200
                          and done(r) >= t_start), key=done, default=None)
        last_non200 = max((r for r in mine if kind(r.path) == "page" and r.status != 200
                            and r.sent >= t_stop), key=done, default=None)
        first_health = min((r for r in mine if r.path == "/healthz" and r.status == 200
                            and done(r) >= t_start), key=done, default=None)
        line = f"  instance {inst.number}: "
        if first_page:
            line += (f"first page 200 {done(first_page) - t_started:+.2f} s ({first_page.path}, "
                     f"sent {first_page.sent - t_started:+.2f} s)")
        else:
            line += "no page answered 200 after the restart"
        if first_health:
            line += f"; first /healthz 200 {done(first_health) - t_started:+.2f} s"
        if last_non200:
            line += (f"; last page not 200: {last_non200.path} -> {last_non200.status}, answered "
                     f"{done(last_non200) - t_started:+.2f} s")
        p(line)
        after = [r for r in mine if r.sent >= t_started + 2.0]
        bad_after = [r for r in after if r.status != 200]
        if bad_after:
            p(f"    {len(bad_after)} of {len(after)} requests sent 2 s or more after the restart "
              f"were not 200: {collections.Counter((r.path, r.status) for r in bad_after)}")
    p("")

    errors = [r for r in results if isinstance(r.status, int) and r.status >= 500
              and r.status != 503]
    failures = [r for r in results if not isinstance(r.status, int)]
    p(f"5xx other than 503: {len(errors)}")
    for r in errors[:20]:
        p(f"    t={r.sent:6.2f} instance {r.instance} {r.path} -> {r.status} in {fmt_ms(r.latency)} "
          f"({r.content_type or 'no content type'}): {r.detail[:200]!r}")
    if failures:
        p(f"requests without an answer (timeouts, refused or reset connections): {len(failures)}")
        for r in failures[:20]:
            p(f"    t={r.sent:6.2f} instance {r.instance} {r.path} -> {r.status} after "
              f"{fmt_ms(r.latency)}: {r.detail}")
    p("")

    for inst in instances:
        text = inst.log_text().splitlines()
        errs = [line for line in text if " ERROR " in line]
        warns = [line for line in text if " WARN " in line]
        p(f"instance {inst.number} log: {len(text)} lines, {len(errs)} at ERROR, {len(warns)} at "
          f"WARN")
        for line in text:
            if any(s in line for s in OUTAGE_LINES):
                p(f"    {line}")
        others = [line for line in errs + warns if not any(s in line for s in OUTAGE_LINES)]
        if others:
            # The same message many times: counted once, by what follows the timestamp.
            by_message = collections.Counter(re.sub(r"^\S+\s+", "", line) for line in others)
            p(f"  other ERROR/WARN lines ({len(others)}, {len(by_message)} distinct):")
            for message, n in by_message.most_common(15):
                p(f"    {n:4} x {message[:400]}")
    return "\n".join(out)


# ---------------------------------------------------------------- main


def interrupted(signum, frame):
    """SIGTERM cleans up as Ctrl-C does."""
    raise KeyboardInterrupt


def main():
    global RATE_PER_INSTANCE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="target/debug/folio")
    parser.add_argument("--seconds-down", type=float, default=7.0)
    parser.add_argument("--closed-loop", action="store_true",
                        help="each load thread waits for an answer before its next request "
                             "(slow answers then lower the rate); by default the rate holds")
    parser.add_argument("--rate", type=float, default=RATE_PER_INSTANCE,
                        help="requests per second per instance (default %(default)s)")
    parser.add_argument("--keep-logs", metavar="DIR",
                        help="copy the instances' and PostgreSQL's logs here before cleaning up")
    args = parser.parse_args()
    RATE_PER_INSTANCE = args.rate
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary}: not an executable (cargo build first)")

    signal.signal(signal.SIGTERM, interrupted)

    root = tempfile.mkdtemp(prefix="folio-outage-")
    os.chmod(root, 0o755)  # the postgres user reaches its folder inside
    cluster = Cluster(root)
    instances = []
    stop_load = threading.Event()
    threads, workers = [], []
    try:
        log(f"PostgreSQL from {cluster.bin}, in {root}")
        cluster.create()
        log(f"cluster on 127.0.0.1:{cluster.port}, database folio")
        secret = base64.b64encode(secrets.token_bytes(64)).decode()
        for n in (1, 2):
            instances.append(Instance(n, binary, root, cluster.url(), secret))
        for inst in instances:
            inst.wait_listening()
            log(f"instance {inst.number} on http://{inst.host}:{inst.port}")

        username = "outage_" + secrets.token_hex(4)
        cookie = register(instances[0], username, "a-long-unusual-pass-" + secrets.token_hex(4))
        log(f"registered {username}")
        paths = ["/", "/users", f"/api/v1/users/{username}", "/login", "/account", "/healthz"]

        results, lock = [], threading.Lock()
        t0 = time.monotonic()
        for inst in instances:
            for k in range(THREADS_PER_INSTANCE):
                # Each thread starts half-way through the list from its sibling.
                offset = k * len(paths) // THREADS_PER_INSTANCE
                th = threading.Thread(target=load, daemon=True,
                                      args=(inst, offset, paths, cookie, t0, stop_load, results,
                                            lock, args.closed_loop, workers))
                th.start()
                threads.append(th)
        marks = {}
        time.sleep(BEFORE_SECS)
        marks["stop"] = time.monotonic() - t0
        log("stopping PostgreSQL")
        cluster.stop("fast")
        marks["stopped"] = time.monotonic() - t0
        time.sleep(max(0.0, args.seconds_down - (marks["stopped"] - marks["stop"])))
        marks["start"] = time.monotonic() - t0
        log("starting PostgreSQL")
        cluster.start()
        marks["started"] = time.monotonic() - t0
        time.sleep(AFTER_SECS)
        stop_load.set()
        for th in threads:
            th.join(CLIENT_TIMEOUT + 5)
        with lock:
            in_flight = list(workers)
        for th in in_flight:  # each ends within the client timeout
            th.join(CLIENT_TIMEOUT + 5)
        marks["end"] = time.monotonic() - t0
        for inst in instances:
            inst.stop()
        with lock:
            done = sorted(results, key=lambda r: r.sent)
        print(f"binary {binary}, PostgreSQL {os.path.basename(os.path.dirname(cluster.bin))}, "
              f"{len(instances)} instances, ~{RATE_PER_INSTANCE:.0f} requests/s each "
              f"({'closed loop: ' if args.closed_loop else 'held: '}"
              f"{THREADS_PER_INSTANCE} threads per instance), down {args.seconds_down:g} s")
        print(report(done, marks, instances, args.seconds_down))
    finally:
        stop_load.set()
        for inst in instances:
            try:
                inst.stop()
            except Exception as e:
                log(f"stopping instance {inst.number}: {e}")
        try:
            cluster.destroy()
        except Exception as e:
            log(f"stopping PostgreSQL: {e}")
        if args.keep_logs:
            os.makedirs(args.keep_logs, exist_ok=True)
            for inst in instances:
                if os.path.exists(inst.logfile):
                    shutil.copy(inst.logfile, os.path.join(args.keep_logs, f"folio{inst.number}.log"))
            if os.path.exists(cluster.logfile):
                shutil.copy(cluster.logfile, os.path.join(args.keep_logs, "postgresql.log"))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
