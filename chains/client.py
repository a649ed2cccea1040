"""A JSON-RPC client for Ethereum nodes, built for bulk ingestion.

It POSTs JSON-RPC batches itself on one urllib3 connection pool and hands ingestion the node's results
as the bytes the node sent (`msgspec.Raw`): only the small envelope of each answer (id, error) is
decoded in Python, and ingestion parses blocks and logs straight into Arrow (`convert`). A general
JSON-RPC library would turn every field of every block into Python objects first, which for bulk
reads cost more than everything else together. `call`, `batch`, `get_blocks` and `get_logs` still
give decoded JSON for the small reads (chain id, head, the reorg walk). urllib3 rather than httpx:
it reads an answer of tens of megabytes in one go, at a quarter of httpx's CPU time.

What it adds over plain HTTP:
- JSON-RPC batches of at most `batch_size` calls (blocks with full transactions, `eth_getLogs`
  over block ranges), up to `concurrency` of them in flight at once, each parsed by a caller's
  function in its fetch thread as it arrives (`stream_blocks`, `stream_logs`): while one answer is
  converted the node is already writing the next;
- retries with exponential backoff and jitter on transient failures — unreachable node, dropped
  connection, timeouts, HTTP 429 (honouring `Retry-After`) and 5xx, JSON-RPC limit errors
  (`-32005`), malformed answers — and typed errors (`chains.errors`) once attempts run
  out; redirects are never followed (the outbound policy checked the node's address, not theirs);
- the chain id checked against the one the job expects;
- a confirmation depth: `safe_head()` is the newest block at least `confirmations` deep;
- receipts with `eth_getBlockReceipts`, or per transaction from a node without it (found out once);
- batches whose calls may fail on their own (`batch_outcomes`, `eth_calls`): a contract call that
  reverts is that call's outcome, not the failure of the whole batch.

The provider URL often carries an API key in its path or query, so errors name only scheme, host
and port.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec
import urllib3

from chains.errors import (
    ChainMovedError,
    EvmSourceError,
    MalformedResponseError,
    NodeUnavailableError,
    NodeUnreachableError,
    OutboundRefusedError,
    RateLimitedError,
    RpcError,
    WrongChainError,
)
from platform_site import outbound

# JSON-RPC error codes that mean "not now" rather than "never": -32005 is the limit-exceeded code
# of EIP-1474 used by geth, Infura and Alchemy for rate limits and oversized requests.
TRANSIENT_RPC_CODES = frozenset({-32005})
_RATE_LIMIT_WORDS = ("rate limit", "too many requests", "limit exceeded")
# How a node says it does not serve a method: -32601 (method not found) by the JSON-RPC spec, or
# another code with one of these words (providers differ).
METHOD_NOT_FOUND = -32601
_UNSUPPORTED_WORDS = ("method not found", "not supported", "unsupported", "does not exist", "not available")

Parsed = TypeVar("Parsed")


class _Envelope(msgspec.Struct):
    """One JSON-RPC answer; `result` stays the node's bytes (empty when the answer has none)."""

    id: int | str | None = None
    result: msgspec.Raw = msgspec.Raw(b"")
    error: Any = None


_ANSWER = msgspec.json.Decoder(list[_Envelope] | _Envelope)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_NULL = b"null"
_SPREAD_ROUNDS = 3


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried after a transient failure."""

    max_attempts: int = 5
    initial_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0

    def delay_after(self, failed_attempt: int, *, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after the `failed_attempt`-th attempt (1-based): exponential with "equal
        jitter" (half fixed, half random, so concurrent workers spread out), at least what the
        node asked for in Retry-After, never more than the cap."""
        backoff = min(self.max_delay_seconds, self.initial_delay_seconds * 2 ** (failed_attempt - 1))
        delay = backoff / 2 + rng.random() * backoff / 2
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_delay_seconds)


@dataclass(frozen=True)
class CallOutcome:
    """One call of a batch where calls may fail on their own: its decoded result, or the node's
    error message for it (and then `result` is None)."""

    result: Any = None
    error: str | None = None


@dataclass
class RpcStats:
    """Counters a caller can report (requests sent, retries done)."""

    http_requests: int = 0
    calls: int = 0
    retries: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)


