"""django-q2 uses the database as its broker by default and Redis (the reliable broker of
``orchestration.broker``) when REDIS_URL is set."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("CHAINLAKE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def broker_class(**env: str) -> str:
    code = "from django_q.brokers import get_broker; print(type(get_broker()).__name__)"
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | env
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_database_broker_by_default():
    assert broker_class() == "ORM"


@pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379")
def test_redis_broker_carries_work_to_a_real_cluster(tmp_path):
    assert broker_class(REDIS_URL=REDIS_URL) == "ReliableRedis"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(REDIS_URL=REDIS_URL, CHAINLAKE_DATA_DIR=str(tmp_path), CHAINLAKE_WORKERS="1")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code = (
            "from django_q.tasks import async_task, result; "
            "print(result(async_task('math.floor', 41.5), wait=30000))"
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip().splitlines()[-1] == "41"
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
        subprocess.run([sys.executable, "manage.py", "embedded_db", "stop"], cwd=ROOT, env=env, timeout=60)
