"""The chain registry: which chains the platform ingests side by side, kept in the platform org's
settings (key ``chains``) where the admin edits it; the data model has no table of chains.

Each entry names a chain and its dataset namespace at once (``base`` -> ``base.blocks``,
``base.logs``, ...), so the name must be one of the system namespaces: those every org reads and the
platform org writes (``CHAINLAKE_SYSTEM_NAMESPACES``). Entries are checked on every write of the
settings (:func:`registry_errors`, registered from ``ChainsConfig.ready``), so a bad entry is a
field error naming the entry and the field, in the admin as on the command line;
:func:`chain_registry` reads the registry back as typed entries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from chains.ingest import DEFAULT_MAX_REORG_DEPTH
from chains.schema import DEFAULT_PARTITION_WIDTH
from orgs.models import Org, platform_org

SETTINGS_KEY = "chains"
NAMESPACES_SETTING = "CHAINLAKE_SYSTEM_NAMESPACES"
DEFAULT_CONFIRMATIONS = 12


@dataclass(frozen=True)
class ChainEntry:
    """One registered chain. Without ``rpc_url`` it is a synthetic demo chain (generated, no node)."""

    name: str
    chain_id: int
    rpc_url: str | None = None
    confirmations: int = DEFAULT_CONFIRMATIONS
    reorg_window: int = DEFAULT_MAX_REORG_DEPTH
    partition_width: int = DEFAULT_PARTITION_WIDTH
    start_block: int = 0
    end_block: int | None = None

    @property
    def synthetic(self) -> bool:
        return not self.rpc_url

    @property
    def job_name(self) -> str:
        return f"ingest_{self.name}"

    def as_setting(self) -> dict[str, Any]:
        """The entry as stored in the settings: only what differs from the defaults."""
        defaults = ChainEntry(name=self.name, chain_id=self.chain_id)
        return {
            key: value
            for key, value in asdict(self).items()
            if key in ("name", "chain_id") or value != getattr(defaults, key)
        }


def _where(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"chains[{index}]" + (f" ({name})" if isinstance(name, str) else "")


def registry_errors(value: dict, org_slug: str | None) -> list[str]:
    """What is wrong with the ``chains`` key of an org's settings (already of the right shape by
    the settings schema), one ``chains[i] (name).field: reason`` line per problem."""
    entries = value.get(SETTINGS_KEY) or []
    if not entries:
        return []
    if org_slug is not None and org_slug != settings.PLATFORM_ORG_SLUG:
        return [
            f"{SETTINGS_KEY}: only the platform org ({settings.PLATFORM_ORG_SLUG}) holds the chain registry"
        ]
    errors = []
    names: dict[str, int] = {}
    chain_ids: dict[int, str] = {}
    for index, entry in enumerate(entries):
        where = _where(index, entry)
        name, chain_id = entry["name"], entry["chain_id"]
        if name not in settings.SYSTEM_NAMESPACES:
            allowed = ", ".join(settings.SYSTEM_NAMESPACES)
            errors.append(
                f"{where}.name: {name!r} is not a system namespace (now: {allowed}); a chain's datasets "
                f"live in a namespace of its own: add it to {NAMESPACES_SETTING}"
            )
        if name in names:
            errors.append(f"{where}.name: {name!r} is registered twice (also chains[{names[name]}])")
        names.setdefault(name, index)
        if chain_id in chain_ids:
            errors.append(f"{where}.chain_id: {chain_id} is already the chain {chain_ids[chain_id]!r}")
        chain_ids.setdefault(chain_id, name)
        url = entry.get("rpc_url")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(f"{where}.rpc_url: an http(s) JSON-RPC endpoint such as http://127.0.0.1:8545")
        end = entry.get("end_block")
        if end is not None and end < entry.get("start_block", 0):
            errors.append(f"{where}.end_block: at least start_block, or null to follow the head")
    return errors


def parse_entries(entries: list[dict]) -> list[ChainEntry]:
    """Typed entries of a registry that passed the settings checks."""
    return [ChainEntry(**entry) for entry in entries]


def chain_registry(org: Org | None = None) -> list[ChainEntry]:
    """The registered chains, from the platform org's settings (checked when they were saved; an
    entry saved before a namespace left ``CHAINLAKE_SYSTEM_NAMESPACES`` is reported here)."""
    org = org or platform_org()
    entries = org.settings.get(SETTINGS_KEY) or []
    if errors := registry_errors({SETTINGS_KEY: entries}, org.slug):
        raise ValidationError({"settings": errors})
    return parse_entries(entries)


def registry_save(entries: list[ChainEntry], org: Org | None = None) -> Org:
    """Store ``entries`` as the registry; a bad registry is refused (ValidationError, nothing
    saved). Saving the platform org's settings syncs the ingestion jobs."""
    org = org or platform_org()
    org.settings = {**org.settings, SETTINGS_KEY: [entry.as_setting() for entry in entries]}
    org.save()
    return org


def registry_put(entry: ChainEntry, org: Org | None = None) -> Org:
    """Add ``entry``, or replace the entry of the same name."""
    org = org or platform_org()
    current = [e for e in parse_entries(org.settings.get(SETTINGS_KEY) or []) if e.name != entry.name]
    return registry_save([*current, entry], org)
