#!/usr/bin/python3
"""A stand-in for journald's native socket, for test_90_journal: binds PATH
(a unix datagram socket), decodes each entry of the native protocol
(FIELD=value lines, or FIELD\\n<le64 size><bytes>\\n for binary values) and
appends it to LOG as one JSON object per line."""
import json
import socket
import struct
import sys

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(log + ".ready", "w").close()
while True:
    data, i, entry = s.recv(1 << 20), 0, {}
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        entry[k.decode()] = v.decode("utf-8", "replace")
    with open(log, "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
