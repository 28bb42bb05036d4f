"""Load benchmark: GET /api/auth/me with a valid token against the /health baseline, same server, same run.

Starts `depotflow serve` (1 worker) on 127.0.0.1 with a fresh SQLite data directory (or the database
in DEPOTFLOW_BENCH_DATABASE_URL), creates a user, logs in, then runs wrk (50 connections, 10 s,
2 threads) against both routes and prints req/s and the ratio. Target: ratio >= 0.5.

    .venv/bin/python bench/auth_vs_baseline.py [--duration 10] [--connections 50]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPOTFLOW = [sys.executable, "-m", "depotflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not become healthy")


def login(base: str, username: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["token"])


def wrk(url: str, *, duration: int, connections: int, token: str | None = None) -> tuple[float, str]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"could not read wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} non-2xx responses")
    p99 = re.search(r"99%\s+(\S+)", out)
    return float(match.group(1)), p99.group(1) if p99 else "?"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--token-cache-seconds", type=float, default=None, help="override the token cache (0 = off)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    data_dir = Path(tempfile.mkdtemp(prefix="depotflow-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOTFLOW_")}
    env.update(DEPOTFLOW_DATA_DIR=str(data_dir), DEPOTFLOW_LOG_LEVEL="WARNING")
    if args.token_cache_seconds is not None:
        env["DEPOTFLOW_SECURITY__TOKEN_CACHE_SECONDS"] = str(args.token_cache_seconds)
    if os.environ.get("DEPOTFLOW_BENCH_DATABASE_URL"):
        env["DEPOTFLOW_DATABASE_URL"] = os.environ["DEPOTFLOW_BENCH_DATABASE_URL"]
    subprocess.run([*DEPOTFLOW, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*DEPOTFLOW, "create-user", "bench", "--password", "bench-password-1", "--role", "user"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*DEPOTFLOW, "serve", "--port", str(port), "--workers", "1", "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(base)
        token = login(base, "bench", "bench-password-1")
        wrk(f"{base}/health", duration=2, connections=args.connections)  # warm-up
        baseline, baseline_p99 = wrk(f"{base}/health", duration=args.duration, connections=args.connections)
        authed, authed_p99 = wrk(
            f"{base}/api/auth/me", duration=args.duration, connections=args.connections, token=token
        )
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)

    ratio = authed / baseline
    print(f"baseline  GET /health        {baseline:9.1f} req/s  p99 {baseline_p99}")
    print(f"auth      GET /api/auth/me   {authed:9.1f} req/s  p99 {authed_p99}")
    print(f"ratio     {ratio:.2f}  (target >= 0.50)  [{args.connections} connections, {args.duration} s, 1 worker]")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
