#!/usr/bin/env python3
"""Bounded loopback load for the holds benchmark.

normal: PROCS processes holding about 22 fds each (files, pipes, unix and TCP
sockets over loopback); one of them listens on the target port.
heavy:  PROCS processes sharing SHARED socket fds each, dup'ed up to FDS fds
per process (PROCS * FDS fds in all); every process holds the listener.

Each process sets up its fds, marks them inheritable and execs `sleep`, so a
process costs little memory. Children die with the generator
(PR_SET_PDEATHSIG) and are killed by their pidfds when stdin closes.

Prints "ready PORT NPROCS NFDS" once everything is in place.
"""
import ctypes
import os
import resource
import signal
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def tcp_pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    return [listener, client, server]


def normal_child(keep):
    objs = list(keep)
    for path in ["/etc/hostname", "/etc/passwd", "/etc/hosts", "/proc/self/stat", "/dev/null"]:
        objs.append(open(path, "rb"))
    fds = []
    for _ in range(3):
        fds.extend(os.pipe())
    for _ in range(3):
        objs.extend(socket.socketpair())
    objs.extend(tcp_pair())
    for o in objs:
        os.set_inheritable(o.fileno(), True)
    for fd in fds:
        os.set_inheritable(fd, True)
    return objs


def heavy_child(shared, total):
    for fd in shared:
        os.set_inheritable(fd, True)
    n = 0
    target = 3
    while n < total - len(shared) - 3:
        src = shared[n % len(shared)]
        while target in shared:
            target += 1
        os.dup2(src, target, inheritable=True)
        target += 1
        n += 1


def main():
    mode, procs = sys.argv[1], int(sys.argv[2])
    fds_per = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    limit = max(fds_per, 2 * procs) + 256
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen()
    port = target.getsockname()[1]
    shared = [target.fileno()]
    keep = []
    if mode == "heavy":
        for _ in range(16):
            pair = tcp_pair()
            keep.extend(pair)
            shared.extend(s.fileno() for s in pair)
    pidfds = []
    for i in range(procs):
        pid = os.fork()
        if pid == 0:
            try:
                libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                held = None
                if mode == "normal":
                    if i != 0:
                        target.close()
                    held = normal_child([target] if i == 0 else [])
                else:
                    heavy_child(shared, fds_per)
                # `held` keeps the sockets and files open until exec.
                os.execv("/bin/sleep", ["sleep", "3600"])
            finally:
                os._exit(1)
        pidfds.append(os.pidfd_open(pid))
    if mode == "normal":
        target.close()
    # Wait until every child has exec'd (its comm is "sleep").
    import time
    deadline = time.time() + 120
    pending = set(range(procs))
    while pending and time.time() < deadline:
        for i in list(pending):
            pid = None
            try:
                pid = int(open(f"/proc/self/fdinfo/{pidfds[i]}").read().split("Pid:")[1].split()[0])
                if open(f"/proc/{pid}/comm").read().strip() == "sleep":
                    pending.discard(i)
            except (OSError, IndexError, ValueError):
                pending.discard(i)
        time.sleep(0.05)
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    total += len(os.listdir(f"/proc/{entry}/fd"))
            except OSError:
                pass
    print(f"ready {port} {procs} {total}", flush=True)
    sys.stdin.read()
    for fd in pidfds:
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for fd in pidfds:
        try:
            os.waitid(os.P_PIDFD, fd, os.WEXITED)
        except ChildProcessError:
            pass


if __name__ == "__main__":
    main()
