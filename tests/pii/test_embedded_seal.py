"""On the embedded server the access log is sealed by default: the platform connects as
``chainlake_app``, which cannot switch the log's guard off, and a data folder from the superuser
days is adopted on the next start. Runs ``manage.py`` against an embedded server of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir():
    # Under the worktree's .data: the embedded server may run as another system user.
    (ROOT / ".data").mkdir(exist_ok=True)  # a fresh clone run against DATABASE_URL has none yet
    folder = Path(tempfile.mkdtemp(prefix="pii-seal-", dir=ROOT / ".data"))
    folder.chmod(0o755)
    env = _env(folder)
    yield folder
    subprocess.run([sys.executable, "manage.py", "embedded_db", "stop"], cwd=ROOT, env=env, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def _env(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CHAINLAKE_DATABASE_NAME"}}
    env["CHAINLAKE_DATA_DIR"] = str(folder)
    return env


def _manage(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _socket(folder: Path) -> str:
    superuser_url = _manage(folder, "embedded_db", "url").stdout.strip()
    return superuser_url.rsplit("host=", 1)[1]


def _connect(folder: Path, user: str):
    return psycopg.connect(host=_socket(folder), user=user, dbname="chainlake", autocommit=True)


def _refused(conn, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.Error:
        return True
    return False


def test_the_embedded_platform_role_cannot_switch_the_log_guard_off(data_dir):
    migrated = _manage(data_dir, "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    report = _manage(data_dir, "pii_access_log_seal")
    assert report.returncode == 0 and "append-only against chainlake_app" in report.stdout

    with _connect(data_dir, "chainlake_app") as app:
        assert app.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            False,
        )
        for statement in (
            "ALTER TABLE pii_access_log DISABLE TRIGGER USER",
            "DROP TRIGGER pii_access_log_append_only ON pii_access_log",
            "DROP TABLE pii_access_log",
            "ALTER TABLE pii_access_log OWNER TO chainlake_app",
            "DROP DATABASE chainlake",
        ):
            assert _refused(app, statement), statement
        assert app.execute("SELECT count(*) FROM pii_access_log").fetchone() == (0,)


def test_a_superuser_era_data_folder_is_adopted_and_sealed(data_dir):
    assert _manage(data_dir, "migrate", "-v0").returncode == 0
    # As it was: the superuser owns the database and every table, the log included.
    with _connect(data_dir, "postgres") as superuser:
        superuser.execute("ALTER DATABASE chainlake OWNER TO postgres")
        for (table,) in superuser.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall():
            superuser.execute(f'ALTER TABLE "{table}" OWNER TO postgres')
        superuser.execute("ALTER SCHEMA public OWNER TO postgres")
    migrated = _manage(data_dir, "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    assert "append-only against chainlake_app" in _manage(data_dir, "pii_access_log_seal").stdout
    with _connect(data_dir, "postgres") as superuser:
        owners = dict(
            superuser.execute(
                "SELECT tableowner, count(*) FROM pg_tables WHERE schemaname = 'public' GROUP BY 1"
            ).fetchall()
        )
    assert set(owners) == {"chainlake_app", "chainlake_log_owner"} and owners["chainlake_log_owner"] == 1
