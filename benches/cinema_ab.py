#!/usr/bin/env python3
"""Two `elixir-scope serve` servers on the same store, side by side: the same timeline windows
asked of each, interleaved (old, new, new, old, ...), and the server's own time per window
(`server_us`) and the time of the whole request compared. Python's standard library only.

    A=$(mktemp); B=$(mktemp)
    OLD_BIN serve --db target/cinema-bench/store-10000000 > $A &
    NEW_BIN serve --db target/cinema-bench/store-10000000 > $B &
    python3 benches/cinema_ab.py "$(head -1 $A)" "$(head -1 $B)" [ROUNDS]

Each argument is the URL a server printed (with its token). BENCHMARKS.md has the figures.
"""
import json
import statistics
import sys
import time
import urllib.request


def server(url):
    base, token = url.split("/?")[0], url.split("token=")[1].split("#")[0]

    def get(path):
        request = urllib.request.Request(base + path, headers={"X-Elixir-Scope-Token": token})
        started = time.perf_counter()
        body = urllib.request.urlopen(request).read()
        return json.loads(body), (time.perf_counter() - started) * 1000

    return get


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    servers = {"old": server(sys.argv[1]), "new": server(sys.argv[2])}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    for name, get in servers.items():
        head, ms = get("/api/runs/1/lanes")
        print(f"{name}: lanes (the timeline built) in {ms:.0f} ms")
    extent = head["extent_ns"]
    # The whole run halved 20 times around its middle; eight pans at three zooms.
    windows, span = [], extent
    for _ in range(20):
        windows.append((extent / 2 - span / 2, extent / 2 + span / 2))
        span /= 2
    for span in (extent / 10, extent / 1000, extent / 100000):
        for k in range(8):
            a = extent * 0.3 + k * span / 4
            windows.append((a, a + span))
    own = {name: [] for name in servers}
    whole = {name: [] for name in servers}
    for r in range(rounds):
        for name in (["old", "new"] if r % 2 == 0 else ["new", "old"]):
            for a, b in windows:
                answer, ms = servers[name](
                    f"/api/runs/1/timeline?from={int(a)}&to={int(b)}&width=1200")
                own[name].append(answer["server_us"] / 1000)
                whole[name].append(ms)
    for name in servers:
        s, w = sorted(own[name]), sorted(whole[name])
        print(f"{name}: server median {statistics.median(s):.2f} ms, p95 {s[int(len(s) * .95)]:.2f},"
              f" max {s[-1]:.2f}; request median {statistics.median(w):.2f} ms, p95 {w[int(len(w) * .95)]:.2f}")
    print(f"new/old, server median: {statistics.median(own['new']) / statistics.median(own['old']):.2f}")


if __name__ == "__main__":
    main()
