"""Real ``manage.py qcluster`` processes for tests, against the test database."""

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


class QCluster:
    """A qcluster subprocess in its own process group; always stopped, never left behind."""

    def __init__(
        self,
        *,
        lake_url: str,
        log_path: Path,
        workers: int = 2,
        env: dict | None = None,
        command: str = "qcluster",
    ):
        self.log_path = log_path
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
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", command],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


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
