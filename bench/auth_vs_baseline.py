"""Load benchmark: GET /api/auth/me with a valid token against the /health baseline, same server, same run.

Starts `depotflow serve` (1 worker) on 127.0.0.1 with a fresh SQLite data directory (or the database
in DEPOTFLOW_BENCH_DATABASE_URL), creates a user, logs in, then runs wrk (50 connections, 10 s,
2 threads) against both routes and prints req/s and the ratio. Target: ratio >= 0.5.

    .venv/bin/python bench/auth_vs_baseline.py [--duration 10] [--connections 50]
"""

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import DEPOTFLOW, bench_env, login, server, wrk


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--token-cache-seconds", type=float, default=None, help="override the token cache (0 = off)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    data_dir = Path(tempfile.mkdtemp(prefix="depotflow-bench-"))
    env = bench_env(data_dir, os.environ.get("DEPOTFLOW_BENCH_DATABASE_URL"))
    if args.token_cache_seconds is not None:
        env["DEPOTFLOW_SECURITY__TOKEN_CACHE_SECONDS"] = str(args.token_cache_seconds)
    subprocess.run([*DEPOTFLOW, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*DEPOTFLOW, "create-user", "bench", "--password", "bench-password-1", "--role", "user"],
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        with server(env) as base:
            token = login(base, "bench", "bench-password-1")
            wrk(f"{base}/health", duration=2, connections=args.connections)  # warm-up
            baseline, baseline_p99 = wrk(f"{base}/health", duration=args.duration, connections=args.connections)
            authed, authed_p99 = wrk(
                f"{base}/api/auth/me", duration=args.duration, connections=args.connections, token=token
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    ratio = authed / baseline
    print(f"baseline  GET /health        {baseline:9.1f} req/s  p99 {baseline_p99}")
    print(f"auth      GET /api/auth/me   {authed:9.1f} req/s  p99 {authed_p99}")
    print(f"ratio     {ratio:.2f}  (target >= 0.50)  [{args.connections} connections, {args.duration} s, 1 worker]")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
