#!/usr/bin/env python3
"""faultproxy.py -- an HTTP/1.1 proxy that injects faults between an S3 client and RGW.

    faultproxy.py --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT \\
                  --control rules.json --port-file port [--log requests.jsonl]

The proxy writes the port it listens on to --port-file (atomically, once it
accepts connections) and runs until killed.  Plain HTTP only.  It forwards
requests byte for byte (SigV4 signatures stay valid), keeps connections alive
like the client and the server do, and understands Content-Length, chunked
bodies and "Expect: 100-continue".

Before each request it re-reads --control, a JSON list of rules (or an object
{"rules": [...]}); write it atomically (tmp file + mv).  The first rule whose
"match" fits the request and whose "times" are not used up decides what
happens; no rule: the request is forwarded.  Whenever the file's content
changes, the counts start again.

  {"match": {"method": "PUT", "path_contains": "/bucket/", "query_contains": "uploadId"},
   "action": "status", "status": 503, "code": "SlowDown", "message": "...", "times": 2}
      answer with that status and an S3 XML error body, without forwarding
  {"action": "reset", "after_bytes": 100000, "times": 1}
      forward, but reset the client connection (RST, SO_LINGER 0) once that
      many request bytes (head included) went upstream; a request shorter than
      that is forwarded whole, and the client is reset instead of getting the
      response (the server did the work, the client cannot know)
  {"action": "stall", "seconds": 30, "times": 1}
      read nothing more, answer nothing for that long, then close
  {"action": "drop_response_after", "bytes": 1000}
      forward, but close the client connection after that many response bytes
      (head included): the client sees a truncated body
  {"action": "delay", "seconds": 2}
      wait, then forward normally
Every match key is optional (all given keys must hold): "method" (exact,
case-insensitive), "path_contains" and "query_contains" (substrings of the raw
path and query).  "times" missing: every matching request.

--log gets one JSON object per line and request, written when the proxy is done
with it (a stall: when it begins): time, conn, method, path, query, action,
rule (index or null), status (as answered, null if none), req_bytes, resp_bytes.
"""

import argparse
import hashlib
import itertools
import json
import os
import socket
import struct
import sys
import threading
import time
from email.utils import formatdate

MAX_HEAD = 64 * 1024
IO_CHUNK = 64 * 1024


class Closed(Exception):
    """The peer closed the connection (or sent garbage)."""


class Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(IO_CHUNK)
        if not data:
            raise Closed("peer closed")
        self.buf += data

    def head(self):
        """The next message head (up to and including the blank line)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head, self.buf = self.buf[: end + 4], self.buf[end + 4 :]
                return head
            if len(self.buf) > MAX_HEAD:
                raise Closed("head too long")
            self._fill()

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise Closed("line too long")
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def some(self, limit):
        if not self.buf:
            self._fill()
        out, self.buf = self.buf[:limit], self.buf[limit:]
        return out

    def body(self, length, chunked, until_close=False):
        """Yield the raw bytes of a message body, framing included."""
        if chunked:
            while True:
                size_line = self.line()
                yield size_line
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, then the blank line
                        trailer = self.line()
                        yield trailer
                        if trailer == b"\r\n":
                            return
                left = size + 2  # data + CRLF
                while left:
                    piece = self.some(min(left, IO_CHUNK))
                    left -= len(piece)
                    yield piece
        elif until_close:
            while True:
                try:
                    yield self.some(IO_CHUNK)
                except Closed:
                    return
        else:
            left = length
            while left:
                piece = self.some(min(left, IO_CHUNK))
                left -= len(piece)
                yield piece


class Message:
    """A parsed request or response head."""

    def __init__(self, raw):
        self.raw = raw
        lines = raw[:-4].decode("latin-1").split("\r\n")
        self.start = lines[0].split(" ", 2)
        if len(self.start) < 2:
            raise Closed("bad start line %r" % lines[0])
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()

    def header(self, name):
        return self.headers.get(name, "")

    @property
    def chunked(self):
        return "chunked" in self.header("transfer-encoding").lower()

    @property
    def length(self):
        try:
            return int(self.header("content-length") or 0)
        except ValueError:
            raise Closed("bad Content-Length")

    def keep_alive(self, version):
        conn = self.header("connection").lower()
        if version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def reset(sock):
    """Close SOCK with an RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def close(sock):
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