def redact_url(url: str) -> str:
    """scheme://host:port of a node URL, without the path or query where API keys live."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


class EvmRpcClient:
    """Batched, retrying JSON-RPC access to one node, for one chain. Close it (or use it as a
    context manager) to close its connections."""

    def __init__(
        self,
        url: str,
        *,
        chain_id: int | None = None,
        confirmations: int = 0,
        batch_size: int = 100,
        concurrency: int = 4,
        log_block_range: int = 1000,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if batch_size < 1 or concurrency < 1 or log_block_range < 1 or confirmations < 0:
            raise ValueError(
                "batch_size, concurrency and log_block_range must be positive, confirmations >= 0"
            )
        self.node = redact_url(url)
        try:  # the platform's outbound policy: no private, loopback or link-local node unless allowed
            address = outbound.check_url(url)
        except outbound.OutboundRefused as exc:
            raise OutboundRefusedError(f"node {self.node}: {exc}") from None
        self.expected_chain_id = chain_id
        self.confirmations = confirmations
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.log_block_range = log_block_range
        self.retry = retry or RetryPolicy()
        self.stats = RpcStats()
        self._stats_lock = threading.Lock()  # batches in flight count from several threads
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._verified_chain_id: int | None = None
        # Whether the node serves eth_getBlockReceipts: unknown until the first receipts read.
        self.block_receipts_supported: bool | None = None
        self._receipts_probe = threading.Lock()
        self._http, self._path, self._headers = _pinned_pool(
            url, address, size=concurrency, timeout=timeout_seconds
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EvmRpcClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- chain facts -----------------------------------------------------------------------------

    def verify_chain(self) -> int:
        """The node's chain id, checked once against the expected one (WrongChainError if not)."""
        if self._verified_chain_id is None:
            chain_id = parse_quantity(self.call("eth_chainId", []), "eth_chainId")
            if self.expected_chain_id is not None and chain_id != self.expected_chain_id:
                raise WrongChainError(
                    f"node {self.node} serves chain id {chain_id}, expected {self.expected_chain_id}"
                )
            self._verified_chain_id = chain_id
        return self._verified_chain_id

    def head_block_number(self) -> int:
        return parse_quantity(self.call("eth_blockNumber", []), "eth_blockNumber")

    def safe_head(self) -> int:
        """The newest block buried under at least `confirmations` blocks (-1 if none is yet)."""
        return self.head_block_number() - self.confirmations

    # -- bulk reads ------------------------------------------------------------------------------

    def stream_blocks(
        self,
        numbers: Sequence[int],
        parse: Callable[[list[msgspec.Raw]], Parsed],
        *,
        full_transactions: bool = True,
    ) -> Iterator[Parsed]:
        """Blocks by number, as `parse` of each batch's raw block objects (in the order asked, one
        JSON object each, on one line), run in the fetch threads. A block the node does not have (it
        is behind, or a load balancer switched nodes) is a transient ChainMovedError."""

        def checked(calls: list[tuple[str, list[Any]]], results: list[msgspec.Raw]) -> Parsed:
            for (_, (number, _)), block in zip(calls, results, strict=True):
                if bytes(block) == _NULL:
                    raise ChainMovedError(f"node {self.node} does not have block {int(number, 16)}")
            return parse(results)

        return self._stream(
            [("eth_getBlockByNumber", [hex(number), full_transactions]) for number in numbers], checked
        )

    def stream_logs(
        self, from_block: int, to_block: int, parse: Callable[[list[msgspec.Raw]], Parsed]
    ) -> Iterator[Parsed]:
        """All logs of blocks from_block..to_block (inclusive), as `eth_getLogs` calls over
        sub-ranges of at most `log_block_range` blocks, sent as batches; yields `parse` of each
        batch's log objects (one JSON object each, on one line), run in the fetch threads."""
        ranges = [
            (start, min(start + self.log_block_range - 1, to_block))
            for start in range(from_block, to_block + 1, self.log_block_range)
        ]

        def split(results: list[msgspec.Raw]) -> Parsed:
            logs: list[msgspec.Raw] = []
            for chunk in results:
                try:
                    logs.extend(_RAW_LIST.decode(chunk))
                except msgspec.DecodeError:
                    raise MalformedResponseError(f"node {self.node} sent no log list for a range") from None
            return parse(logs)

        # A sub-range's answer can be thousands of logs: the calls are spread over as many requests
        # as may be in flight rather than packed into one answer decoded on its own.
        return self.stream(
            [("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(end)}]) for start, end in ranges],
            split,
            spread=True,
        )

    def stream_receipts(
        self,
        blocks: Sequence[tuple[int, Sequence[str]]],
        parse: Callable[[list[msgspec.Raw]], Parsed],
    ) -> Iterator[Parsed]:
        """The receipts of the transactions of `blocks` (block number, its transaction hashes in
        order), as `parse` of each batch's raw receipt objects in that order, run in the fetch
        threads. One `eth_getBlockReceipts` per block with transactions where the node has it, else
        one `eth_getTransactionReceipt` per transaction; which one is found out on the first read
        and kept for the client's life, so a node without the method is asked once. A block or
        transaction the node no longer knows is a transient ChainMovedError. The receipts are not
        checked against the blocks here (`convert.with_receipts` does)."""
        blocks = [(number, hashes) for number, hashes in blocks if hashes]
        calls = [("eth_getBlockReceipts", [hex(number)]) for number, _ in blocks]

        def split(calls: list[tuple[str, list[Any]]], results: list[msgspec.Raw]) -> Parsed:
            return parse(self._split_block_receipts(calls, results))

        first: list[Parsed] = []
        if self.block_receipts_supported is None and calls:
            # One probe at a time (fetch threads read receipts concurrently), a batch on its own: a
            # node without the method is asked one request's worth, once.
            with self._receipts_probe:
                if self.block_receipts_supported is None:
                    try:
                        first = list(self._stream(calls[: self.batch_size], split))
                    except RpcError as exc:
                        if not _unsupported(exc):
                            raise
                        self.block_receipts_supported = False
                    else:
                        self.block_receipts_supported = True
                        calls = calls[self.batch_size :]
        if self.block_receipts_supported is not False:
            return chain(first, self._stream(calls, split))

        def checked(calls: list[tuple[str, list[Any]]], results: list[msgspec.Raw]) -> Parsed:
            for (_, (tx_hash,)), receipt in zip(calls, results, strict=True):
                if bytes(receipt) == _NULL:
                    raise ChainMovedError(f"node {self.node} has no receipt of transaction {tx_hash}")
            return parse(results)

        receipt_calls = [
            ("eth_getTransactionReceipt", [tx_hash]) for _, hashes in blocks for tx_hash in hashes
        ]
        return self._stream(receipt_calls, checked)

    def _split_block_receipts(
        self, calls: list[tuple[str, list[Any]]], results: list[msgspec.Raw]
    ) -> list[msgspec.Raw]:
        receipts: list[msgspec.Raw] = []
        for (_, (number,)), answer in zip(calls, results, strict=True):
            if bytes(answer) == _NULL:
                raise ChainMovedError(f"node {self.node} has no receipts of block {int(number, 16)}")
            try:
                receipts.extend(_RAW_LIST.decode(answer))
            except msgspec.DecodeError:
                raise MalformedResponseError(
                    f"node {self.node} sent no receipt list for block {int(number, 16)}"
                ) from None
        return receipts

    def batch_outcomes(self, calls: Sequence[tuple[str, list[Any]]]) -> list[CallOutcome]:
        """Many calls as JSON-RPC batches (see `stream`), where a call the node refuses for good
        (a contract call that reverts) is that call's outcome instead of the whole read's failure.
        Outcomes in the order of calls."""
        return [
            outcome
            for answer in self._stream(calls, lambda _, outcomes: outcomes, send=self._send_batch_outcomes)
            for outcome in answer
        ]

    def eth_calls(
        self, calls: Sequence[tuple[str, str]], *, block: str | int = "latest"
    ) -> list[CallOutcome]:
        """`eth_call` of each (contract address, 0x-hex call data) at `block` (a tag such as
        "latest", or a number), batched; each outcome's `result` is the returned bytes, or its
        `error` says why there are none (a revert, an answer that is not hex data)."""
        tag = hex(block) if isinstance(block, int) else block
        outcomes = self.batch_outcomes([("eth_call", [{"to": to, "data": data}, tag]) for to, data in calls])
        return [_as_bytes(outcome) for outcome in outcomes]

    def get_blocks(self, numbers: Sequence[int], *, full_transactions: bool = True) -> list[dict[str, Any]]:
        """Blocks by number as decoded JSON, in the order asked (see `stream_blocks`)."""
        numbers = list(numbers)
        blocks = [
            block
            for batch in self.stream_blocks(numbers, _decoded_all, full_transactions=full_transactions)
            for block in batch
        ]
        for number, block in zip(numbers, blocks, strict=True):
            if not isinstance(block, dict) or not all(
                isinstance(block.get(key), str) for key in ("number", "hash", "parentHash")
            ):
                raise MalformedResponseError(f"node {self.node} sent a malformed block for {number}")
            if parse_quantity(block["number"], "block number") != number:
                raise MalformedResponseError(
                    f"node {self.node} answered block {block['number']} for {number}"
                )
        return blocks

    def get_logs(self, from_block: int, to_block: int) -> list[dict[str, Any]]:
        """All logs of blocks from_block..to_block (inclusive) as decoded JSON (see `stream_logs`)."""
        return [log for batch in self.stream_logs(from_block, to_block, _decoded_all) for log in batch]

    # -- JSON-RPC with retries -------------------------------------------------------------------

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call, retried on transient failures; returns its decoded `result`."""
        return self._with_retries(lambda: _decoded(self._send_one(method, params)))

    def batch(self, calls: Sequence[tuple[str, list[Any]]], *, spread: bool = False) -> list[Any]:
        """Many calls as JSON-RPC batches (see `stream`); decoded results in the order of calls."""
        return [result for answer in self.stream(calls, _decoded_all, spread=spread) for result in answer]

    def stream(
        self,
        calls: Sequence[tuple[str, list[Any]]],
        parse: Callable[[list[msgspec.Raw]], Parsed],
        *,
        spread: bool = False,
    ) -> Iterator[Parsed]:
        """Many calls as JSON-RPC batches of at most `batch_size`, up to `concurrency` in flight;
        yields `parse` of each batch's raw results, in the order of calls. `parse` runs in the fetch
        thread, after the batch was received (a refused answer is not fetched again). With `spread`,
        batches are smaller when that gives every request in flight a few shares of the calls. A batch is
        retried whole: nodes answer batches all-or-nothing often enough. The first batch to fail
        for good fails the whole read."""
        return self._stream(calls, lambda _, results: parse(results), spread=spread)

    def _stream(
        self,
        calls: Sequence[tuple[str, list[Any]]],
        handle: Callable[[list[tuple[str, list[Any]]], list[Any]], Parsed],
        *,
        spread: bool = False,
        send: Callable[[list[tuple[str, list[Any]]]], list[Any]] | None = None,
    ) -> Iterator[Parsed]:
        """`stream`, with `handle` given each batch's calls beside their results (as `send` gives
        them: raw results by default)."""
        send = send or self._send_batch
        size = self._chunk_size(len(calls), spread=spread)
        chunks = [list(calls[offset : offset + size]) for offset in range(0, len(calls), size)]

        def fetch(chunk: list[tuple[str, list[Any]]]) -> Parsed:
            return handle(chunk, self._with_retries(lambda: send(chunk)))

        if len(chunks) <= 1 or self.concurrency == 1:
            yield from map(fetch, chunks)
            return
        # Threads, not processes: a batch mostly waits on the socket or in Arrow's JSON reader, both
        # of which release the GIL. At most `concurrency` batches are ahead of the consumer, so a
        # long range is never held whole in memory; leaving the pool waits for the batches in
        # flight, also when the read failed.
        upcoming = iter(chunks)
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
            ahead = deque(pool.submit(fetch, chunk) for chunk in islice(upcoming, self.concurrency))
            try:
                while ahead:
                    parsed = ahead.popleft().result()
                    following = next(upcoming, None)
                    if following is not None:
                        ahead.append(pool.submit(fetch, following))
                    yield parsed
            finally:
                for future in ahead:
                    future.cancel()

    def _chunk_size(self, count: int, *, spread: bool) -> int:
        if spread:
            # Several rounds of requests in flight, so that converting one answer overlaps the
            # node writing the next ones rather than waiting for all of them at once.
            return max(1, min(self.batch_size, -(-count // (self.concurrency * _SPREAD_ROUNDS))))
        return self.batch_size

    def _with_retries(self, attempt: Callable[[], Any]) -> Any:
        for attempt_number in range(1, self.retry.max_attempts + 1):
            try:
                return attempt()
            except EvmSourceError as exc:
                name = type(exc).__name__
                with self._stats_lock:
                    self.stats.errors_by_type[name] = self.stats.errors_by_type.get(name, 0) + 1
                if not exc.transient or attempt_number == self.retry.max_attempts:
                    raise
                with self._stats_lock:
                    self.stats.retries += 1
                self._sleep(
                    self.retry.delay_after(
                        attempt_number, retry_after=getattr(exc, "retry_after", None), rng=self._rng
                    )
                )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _count(self, *, calls: int) -> None:
        with self._stats_lock:
            self.stats.http_requests += 1
            self.stats.calls += calls

    def _send_one(self, method: str, params: list[Any]) -> msgspec.Raw:
        self._count(calls=1)
        answer = self._post({"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
        if isinstance(answer, list):
            raise MalformedResponseError(f"node {self.node} answered {method} with a list")
        return self._result_of(answer, method)

    def _send_batch(self, calls: list[tuple[str, list[Any]]]) -> list[msgspec.Raw]:
        """The raw results of one batch, in the order of `calls`."""
        answers = self._send_batch_answers(calls)
        return [self._result_of(answer, method) for answer, (method, _) in zip(answers, calls, strict=True)]

    def _send_batch_outcomes(self, calls: list[tuple[str, list[Any]]]) -> list[CallOutcome]:
        """One batch's answers in the order of `calls`, a call's own error (a revert) kept as its
        outcome; an error retrying may fix (a rate limit) still fails the batch, to be retried."""
        outcomes = []
        for answer, (method, _) in zip(self._send_batch_answers(calls), calls, strict=True):
            try:
                outcomes.append(CallOutcome(result=_decoded(self._result_of(answer, method))))
            except RpcError as exc:
                outcomes.append(CallOutcome(error=str(exc).split(": ", 1)[-1]))
            except msgspec.DecodeError:
                outcomes.append(CallOutcome(error="malformed result"))
        return outcomes

    def _send_batch_answers(self, calls: list[tuple[str, list[Any]]]) -> list[_Envelope]:
        """The answers of one batch, checked for shape and put in the order of `calls`."""
        self._count(calls=len(calls))
        answers = self._post(
            [
                {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
                for index, (method, params) in enumerate(calls)
            ]
        )
        if not isinstance(answers, list):
            # A node that rejects a whole batch answers one error object instead of a list.
            self._result_of(answers, "batch")
            raise MalformedResponseError(f"node {self.node} answered a batch with a single object")
        if len(answers) != len(calls):
            raise MalformedResponseError(
                f"node {self.node} answered {len(answers)} results to a batch of {len(calls)}"
            )
        return self._in_call_order(answers)

    def _in_call_order(self, answers: list[_Envelope]) -> list[_Envelope]:
        """A node may answer a batch in any order (JSON-RPC 2.0); our ids are the call positions,
        and an answer must carry one of them as it was sent (an integer)."""
        ids = [answer.id for answer in answers]
        if ids == list(range(len(answers))):
            return answers
        if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(answers))):
            raise MalformedResponseError(f"node {self.node} answered a batch with ids that were not asked")
        return sorted(answers, key=lambda answer: answer.id)

    def _post(self, message: Any) -> list[_Envelope] | _Envelope:
        """POST one JSON-RPC message; the answer's envelopes, or a typed error."""
        try:
            response = self._http.request(
                "POST",
                self._path,
                body=msgspec.json.encode(message),
                headers=self._headers,
                redirect=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:
            raise NodeUnreachableError(f"node {self.node} unreachable ({type(exc).__name__})") from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise NodeUnreachableError(f"node {self.node} timed out") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise NodeUnreachableError(
                f"node {self.node} unreachable or dropped the connection ({type(exc).__name__})"
            ) from exc
        self._check_status(response)
        body = response.data
        # A raw newline in valid JSON is only ever whitespace between tokens (never inside a
        # string), and Arrow's reader takes one object per line: a node that pretty-prints still
        # parses once its newlines are spaces.
        if b"\n" in body:
            body = body.replace(b"\n", b" ")
        try:
            return _ANSWER.decode(body)
        except msgspec.ValidationError as exc:
            raise MalformedResponseError(f"node {self.node} sent a non-object answer ({exc})"[:300]) from exc
        except msgspec.DecodeError as exc:
            raise MalformedResponseError(f"node {self.node} sent malformed JSON") from exc

    def _check_status(self, response: urllib3.BaseHTTPResponse) -> None:
        status = response.status
        if status < 300:
            return
        if status == 429:
            raise RateLimitedError(
                f"node {self.node} answered HTTP 429 (rate limited)",
                retry_after=_retry_after_seconds(response),
            )
        if status >= 500:
            raise NodeUnavailableError(f"node {self.node} answered HTTP {status}")
        raise RpcError(f"node {self.node} answered HTTP {status}", code=status)

    def _result_of(self, answer: _Envelope, method: str) -> msgspec.Raw:
        error = answer.error
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message") if isinstance(error, dict) else error)[:300]
            if code in TRANSIENT_RPC_CODES or any(word in message.lower() for word in _RATE_LIMIT_WORDS):
                raise RateLimitedError(f"node {self.node} limited {method}: {code} {message}")
            raise RpcError(f"node {self.node} rejected {method}: {code} {message}", code=code)
        if not len(answer.result):
            raise MalformedResponseError(f"node {self.node} sent neither result nor error for {method}")
        return answer.result


def _pinned_pool(
    url: str, address: outbound.IPAddress, *, size: int, timeout: float
) -> tuple[urllib3.HTTPConnectionPool, str, dict[str, str]]:
    """A connection pool to the address the outbound policy checked, not to whatever the node's
    name resolves to at connect time (a name that turns private after the check, DNS rebinding,
    would otherwise pass it), with the request path and headers that name the host. HTTPS still
    verifies the certificate against the host name. One pool for every fetch thread (urllib3's
    pools are thread-safe); a redirect could lead past the policy's check, so none is followed;
    retries are ours alone."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "Host": parts.netloc.rpartition("@")[2]}
    if parts.username is not None:  # credentials in the URL (user:key@host) become Basic auth
        headers |= urllib3.util.make_headers(
            basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        )
    options = {
        "maxsize": size,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
    }
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(address),
            parts.port or 443,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(address), parts.port or 80, **options)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return pool, path, headers


def _as_bytes(outcome: CallOutcome) -> CallOutcome:
    """An eth_call outcome with its hex result as bytes."""
    if outcome.error is not None:
        return outcome
    value = outcome.result
    if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) % 2 == 0:
        try:
            return CallOutcome(result=bytes.fromhex(value[2:]))
        except ValueError:
            pass
    return CallOutcome(error="the answer is not hex data")


def _unsupported(error: RpcError) -> bool:
    """Whether a node's error says it does not serve the method (rather than refusing its params)."""
    message = str(error).lower()
    return error.code == METHOD_NOT_FOUND or any(word in message for word in _UNSUPPORTED_WORDS)


def _decoded(result: msgspec.Raw) -> Any:
    return msgspec.json.decode(result)


def _decoded_all(results: list[msgspec.Raw]) -> list[Any]:
    return [msgspec.json.decode(result) for result in results]


def _retry_after_seconds(response: urllib3.BaseHTTPResponse) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from RPC providers, and our own backoff still applies


def parse_quantity(value: Any, what: str) -> int:
    """A JSON-RPC quantity ("0x1a") as an int; anything else is a MalformedResponseError."""
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise MalformedResponseError(f"{what} is not a hex quantity: {str(value)[:80]!r}")
