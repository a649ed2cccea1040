"""``evm_decode``: a registered contract's logs and calls, decoded by its ABI into typed datasets.

Inputs: ``<chain>.logs`` (and ``<chain>.transactions`` when functions are registered), partition
for partition (block ranges). Per partition, the logs of the contract's address (or of any address,
for factory-made contracts) are split by ``topic0`` into one table per event and decoded with
:mod:`chains.abi`; transactions to the address are split by selector and their input decoded the
same way. Every output partition is written, empty or not, so each one follows its input's version.

Nothing is dropped silently: a log whose topic0 matches an event but whose topics or data do not fit
it (another contract's event with the same signature but other indexed parameters, a truncated
payload) lands in ``<org>.<contract>_decode_errors`` with the reason, and the count is logged.
A reorg invalidation of the logs rebuilds the partitions it covers, like any job's.
"""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.operators import register
from orchestration.operators.base import Operator, OperatorError, TaskContext

from ..abi.decode import CALL_KEY_COLUMNS, CONTRACT_COLUMN, LOG_KEY_COLUMNS, decode_calls, decode_logs
from ..abi.spec import Param
from ..abi.types import unique_columns
from ..contracts import (
    ContractSpec,
    call_dataset,
    chosen_events,
    chosen_functions,
    errors_dataset,
    event_dataset,
    input_datasets,
    output_datasets,
    spec_errors,
)

log = logging.getLogger(__name__)

# One error dataset per contract, for logs and calls alike: where the row is, what it was taken
# for and why it could not be decoded.
ERROR_SCHEMA = pa.schema(
    [
        pa.field("chain_id", pa.int64()),
        pa.field("block_number", pa.int64()),
        pa.field("block_hash", pa.string()),
        pa.field("block_timestamp", pa.timestamp("s", tz="UTC")),
        pa.field("transaction_index", pa.int32()),
        pa.field("transaction_hash", pa.string()),
        pa.field("log_index", pa.int32()),  # null for a call
        pa.field(CONTRACT_COLUMN, pa.string()),
        pa.field("kind", pa.string()),  # event or call
        pa.field("signature", pa.string()),
        pa.field("reason", pa.string()),
    ]
)


def parameter_columns(params: tuple[Param, ...], keys: tuple[str, ...]) -> list[tuple[str, Param]]:
    """The decoded column of each parameter, named as the decoder names it."""
    names = unique_columns(
        [param.base_column(position) for position, param in enumerate(params)],
        frozenset((*keys, CONTRACT_COLUMN)),
    )
    return list(zip(names, params, strict=True))


def as_errors(errors: pa.Table, kind: str) -> pa.Table:
    """The decoder's error rows (``event`` or ``function`` column) in the contract's error schema."""
    label = "event" if kind == "event" else "function"
    rows = errors.num_rows
    columns = {}
    for field in ERROR_SCHEMA:
        if field.name in errors.column_names:
            columns[field.name] = errors[field.name].cast(field.type)
        elif field.name == "kind":
            columns[field.name] = pa.array([kind] * rows, pa.string())
        elif field.name == "signature":
            columns[field.name] = errors[label].cast(pa.string())
        else:
            columns[field.name] = pa.nulls(rows, field.type)
    return pa.table(columns, schema=ERROR_SCHEMA)


def _of_address(table: pa.Table, column: str, address: str | None) -> pa.Table:
    if address is None or not table.num_rows:
        return table
    return table.filter(pc.equal(table[column], address))


def _with_topic0(logs: pa.Table, topic0: str) -> pa.Table:
    return logs.filter(pc.equal(logs["topic0"], topic0)) if logs.num_rows else logs


def _with_selector(transactions: pa.Table, selector: str) -> pa.Table:
    if not transactions.num_rows:
        return transactions
    return transactions.filter(pc.starts_with(transactions["input"], selector))


@register
class EvmDecodeOperator(Operator):
    name = "evm_decode"
    runtimes = ("python",)

    def validate(self, job) -> dict[str, str]:
        spec = ContractSpec.from_job(job)
        errors: dict[str, str] = {}
        problems = spec_errors(spec)
        if problems:
            errors["config"] = "; ".join(f"{field}: {message}" for field, message in problems.items())
            return errors
        if list(job.input_datasets) != input_datasets(spec):
            errors["input_datasets"] = f"evm_decode reads {', '.join(input_datasets(spec))}"
        expected = output_datasets(job.org.slug, spec)
        if list(job.output_datasets) != expected:
            errors["output_datasets"] = f"evm_decode writes {', '.join(expected)}"
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        spec = ContractSpec.from_job(job)
        contract = spec.contract()
        namespace = job.org.slug
        logs = f"{spec.chain}.logs"
        edges = []
        for event in chosen_events(spec, contract):
            output = event_dataset(namespace, spec, event.name)
            edges += [(output, key, logs, key) for key in LOG_KEY_COLUMNS]
            edges.append((output, CONTRACT_COLUMN, logs, "address"))
            topic = 0 if event.anonymous else 1
            for column, param in parameter_columns(event.params, LOG_KEY_COLUMNS):
                if param.indexed:
                    edges.append((output, column, logs, f"topic{topic}"))
                    topic += 1
                else:
                    edges.append((output, column, logs, "data"))
        transactions = f"{spec.chain}.transactions"
        for function in chosen_functions(spec, contract):
            output = call_dataset(namespace, spec, function.name)
            edges += [(output, key, transactions, key) for key in CALL_KEY_COLUMNS]
            edges.append((output, CONTRACT_COLUMN, transactions, "to_address"))
            edges += [
                (output, column, transactions, "input")
                for column, _ in parameter_columns(function.inputs, CALL_KEY_COLUMNS)
            ]
        return edges

    def run(self, ctx: TaskContext) -> None:
        spec = ContractSpec.from_job(ctx.job)
        contract = spec.contract()
        namespace = ctx.job.org.slug
        logs_dataset = f"{spec.chain}.logs"
        for key in ctx.partitions:
            failures: list[pa.Table] = []
            logs = _of_address(self._read(ctx, logs_dataset, key), "address", spec.address)
            for event in chosen_events(spec, contract):
                decoded = decode_logs(_with_topic0(logs, event.topic0), event)
                ctx.write(event_dataset(namespace, spec, event.name), key, decoded.table)
                failures.append(as_errors(decoded.errors, "event"))
            functions = chosen_functions(spec, contract)
            if functions:
                transactions = _of_address(
                    self._read(ctx, f"{spec.chain}.transactions", key), "to_address", spec.address
                )
                for function in functions:
                    decoded = decode_calls(_with_selector(transactions, function.selector), function)
                    ctx.write(call_dataset(namespace, spec, function.name), key, decoded.table)
                    failures.append(as_errors(decoded.errors, "call"))
            errors = pa.concat_tables(failures) if failures else ERROR_SCHEMA.empty_table()
            if errors.num_rows:
                log.warning(
                    "evm_decode %s: %d rows of partition %s could not be decoded (kept in %s)",
                    ctx.job.name,
                    errors.num_rows,
                    key,
                    errors_dataset(namespace, spec),
                )
            ctx.write(errors_dataset(namespace, spec), key, errors)

    @staticmethod
    def _read(ctx: TaskContext, dataset: str, key: str) -> pa.Table:
        table = ctx.read(dataset, [key])
        if table is None or not table.num_columns:
            raise OperatorError(f"evm_decode: {dataset} has no partition {key}")
        return table
