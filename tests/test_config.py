"""Bad configuration stops the process with a one-line reason, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "command", "reason"),
    [
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"}, "migrate", "cannot use the database"),
        ({"CHAINLAKE_DATA_DIR": "/proc/chainlake"}, "check", "not writable"),
        ({"DATABASE_URL": "mysql://root@127.0.0.1/x"}, "check", "must point at PostgreSQL"),
        ({"DEBUG": "perhaps"}, "check", "DEBUG='perhaps' is not a boolean"),
        ({"STORAGE_URL": "ftp://example/lake"}, "check", "STORAGE_URL"),
        ({"CHAINLAKE_MAX_QUERY_MEMORY_MB": "lots"}, "check", "CHAINLAKE_MAX_QUERY_MEMORY_MB='lots'"),
        ({"CHAINLAKE_MAX_QUERY_THREADS": "0"}, "check", "at least 1"),
    ],
)
def test_bad_configuration_is_one_line(env, command, reason):
    result = manage(command, **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr


def test_data_dir_blocked_by_a_file_is_reported(tmp_path):
    # Tests run as root, which ignores permission bits, so a file standing where the folder should be
    # is the portable way to make the data folder unusable.
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = manage("check", CHAINLAKE_DATA_DIR=str(blocker))
    assert result.returncode != 0 and "not writable" in result.stderr and "Traceback" not in result.stderr


def test_secret_key_is_generated_once_and_kept(tmp_path):
    from platform_site.config import secret_key

    first = secret_key(tmp_path)
    assert len(first) >= 50 and secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_processes_starting_together_all_accept_the_data_dir(tmp_path, monkeypatch):
    # make run starts the web server and the workers at the same moment; each checks the folder.
    from concurrent.futures import ThreadPoolExecutor

    from platform_site.config import data_dir

    monkeypatch.setenv("CHAINLAKE_DATA_DIR", str(tmp_path))
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: data_dir(), range(2000)))
    assert set(results) == {tmp_path.resolve()}
    assert list(tmp_path.iterdir()) == []
