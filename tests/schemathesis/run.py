#!/usr/bin/env python3
"""Schemathesis against a live Folio, as a program's author would run it.

Starts the `folio` binary given as the first argument on a free loopback port with a fresh
database and media folder, registers a member through the HTML forms, makes a write token on
the account page, then runs Schemathesis over every operation of /api/v1/openapi.json with
that token and the default checks. The remaining arguments go to `schemathesis run`.

Exits with Schemathesis's status; the server is stopped either way.
"""

import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def start(binary, folder):
    env = dict(os.environ)
    env.update(
        {
            "FOLIO_BIND": "127.0.0.1:0",
            "DATABASE_URL": os.path.join(folder, "folio.db"),
            "FOLIO_MEDIA_DIR": os.path.join(folder, "media"),
            "FOLIO_SECRET_KEY_FILE": os.path.join(folder, "folio.key"),
            "FOLIO_MAIL_DIR": os.path.join(folder, "mail"),
            # Schemathesis sends hundreds of pictures: the hourly limit has its own tests.
            "FOLIO_UPLOADS_PER_HOUR": "0",
        }
    )
    log = open(os.path.join(folder, "server.log"), "w+")
    server = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        log.seek(0)
        found = re.search(r"listening on (http://\S+)", log.read())
        if found:
            return server, found.group(1), log
        if server.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    sys.exit("folio did not start:\n" + log.read())


class Browser:
    """Cookies kept, redirects not followed: as the black-box tests drive the forms."""

    def __init__(self, base):
        self.base = base
        jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(jar), NoRedirect
        )

    def get(self, path):
        with self.opener.open(self.base + path) as response:
            return response.read().decode()

    def submit(self, page, path, fields):
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(page)).group(1)
        body = urllib.parse.urlencode([("csrf_token", token)] + fields).encode()
        try:
            self.opener.open(self.base + path, body)
        except urllib.error.HTTPError as e:
            if e.code != 303:
                raise


def write_token(base):
    browser = Browser(base)
    password = "schemathesis-pass-1"
    browser.submit(
        "/register",
        "/register",
        [
            ("username", "schemathesis"),
            ("email", "schemathesis@example.com"),
            ("password", password),
            ("password_confirm", password),
        ],
    )
    browser.submit(
        "/account",
        "/account/tokens",
        [("name", "schemathesis"), ("scope", "write"), ("expires_days", "1")],
    )
    return re.search(r'id="new-token"[^>]*>\s*([^<\s]+)', browser.get("/account")).group(1)


def main():
    binary, extra = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as folder:
        server, base, log = start(binary, folder)
        try:
            token = write_token(base)
            command = [
                os.path.join(os.path.dirname(sys.executable), "schemathesis"),
                "--config-file",
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml"),
                "run",
                base + "/api/v1/openapi.json",
                "--header",
                "Authorization: Bearer " + token,
                *extra,
            ]
            status = subprocess.call(command)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.seek(0)
            errors = [line for line in log if " ERROR " in line or "panicked" in line]
            if errors:
                print("the server logged errors:\n" + "".join(errors[:20]))
                status = status or 1
    sys.exit(status)


if __name__ == "__main__":
    main()
