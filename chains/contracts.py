"""Contracts an org registers for decoding: each registration is one ``evm_decode`` job.

The data model has no contracts table: a registration is exactly what a decoding job needs (the
chain, the address or any address emitting the events, the ABI or a built-in standard, which events
and functions), so it is kept as that job's config, with the job's tenancy, admin, API and history.
What the job writes follows from the ABI, under the org's namespace:

- ``<org>.<contract>_evt_<event>``: one typed dataset per event, one row per decoded log;
- ``<org>.<contract>_call_<function>``: one per registered function, from transaction input;
- ``<org>.<contract>_decode_errors``: every log or call that matched but could not be decoded.

Names are lower-case snake case (``TransferSingle`` -> ``transfer_single``), the only form dataset
names take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError

from labels.addresses import AddressError, evm_address_normalize
from orchestration.models import Job
from orchestration.services import job_create
from orgs.models import User

from .abi.spec import Abi, parse_abi
from .abi.standards import STANDARD_ABIS
from .abi.types import AbiError

OPERATOR = "evm_decode"


def standard_names() -> list[str]:
    return sorted(STANDARD_ABIS)


CONTRACT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def snake(name: str) -> str:
    """``TransferSingle`` -> ``transfer_single``; ``getReserves`` -> ``get_reserves``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-z0-9_]", "_", spaced.lower()).strip("_") or "unnamed"


@dataclass(frozen=True)
class ContractSpec:
    """A registration as the decoding job's config holds it."""

    name: str
    chain: str
    address: str | None  # None: any address emitting the events (factory-made contracts)
    standard: str | None
    abi: list | None
    events: list[str] | None  # None: every event of the ABI
    functions: list[str]

    def contract(self) -> Abi:
        return parse_abi(self.abi if self.abi is not None else STANDARD_ABIS[self.standard])

    def as_config(self) -> dict[str, Any]:
        return {
            "contract": self.name,
            "address": self.address,
            "standard": self.standard,
            "abi": self.abi,
            "events": self.events,
            "functions": self.functions,
        }

    @classmethod
    def from_job(cls, job: Job) -> ContractSpec:
        config = job.config if isinstance(job.config, dict) else {}
        return cls(
            name=config.get("contract", ""),
            chain=(job.input_datasets or [""])[0].split(".", 1)[0],
            address=config.get("address"),
            standard=config.get("standard"),
            abi=config.get("abi"),
            events=config.get("events"),
            functions=config.get("functions") or [],
        )


def spec_errors(spec: ContractSpec) -> dict[str, str]:
    """Field -> message for everything wrong with a registration (an empty dict: it is fine)."""
    errors: dict[str, str] = {}
    if not isinstance(spec.name, str) or not CONTRACT_NAME.match(spec.name):
        errors["name"] = "a contract name is lower-case letters, digits and _ (e.g. usdc, uni_v2_pair)"
    if spec.address is not None:
        try:
            evm_address_normalize(spec.address if isinstance(spec.address, str) else "")
        except AddressError as exc:
            errors["address"] = str(exc)
    if (spec.abi is None) == (spec.standard is None):
        errors["abi"] = f"give an ABI (JSON list) or a standard ({', '.join(standard_names())}), not both"
        return errors
    if spec.standard is not None and spec.standard not in standard_names():
        errors["standard"] = f"unknown standard {spec.standard!r}; one of {', '.join(standard_names())}"
        return errors
    try:
        contract = spec.contract()
    except AbiError as exc:
        errors["abi"] = str(exc)
        return errors
    # The jobs API takes any JSON as config: names are checked to be lists of text before use.
    if spec.events is not None and not _names(spec.events):
        errors["events"] = "events are a non-empty list of event names"
        return errors
    if not isinstance(spec.functions, list) or (spec.functions and not _names(spec.functions)):
        errors["functions"] = "functions are a list of function names"
        return errors
    known_events = {event.name for event in contract.events}
    known_functions = {function.name for function in contract.functions}
    if spec.events is not None:
        unknown = [name for name in spec.events if name not in known_events]
        if unknown:
            errors["events"] = f"events are names of the ABI's events: {', '.join(sorted(known_events))}"
    elif not contract.events and not spec.functions:
        errors["abi"] = "the ABI has no event to decode; name functions to decode calls"
    unknown = [name for name in spec.functions if name not in known_functions]
    if unknown:
        errors["functions"] = f"no function {', '.join(unknown)} in the ABI"
    return errors


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(name, str) for name in value)


def chosen_events(spec: ContractSpec, contract: Abi):
    wanted = None if spec.events is None else set(spec.events)
    return [event for event in contract.events if wanted is None or event.name in wanted]


def chosen_functions(spec: ContractSpec, contract: Abi):
    wanted = set(spec.functions)
    return [function for function in contract.functions if function.name in wanted]


def event_dataset(namespace: str, spec: ContractSpec, event_name: str) -> str:
    return f"{namespace}.{spec.name}_evt_{snake(event_name)}"


def call_dataset(namespace: str, spec: ContractSpec, function_name: str) -> str:
    return f"{namespace}.{spec.name}_call_{snake(function_name)}"


def errors_dataset(namespace: str, spec: ContractSpec) -> str:
    return f"{namespace}.{spec.name}_decode_errors"


def output_datasets(namespace: str, spec: ContractSpec) -> list[str]:
    contract = spec.contract()
    names = [event_dataset(namespace, spec, event.name) for event in chosen_events(spec, contract)]
    names += [call_dataset(namespace, spec, function.name) for function in chosen_functions(spec, contract)]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        # Overloaded events share a name: their datasets would collide.
        raise ValidationError({"events": f"overloaded names map to one dataset: {', '.join(duplicated)}"})
    return [*names, errors_dataset(namespace, spec)]


def input_datasets(spec: ContractSpec) -> list[str]:
    inputs = [f"{spec.chain}.logs"]
    if spec.functions:
        inputs.append(f"{spec.chain}.transactions")
    return inputs


def contract_register(
    *,
    user: User,
    name: str,
    chain: str,
    address: str | None = None,
    standard: str | None = None,
    abi: list | None = None,
    events: list[str] | None = None,
    functions: list[str] | None = None,
) -> Job:
    """Register a contract of ``user``'s org: create its decoding job (reactive on the chain's logs).

    Raises ValidationError (field -> message) for a bad registration or a job the org may not have
    (e.g. a chain namespace it may not read); nothing is saved then."""
    spec = ContractSpec(
        name=name,
        chain=chain,
        address=address or None,
        standard=standard or None,
        abi=abi,
        events=events,
        functions=list(functions or []),
    )
    errors = spec_errors(spec)
    if errors:
        raise ValidationError(errors)
    if spec.address is not None:
        spec = replace(spec, address=evm_address_normalize(spec.address))
    return job_create(
        org=user.org,
        name=f"decode_{spec.name}",
        operator=OPERATOR,
        runtime="python",
        input_datasets=input_datasets(spec),
        output_datasets=output_datasets(user.org.slug, spec),
        activation="reactive",
        config=spec.as_config(),
        source={},
    )
