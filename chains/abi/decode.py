"""Logs and calls decoded with an ABI event or function into Arrow tables: `decode_logs`,
`decode_calls` -> `DecodeResult`.

Which logs are the event's (topic0) is the caller's choice; everything handed in comes back, either
as a decoded row or as an error row with the reason, never silently dropped. A log is an error row
when its topics are not the event's count (an ERC-721 Transfer has a fourth topic where an ERC-20
Transfer has none), its data is not hex or not the length the event needs (exactly the head for an
event of static parameters; at least the head, and every offset and length inside, for one with
dynamic parts), or a value's padding is not its type's (see `words`).

Columns of `table`: the key columns of the input, `contract_address` (the log's address, or the
transaction's `to_address`), then one column per parameter in ABI order, named in snake_case
(`amount0In` -> `amount0_in`, unnamed -> `arg0`, a name taken already -> `<name>_<position>`). An
indexed parameter of dynamic type (string, bytes, array, tuple) is kept by the log only as the
keccak-256 of its encoding: its column `<name>_hash` holds that hash (so does an indexed
fixed-size array or tuple). `errors` has the key columns,
`contract_address`, `event` (or `function`: the signature) and `reason`.

Static values are decoded a column at a time (`hexdata`, `words`, `decimals`); values with dynamic
parts one row at a time (`dynamic`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from chains.abi.dynamic import Row, Undecodable, read_at
from chains.abi.hexdata import fixed_strings, layout, lower, read_fixed, read_ragged
from chains.abi.spec import Event, Function, Param
from chains.abi.tails import column_at_a_time, decode_tail
from chains.abi.types import unique_columns
from chains.abi.words import decode_static

LOG_KEY_COLUMNS = (
    "chain_id",
    "block_number",
    "block_hash",
    "block_timestamp",
    "transaction_index",
    "transaction_hash",
    "log_index",
)
CALL_KEY_COLUMNS = (
    "chain_id",
    "block_number",
    "block_hash",
    "block_timestamp",
    "transaction_index",
    "transaction_hash",
    "from_address",
)
CONTRACT_COLUMN = "contract_address"
BATCH_ROWS = 1 << 20  # keeps every string column of a batch under Arrow's 2 GiB offsets

__all__ = ["CALL_KEY_COLUMNS", "LOG_KEY_COLUMNS", "DecodeResult", "decode_calls", "decode_logs"]


@dataclass
class DecodeResult:
    """Decoded rows, the rows that could not be decoded (with a reason each), and how many string
    values held bytes that are not UTF-8 (kept, with U+FFFD in their place)."""

    table: pa.Table
    errors: pa.Table
    replaced_strings: int = 0


def decode_logs(logs: pa.Table, event: Event) -> DecodeResult:
    """`logs` (evm.logs columns: the key columns, address, topic0..topic3, data) decoded as
    `event`'s logs."""
    first_topic = 0 if event.anonymous else 1
    topics = [(param, f"topic{first_topic + position}") for position, param in enumerate(event.indexed)]
    spec = _Spec(
        label=event.signature,
        label_column="event",
        key_columns=LOG_KEY_COLUMNS,
        contract_source="address",
        params=event.params,
        topics=topics,
        topic_count=event.topic_count,
        data_column="data",
        skip=2,
        exact_length=True,
    )
    return _decode_batches(logs, spec)


def decode_calls(transactions: pa.Table, function: Function) -> DecodeResult:
    """`transactions` (evm.transactions columns) whose `input` is a call of `function`: the
    selector must be the function's; bytes after its arguments are allowed (callers often append
    some)."""
    spec = _Spec(
        label=function.signature,
        label_column="function",
        key_columns=CALL_KEY_COLUMNS,
        contract_source="to_address",
        params=function.inputs,
        topics=[],
        topic_count=None,
        data_column="input",
        skip=10,
        exact_length=False,
        selector=function.selector,
    )
    return _decode_batches(transactions, spec)


