#!/usr/bin/python3
"""A NOTIFY_SOCKET for test_90_notify: binds a unix datagram socket at PATH
and appends "<monotonic seconds> <message>" lines to LOG for every datagram
(one line per assignment, as sd_notify sends "A=1\\nB=2")."""
import socket
import sys
import time

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(log + ".ready", "w").close()
while True:
    data = s.recv(4096).decode("utf-8", "replace")
    with open(log, "a") as f:
        for line in data.split("\n"):
            if line:
                f.write(f"{time.monotonic():.3f} {line}\n")
