"""The approvals walkthrough in docs/ runs against a live server; the CLI then verifies and catches tampering."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli import _free_port, base_env, run

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_walkthrough_approves_a_flow_and_the_cli_verifies_its_signatures(tmp_path: Path) -> None:
    env = base_env(tmp_path, DEPOTFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'walk.db'}")
    assert run(["migrate"], env).returncode == 0
    assert run(["create-user", "chief", "--password", "chief-password-1", "--admin"], env).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "depotflow", "serve", "--port", str(port), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        walk = subprocess.run(
            [
                sys.executable,
                str(ROOT / "docs" / "approvals_walkthrough.py"),
                "--base-url",
                base,
                "--admin",
                "chief",
                "--admin-password",
                "chief-password-1",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)

    assert walk.returncode == 0, walk.stdout + walk.stderr
    lines = walk.stdout.splitlines()
    assert lines[-1] == "result: approved"
    assert [line.split(".")[0] for line in lines[:-1]] == ["1", "2", "2", "3", "4", "5", "6", "7"]
    assert lines[5].endswith("flow in_progress")
    assert lines[6].endswith("flow approved")
    assert "verification: ok (2 signatures, content unchanged: True)" in lines[7]

    verified = run(["approvals", "verify"], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout) == {"ok": True, "flows_checked": 1, "broken": []}

    with sqlite3.connect(tmp_path / "walk.db") as conn:
        conn.execute("UPDATE approval_signature SET meaning = 'reviewed' WHERE id = 1")
    tampered = run(["approvals", "verify"], env)
    report = json.loads(tampered.stdout)
    assert tampered.returncode == 1
    assert report["ok"] is False
    assert [(s["signature_id"], s["valid"]) for s in report["broken"][0]["signatures"]] == [(1, False), (2, True)]
    assert os.path.exists(tmp_path / "data" / "secret_key")
