"""Bring the whole platform up in the foreground: migrate, seed, serve the web app and a qcluster.

Ctrl-C stops the web server, the workers and (when it is in use) the embedded PostgreSQL; the next
run starts where this one left off, because all state is in the database and the data folder.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the platform: web (admin + API) and a django-q2 cluster, after migrating and seeding."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("CHAINLAKE_ADDR", "127.0.0.1:8000"))

    def handle(self, *args, addr: str, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_demo")
        self.stdout.write(f"Admin: http://{addr}/admin/   API schema: http://{addr}/api/schema/swagger/")
        self.stdout.write("Press Ctrl-C to stop.")
        # A service manager stops us with SIGTERM; treat it like Ctrl-C so the shutdown is the same.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        manage = [sys.executable, "manage.py"]
        children = [
            subprocess.Popen([*manage, "run_workers"]),
            subprocess.Popen([*manage, "runserver", "--noreload", addr]),
        ]
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            if not os.environ.get("DATABASE_URL"):
                from django.db import connections

                connections.close_all()
                call_command("embedded_db", "stop")
        failed = [child.args[2] for child in children if child.returncode not in (0, -signal.SIGINT, None)]
        if failed:
            self.stderr.write(f"stopped because {', '.join(failed)} exited")
