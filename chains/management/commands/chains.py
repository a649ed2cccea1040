"""The chain registry from the command line: ``chains list``, ``chains sync``, ``chains add``.

The registry is the platform org's ``chains`` setting (also edited in the admin); ``add`` writes an
entry there (replacing the entry of the same name), which syncs the ingestion jobs as any save of
those settings does; ``sync`` makes the jobs match the registry again and exits non-zero when a
chain's job could not be made to match.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chains.registry import ChainEntry, chain_registry, registry_put
from chains.services import chains_sync
from orchestration.models import Job
from orgs.models import platform_org


def _problems(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(" ".join(messages) for messages in exc.message_dict.values())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "List, sync or add the chains ingested side by side (the platform org's chain registry)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="{list,sync,add}")
        commands.add_parser("list", help="the registered chains and their ingestion jobs")
        commands.add_parser("sync", help="create, update, resume or pause ingestion jobs to match")
        add = commands.add_parser("add", help="register a chain (or replace the entry of that name)")
        add.add_argument("name", help="the chain's dataset namespace, one of CHAINLAKE_SYSTEM_NAMESPACES")
        add.add_argument("--chain-id", type=int, required=True)
        add.add_argument("--rpc-url", help="JSON-RPC node; omit for a synthetic demo chain")
        add.add_argument("--confirmations", type=int)
        add.add_argument("--reorg-window", type=int, help="deepest reorg handled without a person")
        add.add_argument("--partition-width", type=int)
        add.add_argument("--start-block", type=int)
        add.add_argument("--end-block", type=int)

    def handle(self, *args, action: str, **options) -> None:
        try:
            {"list": self._list, "sync": self._sync, "add": self._add}[action](options)
        except ValidationError as exc:
            raise CommandError(_problems(exc)) from None

    def _list(self, options: dict) -> None:
        platform = platform_org()
        entries = chain_registry(platform)
        if not entries:
            self.stdout.write("No chains registered (platform org setting `chains`).")
        jobs = {job.name: job for job in Job.objects.filter(org=platform)}
        for entry in entries:
            node = entry.rpc_url or "synthetic"
            job = jobs.get(entry.job_name)
            state = "no job yet (run sync)" if job is None else ("active" if job.active else "paused")
            self.stdout.write(
                f"{entry.name}\tchain {entry.chain_id}\t{node}\tconfirmations {entry.confirmations}\t"
                f"reorg window {entry.reorg_window}\twidth {entry.partition_width}\t"
                f"start {entry.start_block}\t{entry.job_name}: {state}"
            )

    def _sync(self, options: dict) -> None:
        report = chains_sync()
        self.stdout.write(report.summary())
        if report.errors:
            raise CommandError(
                "; ".join(f"chain {name}: {problem}" for name, problem in report.errors.items())
            )

    def _add(self, options: dict) -> None:
        given = {
            key: options[key]
            for key in ("confirmations", "reorg_window", "partition_width", "start_block", "end_block")
            if options.get(key) is not None
        }
        entry = ChainEntry(
            name=options["name"], chain_id=options["chain_id"], rpc_url=options.get("rpc_url"), **given
        )
        registry_put(entry)  # saving the settings syncs the jobs; the sync below reports on them
        self.stdout.write(f"Registered {entry.name} (chain {entry.chain_id}).")
        self._sync(options)
