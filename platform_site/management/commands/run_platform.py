"""Bring the whole platform up in the foreground: migrate, seed, collect the static files, serve the
web app with gunicorn and run a qcluster.

Ctrl-C in a terminal sends SIGINT to every process of the foreground process group; a service
manager sends SIGTERM to this process. Either way the shutdown is the same and complete: each child
runs in a process group of its own, so the terminal's signal reaches only this process, which then
stops the children itself (SIGTERM to each child's whole group, SIGKILL to whatever of a group is
still alive after the grace period) and finally the embedded PostgreSQL. Nothing is left running,
and the next run starts where this one left off: all state is in the database and the data folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# How long a child may take to finish what it is doing after SIGTERM before its group is killed.
GRACE_SECONDS = 20


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_children(children: list[subprocess.Popen], *, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every child's process group, wait until each group is empty, SIGKILL the rest."""
    for child in children:
        _signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for child in children:
            child.poll()  # reap the leader, so an exited leader does not keep its group "alive"
        if not any(_group_alive(child.pid) for child in children):
            return
        time.sleep(0.2)
    for child in children:
        _signal_group(child.pid, signal.SIGKILL)
    for child in children:
        child.wait(timeout=10)


class Command(BaseCommand):
    help = (
        "Run the platform: web (admin + API, gunicorn) and a django-q2 cluster, after migrating and seeding."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=settings.RUN_PLATFORM_ADDR)
        parser.add_argument("--web-workers", type=int, default=settings.RUN_PLATFORM_WEB_WORKERS)

    def handle(self, *args, addr: str, web_workers: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Admin: http://{addr}/admin/   API schema: http://{addr}/api/schema/swagger/")
        self.stdout.write("Press Ctrl-C to stop.")
        # A service manager stops us with SIGTERM; treat it like Ctrl-C so the shutdown is the same.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        children: list[subprocess.Popen] = []
        exited: list[subprocess.Popen] = []
        try:
            env = self.children_env()
            for command in self.child_commands(addr=addr, web_workers=web_workers):
                # A session of its own: a terminal's Ctrl-C reaches only us, and we stop it in order.
                children.append(subprocess.Popen(command, env=env, start_new_session=True))
            while not exited:
                time.sleep(0.5)
                exited = [child for child in children if child.poll() is not None]
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C must not cut the shutdown short and leave children behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            stop_children(children)
            if not os.environ.get("DATABASE_URL"):
                from django.db import connections

                connections.close_all()
                call_command("embedded_db", "stop")
        if exited:  # a child ended on its own, before anyone asked us to stop
            names = ", ".join(" ".join(child.args[1:4]) for child in exited)
            self.stderr.write(f"stopped because {names} exited")

    def child_commands(self, *, addr: str, web_workers: int) -> list[list[str]]:
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "platform_site.wsgi:application",
            f"--bind={addr}",
            f"--workers={web_workers}",
            "--graceful-timeout=10",
            "--timeout=120",
            # Requests are logged by the platform's own middleware (with user and org ids).
            "--access-logfile=-" if settings.RUN_PLATFORM_GUNICORN_ACCESS_LOG else "--log-level=warning",
        ]
        workers = [sys.executable, "manage.py", "run_workers"]
        return [workers, web]

    def children_env(self) -> dict:
        """The children's environment: metrics of every process of this host in one folder."""
        env = dict(os.environ)
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            folder = settings.DATA_DIR / "metrics"
            shutil.rmtree(folder, ignore_errors=True)  # counters of a previous run are not this run's
            folder.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        return env
