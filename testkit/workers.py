"""Real ``manage.py`` processes (qcluster, run_workers, alert_deliveries...) for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]  # the checkout, where manage.py is


class ManagedProcess:
    """``manage.py <args>`` in a process group of its own, its output in ``log_path``; always
    stopped (SIGTERM, then SIGKILL), never left behind."""

    def __init__(self, args: list[str], *, env: dict, log_path: Path, stop_timeout: float = 15):
        self.log_path = log_path
        self.stop_timeout = stop_timeout
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


class QCluster(ManagedProcess):
    """A qcluster (or ``command``) on the test database and the given lake, with fast retries."""

    def __init__(
        self,
        *,
        lake_url: str,
        log_path: Path,
        workers: int = 2,
        env: dict | None = None,
        command: str = "qcluster",
    ):
        environment = {
            **os.environ,
            "CHAINLAKE_DATABASE_NAME": connection.settings_dict["NAME"],
            "STORAGE_URL": lake_url,
            "CHAINLAKE_WORKERS": str(workers),
            "CHAINLAKE_RETRY_BASE_SECONDS": "0.5",
            "CHAINLAKE_RETRY_CAP_SECONDS": "2",
            "CHAINLAKE_DATA_DIR": str(settings.DATA_DIR),
            "PYTHONUNBUFFERED": "1",
            "CHAINLAKE_PYTHON_CALLABLE_MODULES": "tests.orchestration.",
            **(env or {}),
        }
        super().__init__([command], env=environment, log_path=log_path)


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    tick: Callable[[], None] | None = None,
    every: float = 0.5,
    what: str = "condition",
) -> None:
    """Poll ``condition`` (running ``tick`` between polls) until true, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if tick:
            tick()
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