@dataclass
class _Spec:
    label: str
    label_column: str
    key_columns: tuple[str, ...]
    contract_source: str
    params: tuple[Param, ...]
    topics: list[tuple[Param, str]]
    topic_count: int | None
    data_column: str
    skip: int
    exact_length: bool
    selector: str | None = None
    columns: list[str] = field(init=False)
    data_params: list[Param] = field(init=False)

    def __post_init__(self) -> None:
        reserved = frozenset((*self.key_columns, CONTRACT_COLUMN))
        self.columns = unique_columns(
            [param.base_column(position) for position, param in enumerate(self.params)], reserved
        )
        self.data_params = [param for param in self.params if not param.indexed]

    @property
    def head_words(self) -> int:
        return sum(param.type.head_words for param in self.data_params)

    @property
    def dynamic(self) -> bool:
        return any(param.type.is_dynamic for param in self.data_params)

    def output_schema(self, source: pa.Schema) -> pa.Schema:
        keys = [source.field(name) for name in self.key_columns]
        values = [
            pa.field(column, pa.string() if param.hashed_in_topic else param.type.arrow_type())
            for param, column in zip(self.params, self.columns, strict=True)
        ]
        return pa.schema([*keys, pa.field(CONTRACT_COLUMN, pa.string()), *values])

    def error_schema(self, source: pa.Schema) -> pa.Schema:
        keys = [source.field(name) for name in self.key_columns]
        return pa.schema(
            [
                *keys,
                pa.field(CONTRACT_COLUMN, pa.string()),
                pa.field(self.label_column, pa.string(), nullable=False),
                pa.field("reason", pa.string(), nullable=False),
            ]
        )


def _decode_batches(source: pa.Table, spec: _Spec) -> DecodeResult:
    missing = [
        name
        for name in (*spec.key_columns, spec.contract_source, spec.data_column, *(c for _, c in spec.topics))
        if name not in source.column_names
    ]
    if missing:
        raise ValueError(f"cannot decode {spec.label}: the table has no column {', '.join(missing)}")
    tables, errors, replaced = [], [], 0
    for start in range(0, max(source.num_rows, 1), BATCH_ROWS):
        batch = _Batch(source.slice(start, BATCH_ROWS), spec)
        table, error_table = batch.run()
        tables.append(table)
        errors.append(error_table)
        replaced += batch.replaced_strings
    if len(tables) == 1:
        return DecodeResult(tables[0], errors[0], replaced)
    return DecodeResult(pa.concat_tables(tables), pa.concat_tables(errors), replaced)


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


