"""`manage.py run_platform` (what `make run` calls) brings up a working admin and workers, stops
cleanly on Ctrl-C, and starts again where it left off."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def platform_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "STORAGE_URL"}}
    env.update(CHAINLAKE_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", CHAINLAKE_WORKERS="1")
    return env


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_platform", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=platform_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in process.stdout:  # warnings may come first; the login line is printed after migrating
        seen.append(line)
        if match := re.search(r"as (\S+) / (\S+)", line):
            break
    else:
        pytest.fail(f"run_platform exited before printing the login: {''.join(seen)}")
    # Keep reading, so the web server's and workers' logs never fill the pipe and block them.
    threading.Thread(target=lambda: seen.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=2).status_code == 200:
                return process, match.group(2)
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    pytest.fail("the admin did not come up within 60 s")


def stop(process: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    process.send_signal(sig)
    process.wait(timeout=60)


def log_in(port: int, password: str) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    client.get("/admin/login/")
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"username": "admin", "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        headers={"Referer": f"http://127.0.0.1:{port}/admin/login/"},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def run_in_platform(data_dir: Path, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=platform_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_run_platform_serves_admin_runs_workers_and_restarts(tmp_path):
    port = free_port()
    process, password = start(tmp_path, port)
    try:
        with closing(log_in(port, password)) as client:
            index = client.get("/admin/")
            assert index.status_code == 200 and "Partition versions" in index.text
            assert client.get("/admin/orgs/org/").text.count("Demo") >= 1
        # The qcluster beside the web server executes background work.
        answer = run_in_platform(
            tmp_path,
            "from django_q.tasks import async_task, result; "
            "t = async_task('math.floor', 7.9); print(result(t, wait=30000))",
        )
        assert answer == "7"
    finally:
        stop(process)
    assert process.returncode is not None
    postmaster = tmp_path / "postgres" / "postmaster.pid"
    assert not postmaster.exists(), "Ctrl-C must stop the embedded PostgreSQL"

    # Second start: same data, same login, nothing recreated.
    process, second_password = start(tmp_path, port)
    try:
        assert second_password == password
        with closing(log_in(port, password)) as client:
            assert client.get("/admin/orgs/org/").status_code == 200
        count = run_in_platform(
            tmp_path, "from orgs.models import Org; print(Org.objects.filter(slug='demo').count())"
        )
        assert count == "1"
    finally:
        stop(process, signal.SIGTERM)  # a service manager's stop works like Ctrl-C
    assert not postmaster.exists()
