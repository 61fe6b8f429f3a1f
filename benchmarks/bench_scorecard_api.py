"""Latency of the scorecard HTTP service under concurrent load (loopback only; bounded; stops by itself).

Starts `python -m scorecard serve` on 127.0.0.1 (a separate process, on a scorecard computed from the bundled
synthetic data), then drives it open-loop at a fixed request rate with at most `--concurrency` requests in
flight, using a mix of the router's calls: 70% GET /v1/counterparties/{cp}, 20% POST /v1/routing (3 quotes),
10% GET /v1/scorecard. Latency is measured from each request's SCHEDULED send time, so a server that falls
behind is charged for the queueing it causes (no coordinated omission).

  python benchmarks/bench_scorecard_api.py                 # rates 100, 250, 500 req/s, 10 s each, 32 connections
  python benchmarks/bench_scorecard_api.py --smoke         # 1 s at 50 req/s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CPS = ["CP_A", "CP_B", "CP_C", "CP_D", "CP_E", "Broker B plc"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(out_dir: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "scorecard", "run", "data.synthetic.enabled=true", f"output.dir={out_dir}"],
                   cwd=REPO, env=env,
                   check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen([sys.executable, "-m", "scorecard", "serve", f"output.dir={out_dir}",
                             f"server.port={port}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start: " + proc.stderr.read().decode()[-2000:])


ROUTING_BODY = json.dumps({"side": "buy", "mid": 100.0, "quotes": [
    {"counterparty": "CP_A", "price": 100.01}, {"counterparty": "CP_B", "price": 100.009},
    {"counterparty": "CP_D", "price": 100.012}]}).encode()


def _request_bytes(i: int, host: str) -> bytes:
    k = i % 10
    if k < 7:
        cp = CPS[i % len(CPS)].replace(" ", "%20")
        return f"GET /v1/counterparties/{cp} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    if k < 9:
        head = (f"POST /v1/routing HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(ROUTING_BODY)}\r\n\r\n").encode()
        return head + ROUTING_BODY
    return f"GET /v1/scorecard HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


async def _roundtrip(reader, writer, payload: bytes) -> int:
    """One HTTP/1.1 keep-alive exchange on a raw stream; returns the status code. A minimal client: httpx costs
    ~3 ms of CPU per request, which on a 2-core box would measure the load generator instead of the server."""
    writer.write(payload)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(host: str, port: int, rate: float, duration: float, concurrency: int, max_requests: int) -> dict:
    """Open loop: request i is due at t0 + i / rate; `concurrency` keep-alive connections take due requests."""
    n = min(int(rate * duration), max_requests)
    lat = np.full(n, np.nan)
    errors = 0
    queue: asyncio.Queue = asyncio.Queue()
    t0 = time.perf_counter() + 0.05

    async def dispatcher():
        for i in range(n):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            queue.put_nowait(i)
        for _ in range(concurrency):
            queue.put_nowait(None)

    async def worker():
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while (i := await queue.get()) is not None:
                try:
                    if await _roundtrip(reader, writer, _request_bytes(i, host)) != 200:
                        errors += 1
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                lat[i] = time.perf_counter() - (t0 + i / rate)
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(dispatcher(), *(worker() for _ in range(concurrency))),
                           timeout=duration + 60)
    wall = time.perf_counter() - t0
    ms = lat[np.isfinite(lat)] * 1e3
    return {"rate": rate, "concurrency": concurrency, "requests": n, "errors": errors,
            "achieved_rps": n / wall, "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}


def markdown(rows: list[dict], hw: str) -> str:
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"Date: {datetime.now(timezone.utc).date()}; hardware: {hw}; loopback, server (1 uvicorn worker) and",
             "load generator on the same machine; request mix 70% GET counterparty, 20% POST routing,",
             f"10% GET scorecard; latency from each request's scheduled send time; 1-min load average at the end "
             f"{load1:.1f}.", "",
             "| target req/s | concurrency | requests | errors | achieved req/s | p50 ms | p90 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['rate']:.0f} | {r['concurrency']} | {r['requests']} | {r['errors']} | "
                     f"{r['achieved_rps']:.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['max_ms']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[100, 250, 500])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-requests", type=int, default=20000, help="cap per rate")
    ap.add_argument("--smoke", action="store_true", help="tiny run: 1 s at 50 req/s")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rates, args.duration, args.concurrency = [50], 1.0, 8
    hw = f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), no GPU, Python {platform.python_version()}"
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server(Path(tmp) / "out", port)
        try:
            rows = [asyncio.run(load("127.0.0.1", port, r, args.duration, args.concurrency, args.max_requests))
                    for r in args.rates]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(markdown(rows, hw))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
