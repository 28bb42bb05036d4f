"""The `depotflow` command, run as a real process: openapi, migrate, create-user, audit verify, serve."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Templates

ROOT = Path(__file__).resolve().parents[2]
SEEDS_TOOL = ROOT.parent / "shared" / "tools" / "seed_routes.py"


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "depotflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOTFLOW_")}
    env.update(DEPOTFLOW_DATA_DIR=str(tmp_path / "data"), DEPOTFLOW_LOG_FORMAT="json", **extra)
    return env


def test_openapi_needs_no_database(tmp_path: Path) -> None:
    env = base_env(tmp_path, DEPOTFLOW_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")

    result = run(["openapi"], env)

    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert spec["info"]["title"] == "depotflow"
    assert "/api/auth/me" in spec["paths"]
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(not SEEDS_TOOL.exists(), reason="shared/ is not beside the checkout")
def test_openapi_serves_the_19_foundation_seed_routes(tmp_path: Path) -> None:
    spec = run(["openapi"], base_env(tmp_path)).stdout
    check = subprocess.run([sys.executable, str(SEEDS_TOOL), "check", "-"], input=spec, capture_output=True, text=True)

    missing = [line for line in check.stdout.splitlines() if line.startswith("missing\tplatform")]
    served_prefixes = ("/api/auth", "/api/users", "/api/roles", "/api/audit", "/api/config")
    assert [line for line in missing if line.split("\t")[3].startswith(served_prefixes)] == []


def _db_env(db_kind: str, templates: Templates, tmp_path: Path) -> dict[str, str]:
    if db_kind == "sqlite":
        return base_env(tmp_path, DEPOTFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    assert templates.pg_server
    name = f"cli_{os.urandom(6).hex()}"
    subprocess.run(
        ["psql", templates.pg_server, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True
    )
    return base_env(tmp_path, DEPOTFLOW_DATABASE_URL=f"{templates.pg_server.rpartition('/')[0]}/{name}")


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql"])
def test_migrate_create_user_and_verify_the_trail(db_kind: str, templates: Templates, tmp_path: Path) -> None:
    env = _db_env(db_kind, templates, tmp_path)

    assert run(["migrate"], env).returncode == 0
    created = run(["create-user", "carol", "--password", "carol-password-1", "--admin"], env)
    weak = run(["create-user", "dave", "--password", "short"], env)
    duplicate = run(["create-user", "carol", "--password", "carol-password-1"], env)
    verified = run(["audit", "verify"], env)

    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"id": 1, "username": "carol", "role": "admin"}
    assert weak.returncode == 1
    assert "identity.weak_password" in weak.stderr
    assert duplicate.returncode == 1
    assert "identity.username_taken" in duplicate.stderr
    assert verified.returncode == 0, verified.stdout
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    assert report["entries_checked"] == 1


def test_production_mode_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = run(["migrate"], base_env(tmp_path, DEPOTFLOW_ENV="production"))

    assert result.returncode == 2
    assert "DEPOTFLOW_SECRET_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
def test_serve_creates_the_first_admin_once_and_that_admin_can_log_in(tmp_path: Path) -> None:
    port = _free_port()
    env = base_env(tmp_path)
    log_path = tmp_path / "serve.log"
    log_file = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "depotflow", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
    )
    try:
        password = None
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while password is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            match = re.search(r"password: (\S+)", line)
            if match:
                password = match.group(1)
        assert password is not None
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        ready = httpx.get(f"{base}/health/ready")
        login = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": password})
        token = login.json()["token"]
        me = httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        log_file.close()

    assert ready.json() == {"status": "ready", "database": "sqlite"}
    assert login.status_code == 200
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    assert me.json()["is_staff"] is True
    assert me.json()["must_change_password"] is True
    assert (tmp_path / "data" / "depotflow.db").exists()
    access = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    me_lines = [e for e in access if e.get("logger") == "depotflow.access" and e.get("path") == "/api/auth/me"]
    assert [(e["request_id"], e["status"], e["method"]) for e in me_lines] == [(me.headers["x-request-id"], 200, "GET")]
    assert all("request_id" in e for e in access)

    again = subprocess.Popen(
        [sys.executable, "-m", "depotflow", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=20)
    assert "password:" not in out