class _Batch:
    """One batch of rows through the checks and decoders. `rows` are the rows still standing;
    every failure moves rows to `failed` with a reason."""

    def __init__(self, source: pa.Table, spec: _Spec) -> None:
        self.source = source
        self.spec = spec
        self.rows = np.arange(source.num_rows, dtype=np.int64)
        self._columns: dict[str, pa.Array] = {}
        self.failed_rows: list[np.ndarray] = []
        self.failed_reasons: list[list[str] | str] = []
        self.replaced_strings = 0

    def column(self, name: str) -> pa.Array:
        """A column of the batch as one Arrow array (chunks joined once)."""
        if name not in self._columns:
            self._columns[name] = _column(self.source, name)
        return self._columns[name]

    def fail(self, mask: np.ndarray, reason) -> None:
        """Sets aside the standing rows where `mask` is true. `reason` is a string, or a function
        of the failing rows' positions in `rows` giving one string each."""
        if not mask.any():
            return
        failing = np.flatnonzero(mask)
        self.failed_rows.append(self.rows[failing])
        self.failed_reasons.append(reason if isinstance(reason, str) else reason(failing))
        self.rows = self.rows[~mask]

    def fail_rows(self, rows: np.ndarray, reason: str) -> None:
        if len(rows):
            self.fail(np.isin(self.rows, rows), reason)

    # -- checks of shape -----------------------------------------------------------------------

    def check_topics(self) -> None:
        spec = self.spec
        if spec.topic_count is None:
            return
        present = []
        for position in range(4):
            name = f"topic{position}"
            if name in self.source.column_names:
                present.append(self.column(name).is_valid().to_numpy(zero_copy_only=False))
            else:
                present.append(np.zeros(self.source.num_rows, dtype=bool))
        present = np.stack(present, axis=1)[self.rows]
        counts = present.sum(axis=1)
        wrong = (present != (np.arange(4) < spec.topic_count)).any(axis=1)
        self.fail(
            wrong,
            lambda failing: [
                f"{count} topics; {spec.label} has {len(spec.topics)} indexed parameters, so "
                f"{spec.topic_count} topics"
                for count in counts[failing]
            ],
        )
        for _, name in spec.topics:
            offsets, _text = layout(self.column(name))
            lengths = (offsets[1:] - offsets[:-1])[self.rows]
            self.fail(lengths != 66, f"{name} is not 32 bytes of 0x-hex")

    def check_data(self) -> None:
        spec = self.spec
        column = self.column(spec.data_column)
        offsets, text = layout(column)
        valid = column.is_valid().to_numpy(zero_copy_only=False)[self.rows] if column.null_count else True
        starts = offsets[self.rows]
        lengths = offsets[self.rows + 1] - starts
        prefixed = lengths >= 2
        prefixed[prefixed] = (text[starts[prefixed]] == ord("0")) & (
            (text[starts[prefixed] + 1] | 0x20) == ord("x")
        )
        self.fail(
            ~(prefixed & valid) | (lengths % 2 == 1), f"{spec.data_column} is not 0x-prefixed hex bytes"
        )
        if spec.selector is not None:
            self._check_selector(column)
        lengths = (offsets[self.rows + 1] - offsets[self.rows] - spec.skip) // 2
        head = 32 * spec.head_words
        if spec.exact_length and not spec.dynamic:
            wrong, needs = lengths != head, f"{head}"
        else:
            wrong, needs = lengths < head, f"at least {head}"
        what = "arguments are" if spec.selector is not None else f"{spec.data_column} is"
        self.fail(
            wrong,
            lambda failing: [f"{what} {size} bytes; {spec.label} needs {needs}" for size in lengths[failing]],
        )

    def _check_selector(self, column: pa.Array) -> None:
        offsets, text = layout(column)
        starts = offsets[self.rows]
        long_enough = offsets[self.rows + 1] - starts >= self.spec.skip
        self.fail(~long_enough, f"input is shorter than a 4-byte selector; {self.spec.label} is a call")
        starts = offsets[self.rows]
        digits = text[(starts + 2)[:, None] + np.arange(8)] | 0x20
        expected = np.frombuffer(self.spec.selector[2:].encode(), dtype=np.uint8)
        wrong = (digits != expected).any(axis=1)
        self.fail(
            wrong,
            lambda failing: [
                f"selector 0x{bytes(digits[position]).decode('ascii', 'replace')} is not "
                f"{self.spec.label} ({self.spec.selector})"
                for position in failing
            ],
        )

    # -- reading hex ---------------------------------------------------------------------------

    def read(self):
        """Topic words and data of the standing rows. Rows with a non-hex digit anywhere are set
        aside, and then everything is read again for the rows left (rare: the lake holds hex)."""
        for _attempt in range(2):
            found_bad = False
            reads = []
            for name, skip, digits, reason in self._hex_sources():
                bad, read = self._read_column(name, skip, digits)
                if len(bad):
                    self.fail_rows(bad, reason)
                    found_bad = True
                reads.append(read)
            if not found_bad:
                *topic_words, data = reads
                if self.spec.dynamic:
                    return topic_words, data.head(self.spec.head_words), data
                return topic_words, data, None
        raise AssertionError("rows with bad hex were set aside; the second read must be clean")

    def _hex_sources(self):
        spec = self.spec
        for _, name in spec.topics:
            yield name, 2, 64, f"{name} is not hex"
        what = "arguments are" if spec.selector is not None else f"{spec.data_column} is"
        yield spec.data_column, spec.skip, None if spec.dynamic else 64 * spec.head_words, f"{what} not hex"

    def _read_column(self, name: str, skip: int, digits: int | None):
        column = self.column(name)
        if digits is None:
            return read_ragged(column, self.rows, skip)
        return read_fixed(column, self.rows, skip, digits)

    # -- decoding ------------------------------------------------------------------------------

    def decode(self) -> list[pa.Array]:
        spec = self.spec
        topic_words, head, payloads = self.read()
        values: dict[int, pa.Array] = {}
        oks: list[tuple[np.ndarray, str | np.ndarray]] = []  # (ok per row, reason or reasons)
        indexed_positions = [position for position, param in enumerate(spec.params) if param.indexed]
        for position, (param, name), words in zip(indexed_positions, spec.topics, topic_words, strict=True):
            if param.hashed_in_topic:
                values[position] = fixed_strings(b"0x", lower(words.text))
                continue
            array, ok = decode_static(param.type, words)
            values[position] = array
            if ok is not None:
                oks.append((ok, f"{name} is not a valid {param.type.canonical} ({_label(param, position)})"))
        word = 0
        dynamic = []
        for position, param in enumerate(spec.params):
            if param.indexed:
                continue
            if param.type.is_dynamic:
                dynamic.append((position, param, word))
            else:
                array, ok = decode_static(param.type, head.word(word, param.type.static_words))
                values[position] = array
                if ok is not None:
                    oks.append((ok, f"{_label(param, position)} is not a valid {param.type.canonical}"))
            word += param.type.head_words
        if dynamic:
            dynamic_values, reasons = self._decode_dynamic(dynamic, payloads, head)
            values.update(dynamic_values)
            oks.append((reasons == None, reasons))  # noqa: E711 (numpy elementwise)
        ordered = [values[position] for position in range(len(spec.params))]
        return self._drop_bad(ordered, oks)

    def _decode_dynamic(self, dynamic, payloads, head) -> tuple[dict[int, pa.Array], np.ndarray]:
        """The dynamic data parameters: bytes, string and T[] of one-word T a column at a time,
        the rest row by row. Failing rows get a reason (from the row decoder, for both)."""
        head_end = 32 * self.spec.head_words
        reasons = np.full(len(payloads.starts) - 1, None, dtype=object)
        arrays: dict[int, pa.Array] = {}
        by_rows = []
        for position, param, word in dynamic:
            if not column_at_a_time(param.type):
                by_rows.append((position, param, word))
                continue
            array, ok, replaced = decode_tail(param.type, payloads, head.word(word), head_end)
            arrays[position] = array
            self.replaced_strings += replaced
            for index in np.flatnonzero(~ok & (reasons == None)):  # noqa: E711
                reasons[index] = self._reason(payloads, index, position, param, word)
        if by_rows:
            arrays.update(self._decode_rows(by_rows, payloads, reasons))
        return arrays, reasons

    def _reason(self, payloads, index: int, position: int, param: Param, word: int) -> str:
        """Why one row's value does not decode, in the row decoder's words."""
        row = Row(payloads.data[payloads.starts[index] : payloads.starts[index + 1]].tobytes())
        try:
            read_at(param.type, row, 0, 32 * word, 32 * self.spec.head_words)
        except Undecodable as exc:
            return f"{_label(param, position)}: {exc}"
        return f"{_label(param, position)}: not an encoding of {param.type.canonical}"

    def _decode_rows(self, dynamic, payloads, reasons: np.ndarray) -> dict[int, pa.Array]:
        """Dynamic parameters one row at a time; a failing row gets None values and a reason."""
        head_end = 32 * self.spec.head_words
        data = payloads.data.tobytes()
        starts = payloads.starts.tolist()
        columns = [[] for _ in dynamic]
        for index in range(len(starts) - 1):
            row = Row(data[starts[index] : starts[index + 1]])
            for slot, (position, param, word) in enumerate(dynamic):
                try:
                    columns[slot].append(read_at(param.type, row, 0, 32 * word, head_end))
                except Undecodable as exc:
                    if reasons[index] is None:
                        reasons[index] = f"{_label(param, position)}: {exc}"
                    for rest in range(slot, len(dynamic)):
                        columns[rest].append(None)
                    break
            self.replaced_strings += row.replaced_strings
        return {
            position: pa.array(column, type=param.type.arrow_type())
            for (position, param, _), column in zip(dynamic, columns, strict=True)
        }

    def _drop_bad(self, arrays: list[pa.Array], oks) -> list[pa.Array]:
        if not oks:
            return arrays
        keep = np.ones(len(self.rows), dtype=bool)
        for ok, reason in oks:
            failing_now = keep & ~ok
            if failing_now.any():
                if isinstance(reason, str):
                    messages = [reason] * int(failing_now.sum())
                else:
                    messages = list(reason[failing_now])
                self.failed_rows.append(self.rows[failing_now])
                self.failed_reasons.append(messages)
                keep &= ok
        if keep.all():
            return arrays
        self.rows = self.rows[keep]
        mask = pa.array(keep)
        return [array.filter(mask) for array in arrays]

    # -- output --------------------------------------------------------------------------------

    def run(self) -> tuple[pa.Table, pa.Table]:
        self.check_topics()
        self.check_data()
        values = self.decode() if len(self.rows) else self._empty_values()
        return self._table(values), self._errors()

    def _empty_values(self) -> list[pa.Array]:
        value_fields = list(self.spec.output_schema(self.source.schema))[len(self.spec.key_columns) + 1 :]
        return [pa.array([], type=field.type) for field in value_fields]

    def _carried(self, rows: np.ndarray) -> list[pa.Array]:
        names = [*self.spec.key_columns, self.spec.contract_source]
        if len(rows) == self.source.num_rows:  # nothing set aside: the columns as they are
            return [self.source.column(name) for name in names]
        picked = self.source.select(names).take(pa.array(rows))
        return [picked.column(name) for name in names]

    def _table(self, values: list[pa.Array]) -> pa.Table:
        schema = self.spec.output_schema(self.source.schema)
        return pa.Table.from_arrays([*self._carried(self.rows), *values], schema=schema)

    def _errors(self) -> pa.Table:
        schema = self.spec.error_schema(self.source.schema)
        if not self.failed_rows:
            return schema.empty_table()
        rows = np.concatenate(self.failed_rows)
        reasons = []
        for failed, reason in zip(self.failed_rows, self.failed_reasons, strict=True):
            reasons.extend([reason] * len(failed) if isinstance(reason, str) else reason)
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        label = pa.array(np.full(len(rows), self.spec.label, dtype=object), pa.string())
        reason_array = pa.array([reasons[i] for i in order], pa.string())
        return pa.Table.from_arrays([*self._carried(rows), label, reason_array], schema=schema)


def _label(param: Param, position: int) -> str:
    return param.name or f"parameter {position}"
