#!/usr/bin/env python3
# notify-listen.py: systemd's side of sd_notify for the tests: one line a datagram, with its sender's pid.
#
# notify-listen.py SOCKET OUT [CMD...]: binds the unix datagram socket SOCKET
# and appends to OUT, for each datagram, "t=MS<TAB>pid=PID<TAB>" and its
# lines joined by tabs (MS: CLOCK_MONOTONIC milliseconds at receipt; PID:
# the sender's, from SCM_CREDENTIALS, as systemd reads it). On the first
# READY=1 it runs CMD and adds "ready-cmd=STATUS": what a client saw at
# the moment systemd would let dependent units start.
import socket
import struct
import subprocess
import sys
import time

path, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
ready_seen = False
with open(out, "a") as f:
    while True:
        msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        at = time.clock_gettime(time.CLOCK_MONOTONIC)
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        fields = msg.decode(errors="replace").strip("\n").split("\n")
        if cmd and not ready_seen and "READY=1" in fields:
            ready_seen = True
            rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            fields.append("ready-cmd=%d" % rc)
        f.write("t=%d\tpid=%d\t%s\n" % (int(at * 1000), pid, "\t".join(fields)))
        f.flush()
