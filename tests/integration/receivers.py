#!/usr/bin/python3
"""Loopback alert receivers for test_90_alerts: an HTTP server (webhook and a
Telegram Bot API stand-in) and an SMTP server (aiosmtpd, no TLS).

Usage: receivers.py HTTP_PORT SMTP_PORT DIR

Every notification received appends one line "CHANNEL ALERTNAME STATUS" to
DIR/events.log (the test truncates it between steps) and its raw form to
DIR/raw.log.  DIR/ready appears once both servers listen.
"""
import email
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from aiosmtpd.controller import Controller

http_port, smtp_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def record(channel, name, status, raw):
    with open(f"{out}/events.log", "a") as f:
        f.write(f"{channel} {name} {status}\n")
    with open(f"{out}/raw.log", "a") as f:
        f.write(f"--- {channel}\n{raw}\n")


class Http(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        code = 200
        try:
            doc = json.loads(body)
            if self.path.startswith("/hook"):
                a = doc["alerts"][0]
                assert doc["version"] == "4" and doc["status"] == a["status"]
                record("webhook", a["labels"]["alertname"], a["status"], body)
            elif "/sendMessage" in self.path:
                m = re.match(r"\[(\w+)[^\]]*\] coffre \S+: (\w+)", doc["text"])
                status = "resolved" if m.group(1) == "RESOLVED" else "firing"
                record("telegram", m.group(2), status, self.path + " " + body)
            else:
                code = 404
        except Exception as e:  # a malformed notification is a test failure
            record("http-error", "-", "-", f"{self.path} {e} {body}")
            code = 400
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":true}')

    def do_GET(self):
        # the Bot API's getMe (coffre check): the token is accepted, nothing is sent
        m = re.match(r"/tg/bot([^/]+)/getMe$", self.path)
        code = 200 if m and m.group(1) == "123456:secret-bot-token-XYZ" else 401
        with open(f"{out}/probes.log", "a") as f:
            f.write(f"GET {code}\n")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":true}' if code == 200 else b'{"ok":false}')

    def log_message(self, *args):
        pass


class Smtp:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        record("smtp", msg["X-Coffre-Alert"], msg["X-Coffre-Status"],
               f"from={envelope.mail_from} to={envelope.rcpt_tos}\n"
               + envelope.content.decode("utf-8", "replace"))
        return "250 OK"


srv = ThreadingHTTPServer(("127.0.0.1", http_port), Http)
Thread(target=srv.serve_forever, daemon=True).start()
ctl = Controller(Smtp(), hostname="127.0.0.1", port=smtp_port)
ctl.start()
open(f"{out}/ready", "w").close()
while True:
    time.sleep(3600)
