"""DEBUG is off unless asked for, production settings refuse what a deployment must not run
without and pass ``check --deploy``, and error pages show nothing of the configuration."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "platform_site.settings_production",
    "ALLOWED_HOSTS": "chainlake.example.com",
    # check --deploy never connects: a documented-shape URL is enough.
    "DATABASE_URL": "postgres://chainlake:secret-password@db.internal:5432/chainlake",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "STORAGE_URL": "s3://chainlake-lake/prod",
}


def manage(*args: str, env: dict, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE belongs to the browser tests' harness, never to a deployment.
    harness = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", *drop}
    environment = {k: v for k, v in os.environ.items() if k not in harness}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_is_off_unless_asked_for():
    show = ["shell", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    assert manage(*show, env={}).stdout.strip().splitlines()[-1] == "False"
    assert manage(*show, env={"DEBUG": "true"}).stdout.strip().splitlines()[-1] == "True"


def test_production_settings_pass_check_deploy_without_warnings():
    result = manage("check", "--deploy", env={**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(60)})
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNINGS" not in result.stderr


@pytest.mark.parametrize(
    ("missing", "extra", "reason"),
    [
        ("SECRET_KEY", {}, "SECRET_KEY must be set in production"),
        ("ALLOWED_HOSTS", {"SECRET_KEY": "x" * 60}, "ALLOWED_HOSTS must list"),
        (None, {"SECRET_KEY": "x" * 60, "DEBUG": "true"}, "DEBUG must be off in production"),
    ],
)
def test_production_settings_refuse_to_start_without_what_they_need(tmp_path, missing, extra, reason):
    env = {**PRODUCTION_ENV, **extra, "CHAINLAKE_DATA_DIR": str(tmp_path)}
    env.pop(missing, None)
    result = manage("check", env=env, drop=(missing,) if missing else ())
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chainlake: configuration error: {reason}"), result.stderr
    # No key was generated into the data folder behind the operator's back.
    assert not (tmp_path / "secret_key").exists()


def boom(request):
    raise RuntimeError("deliberate failure")


urlpatterns = [path("boom/", boom)]


@pytest.mark.django_db
def test_error_pages_show_no_settings_and_a_404_lists_no_urls(client, settings):
    # As served: DEBUG at its default (off), the real URLconf for the 404.
    assert settings.DEBUG is False
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    body = missing.content.decode()
    for leak in ("URLconf", "api/v1/", "admin/", "Using the URLconf"):
        assert leak not in body

    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    failed = client.get("/boom/")
    assert failed.status_code == 500
    text = failed.content.decode()
    for leak in ("deliberate failure", "DATABASE", "SECRET_KEY", "Traceback", "PATH"):
        assert leak not in text
