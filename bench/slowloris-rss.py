#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Slowloris memory: RSS of one chatd before, while and after N connections hold a partial line.
"""Usage: slowloris-rss.py CHATD [CHATD...] [--connections N] [--bytes B] [--runs R]

Starts each chatd alone on a loopback port with a fresh state directory, then per run:
RSS before, RSS while N connections each hold B bytes of an unfinished line (and how
many of them the server kept open), RSS two seconds after they all closed. Prints one
line per run and binary, then the medians."""
import argparse, os, resource, shutil, socket, statistics, subprocess, sys, tempfile, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start(chatd, workdir):
    port = free_port()
    config = os.path.join(workdir, "chatd.ini")
    with open(config, "w") as f:
        f.write(f"[server]\nhost1 = 127.0.0.1\nport1 = {port}\n"
                "[cluster]\nsecret = slowloris-measurement-secret-0123456789\n")
    proc = subprocess.Popen([chatd, "--host", "127.0.0.1", "--port", str(port), "--config", config,
                             "--state-dir", os.path.join(workdir, "state"), "--primary"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(1.0)  # let it become leader and settle
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("chatd did not start")

def one_run(proc, port, n, size):
    before = rss_kib(proc.pid)
    part = b'{"id":1,"op":"hello","padding":"' + b"a" * (size - 32)
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(part)
        conns.append(s)
    time.sleep(2.0)
    during = rss_kib(proc.pid)
    alive = 0
    for s in conns:
        s.setblocking(False)
        try:
            alive += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    for s in conns:
        s.close()
    time.sleep(2.0)
    after = rss_kib(proc.pid)
    return before, during, after, alive

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("chatd", nargs="+")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--bytes", type=int, default=60 * 1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections + 256), hard))
    results = {c: [] for c in args.chatd}
    for run in range(args.runs):
        for chatd in args.chatd:  # side by side: each run measures every binary
            workdir = tempfile.mkdtemp(prefix="chatd-slowloris-")
            proc, port = start(chatd, workdir)
            try:
                r = one_run(proc, port, args.connections, args.bytes)
            finally:
                proc.terminate()
                proc.wait()
                shutil.rmtree(workdir, ignore_errors=True)
            results[chatd].append(r)
            print(f"run {run + 1} {chatd}: before {r[0] / 1024:.1f} MiB, during {r[1] / 1024:.1f} MiB"
                  f" ({r[3]} of {args.connections} kept), after {r[2] / 1024:.1f} MiB", flush=True)
    for chatd, rows in results.items():
        med = [statistics.median(row[i] for row in rows) for i in range(4)]
        print(f"median {chatd}: before {med[0] / 1024:.1f} MiB, during {med[1] / 1024:.1f} MiB"
              f" ({med[3]:.0f} kept), after {med[2] / 1024:.1f} MiB")

if __name__ == "__main__":
    main()
