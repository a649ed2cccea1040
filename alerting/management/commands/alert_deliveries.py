"""Run a delivery worker: lease due alert deliveries, send them, record the results, repeat.

The fast path beside the django-q2 drain: a worker polls every ``--idle-sleep`` seconds when
nothing is due. Many workers on many hosts share the work (leases use SKIP LOCKED). A worker leases
a delivery only when one of its ``--threads`` senders is free, so a slow receiver holds one sender
(for at most the delivery deadline), never the others.
"""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from alerting.services.deliveries import deliveries_process


class Command(BaseCommand):
    help = "Send due alert deliveries (a loop; --once drains what is due and exits)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="drain what is due now, then exit")
        parser.add_argument(
            "--batch", type=int, default=200, help="most deliveries one lease statement takes"
        )
        parser.add_argument("--threads", type=int, default=16, help="sends in flight at once")
        parser.add_argument("--idle-sleep", type=float, default=0.2, help="seconds between polls when idle")

    def handle(self, *args, once, batch, threads, idle_sleep, **options):
        if batch < 1 or threads < 1 or idle_sleep < 0:
            raise CommandError("--batch and --threads must be at least 1, --idle-sleep not negative")
        stopping = {"now": False}

        def stop(*_):
            stopping["now"] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        totals: dict[str, int] = {}
        while not stopping["now"]:
            close_old_connections()
            # One run until nothing is due: a slow receiver still sending never holds back the
            # next leases, as a run that waited for all its sends before the next would.
            counts = deliveries_process(
                limit=None, threads=threads, batch=batch, stop=lambda: stopping["now"]
            )
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            if counts["leased"]:
                continue
            if once:
                break
            time.sleep(idle_sleep)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(totals.items())) or "nothing due")
