"""Bad configuration stops the process with a one-line reason, never a traceback."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from platform_site.config import ConfigError, env_bool, env_float, env_int, env_seconds

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
        ({"CHAINLAKE_WORKERS": "two"}, "check", "CHAINLAKE_WORKERS='two' is not a whole number"),
        ({"CHAINLAKE_RETRY_BASE_SECONDS": "-1"}, "check", "CHAINLAKE_RETRY_BASE_SECONDS='-1'"),
        ({"CHAINLAKE_Q_POLL_SECONDS": "0"}, "check", "is not a positive number of seconds"),
        ({"CHAINLAKE_LOG_JSON": "maybe"}, "check", "CHAINLAKE_LOG_JSON='maybe' is not a boolean"),
        ({"CHAINLAKE_EMAIL_PORT": "70000"}, "check", "from 1 to 65535"),
        ({"CHAINLAKE_WEB_WORKERS": "many"}, "check", "CHAINLAKE_WEB_WORKERS='many'"),
        ({"CHAINLAKE_EVM_START_BLOCK": "latest"}, "check", "CHAINLAKE_EVM_START_BLOCK='latest'"),
        ({"CHAINLAKE_FAULT_PUBLISH_PAUSE_SECONDS": "soon"}, "check", "'soon' is not a number"),
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


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (
            lambda: env_int("CHAINLAKE_X", 2, minimum=1),
            "two",
            "CHAINLAKE_X='two' is not a whole number of at least 1",
        ),
        (
            lambda: env_int("CHAINLAKE_X", 2, minimum=1),
            "0",
            "CHAINLAKE_X='0' is not a whole number of at least 1",
        ),
        (
            lambda: env_int("CHAINLAKE_X", 2, minimum=1),
            "1.5",
            "CHAINLAKE_X='1.5' is not a whole number of at least 1",
        ),
        (
            lambda: env_int("CHAINLAKE_X", 25, minimum=1, maximum=65535),
            "65536",
            "CHAINLAKE_X='65536' is not a whole number from 1 to 65535",
        ),
        (lambda: env_int("CHAINLAKE_X", 2), "", None),
        (
            lambda: env_float("CHAINLAKE_X", 10.0, minimum=0),
            "ten",
            "CHAINLAKE_X='ten' is not a number of at least 0",
        ),
        (
            lambda: env_float("CHAINLAKE_X", 10.0, minimum=0),
            "-0.5",
            "CHAINLAKE_X='-0.5' is not a number of at least 0",
        ),
        (lambda: env_float("CHAINLAKE_X", 10.0), "nan", "CHAINLAKE_X='nan' is not a number"),
        (lambda: env_seconds("CHAINLAKE_X", 1.0), "0", "CHAINLAKE_X='0' is not a positive number of seconds"),
        (
            lambda: env_seconds("CHAINLAKE_X", 1.0),
            "inf",
            "CHAINLAKE_X='inf' is not a positive number of seconds",
        ),
        (lambda: env_bool("CHAINLAKE_X", default=False), "maybe", "CHAINLAKE_X='maybe' is not a boolean"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_expected(reader, value, message, monkeypatch):
    monkeypatch.setenv("CHAINLAKE_X", value)
    if message is None:  # empty: the default
        assert reader() == 2
        return
    with pytest.raises(ConfigError) as raised:
        reader()
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_good_values_are_read_with_their_type(monkeypatch):
    monkeypatch.setenv("CHAINLAKE_X", " 7 ")
    assert env_int("CHAINLAKE_X", 2, minimum=1) == 7
    assert env_float("CHAINLAKE_X", 1.0, minimum=0) == 7.0
    monkeypatch.setenv("CHAINLAKE_X", "-1")
    assert env_int("CHAINLAKE_X", 0, minimum=-1) == -1
    monkeypatch.delenv("CHAINLAKE_X")
    assert env_int("CHAINLAKE_X", 2, minimum=1) == 2 and env_seconds("CHAINLAKE_X", 0.1) == 0.1


def test_numbers_in_the_environment_are_read_only_through_the_typed_readers():
    # A bare int(os.environ...) turns a typo into a traceback instead of the one-line reason.
    bare = re.compile(r"\b(int|float)\(\s*os\.(environ|getenv)")
    product = [
        path
        for path in ROOT.rglob("*.py")
        if not {"tests", "bench"} & set(path.relative_to(ROOT).parts[:1])
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    ]
    assert product
    offenders = [str(path.relative_to(ROOT)) for path in product if bare.search(path.read_text())]
    assert offenders == []