class Rules:
    """The control file, re-read before every request."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.digest = None
        self.rules = []
        self.used = []

    def _reload(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b"[]"
        except OSError as e:
            print("faultproxy: cannot read %s: %s" % (self.path, e), file=sys.stderr)
            return
        digest = hashlib.sha256(data).digest()
        if digest == self.digest:
            return
        try:
            rules = json.loads(data or b"[]")
            if isinstance(rules, dict):
                rules = rules.get("rules", [])
            if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
                raise ValueError("not a list of rule objects")
        except ValueError as e:
            print("faultproxy: ignoring bad %s: %s" % (self.path, e), file=sys.stderr)
            return  # keep the previous rules (a half-written file, probably)
        self.digest, self.rules, self.used = digest, rules, [0] * len(rules)

    def pick(self, method, path, query):
        """(index, rule) of the rule that applies, consuming one of its times."""
        with self.lock:
            self._reload()
            for i, rule in enumerate(self.rules):
                m = rule.get("match") or {}
                if "method" in m and m["method"].upper() != method.upper():
                    continue
                if "path_contains" in m and m["path_contains"] not in path:
                    continue
                if "query_contains" in m and m["query_contains"] not in query:
                    continue
                times = rule.get("times")
                if times is not None and self.used[i] >= int(times):
                    continue
                self.used[i] += 1
                return i, rule
        return None, None


class Proxy:
    def __init__(self, args):
        self.upstream = parse_addr(args.upstream)
        self.rules = Rules(args.control)
        self.log_path = args.log
        self.log_lock = threading.Lock()
        self.conn_ids = itertools.count(1)
        self.error_ids = itertools.count(1)

    def log(self, **entry):
        if not self.log_path:
            return
        entry = dict(time=round(time.time(), 3), **entry)
        with self.log_lock:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")

    def serve(self, listener):
        while True:
            client, _ = listener.accept()
            threading.Thread(target=self.connection, args=(client, next(self.conn_ids)),
                             daemon=True).start()

    def connection(self, client, conn_id):
        up = None
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            creader = Reader(client)
            ureader = None
            while True:
                try:
                    raw = creader.head()
                except (Closed, OSError):
                    return
                req = Message(raw)
                if up is None:
                    up = socket.create_connection(self.upstream, timeout=30)
                    up.settimeout(None)
                    up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    ureader = Reader(up)
                keep, up_alive = self.request(conn_id, client, creader, up, ureader, req)
                if not up_alive:
                    close(up)
                    up = None
                if not keep:
                    return
        except (Closed, OSError, ValueError) as e:
            if not isinstance(e, (Closed, ConnectionError)):
                print("faultproxy: connection %d: %s" % (conn_id, e), file=sys.stderr)
        finally:
            close(up)
            close(client)

    def request(self, conn_id, client, creader, up, ureader, req):
        """Handle one request; returns (keep client, keep upstream)."""
        method, target, version = (req.start + ["HTTP/1.1"])[:3]
        path, _, query = target.partition("?")
        index, rule = self.rules.pick(method, path, query)
        action = (rule or {}).get("action", "forward")
        info = dict(conn=conn_id, method=method, path=path, query=query, action=action,
                    rule=index, status=None, req_bytes=len(req.raw), resp_bytes=0)
        expect = "100-continue" in req.header("expect").lower()
        try:
            if action == "status":
                return self.answer_error(client, creader, req, version, rule, expect, info)
            if action == "stall":
                self.log(**info)
                time.sleep(float(rule.get("seconds", 30)))
                return False, False
            if action == "delay":
                time.sleep(float(rule.get("seconds", 1)))
            elif action not in ("forward", "reset", "drop_response_after"):
                print("faultproxy: unknown action %r, forwarding" % action, file=sys.stderr)
            return self.forward(client, creader, up, ureader, req, method, version,
                                rule if action in ("reset", "drop_response_after") else None,
                                action, expect, info)
        finally:
            if action != "stall":
                self.log(**info)

    def answer_error(self, client, creader, req, version, rule, expect, info):
        status = int(rule.get("status", 503))
        code = rule.get("code", "SlowDown")
        message = rule.get("message", "Injected by faultproxy")
        request_id = "faultproxy-%d" % next(self.error_ids)
        keep = not expect and req.keep_alive(version)
        if not expect:  # the body is on its way: read it so the connection stays usable
            for piece in creader.body(req.length, req.chunked):
                info["req_bytes"] += len(piece)
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message><Resource>%s</Resource><RequestId>%s</RequestId>"
                "</Error>\n" % (code, message, req.start[1].split("?")[0], request_id)).encode()
        reason = {500: "Internal Server Error", 503: "Service Unavailable", 403: "Forbidden",
                  404: "Not Found", 400: "Bad Request", 409: "Conflict"}.get(status, "Error")
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
                "x-amz-request-id: %s\r\nDate: %s\r\nConnection: %s\r\n\r\n"
                % (status, reason, len(body), request_id, formatdate(usegmt=True),
                   "keep-alive" if keep else "close")).encode()
        out = head if req.start[0].upper() == "HEAD" else head + body
        client.sendall(out)
        info.update(status=status, resp_bytes=len(out))
        return keep, True

    def forward(self, client, creader, up, ureader, req, method, version, rule, action,
                expect, info):
        limit = None
        if action == "reset":
            limit = int(rule.get("after_bytes", 0))
            if limit <= len(req.raw):
                reset(client)
                return False, True
        up.sendall(req.raw)
        sent = len(req.raw)
        if expect:
            # The client waits for "100 Continue" (or a final answer) before the body.
            resp = Message(ureader.head())
            if resp.start[1] != "100":
                return self.relay(client, ureader, resp, method, version, None, info,
                                  client_body_pending=True)
            client.sendall(resp.raw)
        try:
            for piece in creader.body(req.length, req.chunked):
                if limit is not None and sent + len(piece) >= limit:
                    up.sendall(piece[: limit - sent])
                    info["req_bytes"] = limit
                    reset(client)
                    return False, False  # upstream got half a request: drop it too
                up.sendall(piece)
                sent += len(piece)
        except BrokenPipeError:
            pass  # the server answered early and stopped reading; relay its answer
        info["req_bytes"] = sent
        resp = Message(ureader.head())
        while resp.start[1] == "100":  # an interim answer we did not ask for
            resp = Message(ureader.head())
        if limit is not None:
            # whole request forwarded: let the server finish, then reset the client
            for _ in ureader.body(*self.framing(resp, method)):
                pass
            info["status"] = int(resp.start[1])
            reset(client)
            return False, resp.keep_alive(resp.start[0])
        cut = int(rule.get("bytes", 0)) if action == "drop_response_after" else None
        return self.relay(client, ureader, resp, method, version, cut, info)

    @staticmethod
    def framing(resp, method):
        """(length, chunked, until_close) of a response body."""
        code = int(resp.start[1])
        if method.upper() == "HEAD" or code in (204, 304) or 100 <= code < 200:
            return 0, False, False
        if resp.chunked:
            return 0, True, False
        if "content-length" in resp.headers:
            return resp.length, False, False
        return 0, False, True

    def relay(self, client, ureader, resp, method, version, cut, info,
              client_body_pending=False):
        """Send the response to the client, cut after CUT bytes when given."""
        info["status"] = int(resp.start[1])
        length, chunked, until_close = self.framing(resp, method)
        sent = 0
        for piece in itertools.chain([resp.raw], ureader.body(length, chunked, until_close)):
            if cut is not None and sent + len(piece) >= cut:
                client.sendall(piece[: cut - sent])
                info["resp_bytes"] = cut
                client.shutdown(socket.SHUT_RDWR)
                return False, False
            client.sendall(piece)
            sent += len(piece)
        info["resp_bytes"] = sent
        keep_up = resp.keep_alive(resp.start[0]) and not until_close
        keep_client = keep_up and not client_body_pending
        return keep_client, keep_up and not client_body_pending


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port)")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server (http)")
    ap.add_argument("--control", required=True, help="JSON rules file, re-read per request")
    ap.add_argument("--port-file", help="write the listening port here once ready")
    ap.add_argument("--log", help="append one JSON line per request here")
    args = ap.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(parse_addr(args.listen))
    listener.listen(64)
    port = listener.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("faultproxy: 127.0.0.1:%d -> %s:%d" % ((port,) + parse_addr(args.upstream)),
          file=sys.stderr, flush=True)
    try:
        Proxy(args).serve(listener)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
