"""`manage.py run_platform` (what `make run` calls) brings up a working admin and workers behind
gunicorn, stops cleanly on Ctrl-C (also when a terminal sends it to the whole process group), and
starts again where it left off."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir():
    """A data folder of its own under the worktree's .data: the embedded server runs as another
    system user, and pytest's per-user temporary folders are not always traversable by it."""
    (ROOT / ".data").mkdir(exist_ok=True)  # a fresh clone run against DATABASE_URL has none yet
    folder = Path(tempfile.mkdtemp(prefix="run-platform-", dir=ROOT / ".data"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


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
        # Its own session and process group, with SIGINT at its default disposition: what a
        # terminal's foreground job is, so os.killpg(process.pid, SIGINT) is a terminal's Ctrl-C.
        start_new_session=True,
        # A shell that starts a job in the background ignores SIGINT for it, and children inherit
        # that; a terminal's foreground job has the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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
    os.killpg(process.pid, signal.SIGKILL)
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
def test_run_platform_serves_admin_runs_workers_and_restarts(data_dir):
    tmp_path = data_dir
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


def platform_processes(data_dir: Path) -> list[str]:
    """Every process still running for this data folder (web, workers, the database)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        if env.get("CHAINLAKE_DATA_DIR") == str(data_dir) or str(data_dir / "postgres") in cmdline:
            found.append(f"{proc.info['pid']} {cmdline[:120]}")
    return found


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_stops_everything_and_the_next_start_works(data_dir):
    tmp_path = data_dir
    port = free_port()
    process, password = start(tmp_path, port)
    try:
        # Served by gunicorn with DEBUG at its default: a 404 lists no URL patterns, static files
        # come from whitenoise, the probes answer anonymous callers.
        missing = httpx.get(f"http://127.0.0.1:{port}/no/such/page/", timeout=10)
        assert missing.status_code == 404 and "URLconf" not in missing.text and "api/v1/" not in missing.text
        css = httpx.get(f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=10)
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json() == {"status": "ok"}
        assert "gunicorn" in " ".join(" ".join(p.cmdline()) for p in psutil.Process(process.pid).children())
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        process.wait(timeout=90)
    deadline = time.monotonic() + 30
    while platform_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert platform_processes(tmp_path) == [], "Ctrl-C left processes running"
    handles = tmp_path / "postgres" / ".handle_pids.json"
    assert json.loads(handles.read_text()) == [] if handles.exists() else True

    # A process killed mid-write left the state file torn: the next start must not mind.
    handles.write_text("[12")
    process, second_password = start(tmp_path, port)
    try:
        assert second_password == password
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=90)
    handles.write_text("")
    stopped = subprocess.run(
        [sys.executable, "manage.py", "embedded_db", "stop"],
        cwd=ROOT,
        env=platform_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == 0 and "Expecting value" not in stopped.stderr, stopped.stderr
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
