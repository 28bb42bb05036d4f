"""Helpers shared by the load benchmarks: a server process, logins, wrk runs, a throwaway PostgreSQL."""

import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p99: str  # as wrk prints it ("12.34ms")
    timeouts: int = 0  # requests wrk gave up on (not in the latency figures)

    @property
    def p99_ms(self) -> float:
        match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", self.p99)
        if not match:
            return float("nan")
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match.group(2)]
        return float(match.group(1)) * factor


def run_wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    token: str | None = None,
    script: Path | None = None,
    threads: int = 2,
    timeout: int | None = None,
) -> WrkResult:
    """Drive `url` with wrk; a non-2xx answer aborts the benchmark (it would measure errors).

    `timeout` (seconds, wrk's default 2) bounds each request; requests over it are counted apart.
    """
    args = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if timeout is not None:
        args.append(f"--timeout={timeout}s")
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"could not read wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} non-2xx responses")
    p99 = re.search(r"99%\s+(\S+)", out)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    return WrkResult(float(match.group(1)), p99.group(1) if p99 else "?", int(timeouts.group(1)) if timeouts else 0)


def wrk(url: str, *, duration: int, connections: int, token: str | None = None) -> tuple[float, str]:
    """req/s and the p99 latency as wrk prints it."""
    result = run_wrk(url, duration=duration, connections=connections, token=token)
    return result.requests_per_second, result.p99


def bench_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a benchmarked process: no DEPOTFLOW_* from outside, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOTFLOW_")}
    env.update(DEPOTFLOW_DATA_DIR=str(data_dir), DEPOTFLOW_LOG_LEVEL="WARNING", **extra)
    if database_url:
        env["DEPOTFLOW_DATABASE_URL"] = database_url
    return env


@contextlib.contextmanager
def server(env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """`depotflow serve --no-migrate` on a free loopback port; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*DEPOTFLOW, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(base)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of its own on loopback (as the test suite starts one); yields the URL of
    its `postgres` database. `synchronous_commit=off` (fsync stays on) makes a commit as durable as
    SQLite's WAL with `synchronous=NORMAL`, which the service uses: both may lose the last commits
    on a power cut, neither corrupts."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not dirs:
        raise SystemExit("PostgreSQL server not installed: apt-get install -y postgresql")
    bindir = dirs[-1]
    base = tempfile.mkdtemp(prefix="depotflow-bench-pg-")
    os.chmod(base, 0o755)
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port, data = free_port(), os.path.join(base, "data")
    initdb = [f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]
    subprocess.run([*prefix, *initdb, "--locale=C.UTF-8"], check=True, capture_output=True)
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=200"
    subprocess.run(
        [*prefix, f"{bindir}/pg_ctl", "-D", data, "-l", f"{base}/log", "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE on that server; the new database's URL."""
    subprocess.run(["psql", server_url, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return f"{server_url.rpartition('/')[0]}/{name}"


def machine() -> str:
    """Cores and Python, for the report."""
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
