"""A JSON-RPC client for Ethereum nodes, built for bulk ingestion.

It sends requests through web3.py's `HTTPProvider` (session pooling, request encoding, batch
framing) but takes the raw JSON-RPC results rather than web3's formatted objects: ingestion turns
hex quantities straight into exact decimal strings and Arrow columns, and web3's per-field
formatting would only cost time and pass big integers through Python objects we do not need.

What it adds over the provider:
- JSON-RPC batches of at most `batch_size` calls (blocks with full transactions, `eth_getLogs`
  over block ranges), up to `concurrency` of them in flight at once: while one answer is decoded
  the node is already writing the next, so the wait on the node overlaps our own work;
- retries with exponential backoff and jitter on transient failures — unreachable node, dropped
  connection, timeouts, HTTP 429 (honouring `Retry-After`) and 5xx, JSON-RPC limit errors
  (`-32005`), malformed answers — and typed errors (`orchestration.evm.errors`) once attempts run
  out; web3's own retry is switched off so there is one retry policy, ours;
- the chain id checked against the one the job expects;
- a confirmation depth: `safe_head()` is the newest block at least `confirmations` deep.

The provider URL often carries an API key in its path or query, so errors name only scheme, host
and port.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from orchestration.evm.errors import (
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
    """Batched, retrying JSON-RPC access to one node, for one chain."""

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
            outbound.check_url(url)
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
        self._provider = HTTPProvider(
            url,
            # A redirect could lead past the policy's check: never follow one.
            request_kwargs={"timeout": timeout_seconds, "allow_redirects": False},
            exception_retry_configuration=None,
        )
        self.web3 = Web3(self._provider)

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

    def get_blocks(self, numbers: Sequence[int], *, full_transactions: bool = True) -> list[dict[str, Any]]:
        """Blocks by number, in the order asked, in batches; a block the node does not have (it is
        behind, or a load balancer switched nodes) is a transient ChainMovedError."""
        results = self.batch(
            [("eth_getBlockByNumber", [hex(number), full_transactions]) for number in numbers]
        )
        blocks = []
        for number, block in zip(numbers, results, strict=True):
            if block is None:
                raise ChainMovedError(f"node {self.node} does not have block {number}")
            if not isinstance(block, dict) or not all(
                isinstance(block.get(key), str) for key in ("number", "hash", "parentHash")
            ):
                raise MalformedResponseError(f"node {self.node} sent a malformed block for {number}")
            if parse_quantity(block["number"], "block number") != number:
                raise MalformedResponseError(
                    f"node {self.node} answered block {block['number']} for {number}"
                )
            blocks.append(block)
        return blocks

    def get_logs(self, from_block: int, to_block: int) -> list[dict[str, Any]]:
        """All logs of blocks from_block..to_block (inclusive), as `eth_getLogs` calls over
        sub-ranges of at most `log_block_range` blocks, sent as batches."""
        ranges = [
            (start, min(start + self.log_block_range - 1, to_block))
            for start in range(from_block, to_block + 1, self.log_block_range)
        ]
        # A sub-range's answer can be thousands of logs: the calls are spread over as many requests
        # as may be in flight rather than packed into one answer decoded on its own.
        results = self.batch(
            [("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(end)}]) for start, end in ranges],
            spread=True,
        )
        logs: list[dict[str, Any]] = []
        for (start, end), chunk in zip(ranges, results, strict=True):
            if not isinstance(chunk, list):
                raise MalformedResponseError(f"node {self.node} sent no log list for blocks {start}-{end}")
            logs.extend(chunk)
        return logs

    # -- JSON-RPC with retries -------------------------------------------------------------------

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call, retried on transient failures; returns its `result`."""
        return self._with_retries(lambda: self._result_of(self._send_one(method, params), method))

    def batch(self, calls: Sequence[tuple[str, list[Any]]], *, spread: bool = False) -> list[Any]:
        """Many calls as JSON-RPC batches of at most `batch_size`, up to `concurrency` in flight;
        results in the order of calls. With `spread`, batches are smaller when that gives every
        request in flight a share of the calls. A batch is retried whole: nodes answer batches
        all-or-nothing often enough. The first batch to fail for good fails the whole call."""
        size = self.batch_size
        if spread:
            size = max(1, min(size, -(-len(calls) // self.concurrency)))
        chunks = [list(calls[offset : offset + size]) for offset in range(0, len(calls), size)]

        def send(chunk: list[tuple[str, list[Any]]]) -> list[Any]:
            return self._with_retries(lambda: self._send_batch(chunk))

        if len(chunks) <= 1 or self.concurrency == 1:
            answers = [send(chunk) for chunk in chunks]
        else:
            # Threads, not processes: a batch mostly waits on the socket, which releases the GIL.
            # web3's provider keeps one HTTP session per thread.
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
                answers = list(pool.map(send, chunks))
        return [result for answer in answers for result in answer]

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

    def _send_one(self, method: str, params: list[Any]) -> Any:
        self._count(calls=1)
        with self._translate_transport_errors():
            return self._provider.make_request(method, params)

    def _count(self, *, calls: int) -> None:
        with self._stats_lock:
            self.stats.http_requests += 1
            self.stats.calls += calls

    def _send_batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        self._count(calls=len(calls))
        with self._translate_transport_errors():
            responses = self._provider.make_batch_request(calls)
        if isinstance(responses, dict):
            # A node that rejects a whole batch answers one error object instead of a list.
            self._result_of(responses, "batch")
            raise MalformedResponseError(f"node {self.node} answered a batch with a single object")
        if not isinstance(responses, list) or len(responses) != len(calls):
            raise MalformedResponseError(
                f"node {self.node} answered {len(responses) if isinstance(responses, list) else 0} "
                f"results to a batch of {len(calls)}"
            )
        return [
            self._result_of(response, method) for response, (method, _) in zip(responses, calls, strict=True)
        ]

    def _result_of(self, response: Any, method: str) -> Any:
        if not isinstance(response, dict):
            raise MalformedResponseError(f"node {self.node} sent a non-object answer to {method}")
        error = response.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message") if isinstance(error, dict) else error)[:300]
            if code in TRANSIENT_RPC_CODES or any(word in message.lower() for word in _RATE_LIMIT_WORDS):
                raise RateLimitedError(f"node {self.node} limited {method}: {code} {message}")
            raise RpcError(f"node {self.node} rejected {method}: {code} {message}", code=code)
        if "result" not in response:
            raise MalformedResponseError(f"node {self.node} sent neither result nor error for {method}")
        return response["result"]

    def _translate_transport_errors(self) -> _TransportErrors:
        return _TransportErrors(self.node)


class _TransportErrors:
    """Turns requests/JSON failures raised inside the provider into our typed errors."""

    def __init__(self, node: str) -> None:
        self.node = node

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, EvmSourceError):
            return False
        if isinstance(exc, requests.Timeout):
            raise NodeUnreachableError(f"node {self.node} timed out") from exc
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            if status == 429:
                raise RateLimitedError(
                    f"node {self.node} answered HTTP 429 (rate limited)",
                    retry_after=_retry_after_seconds(exc.response),
                ) from exc
            if status >= 500:
                raise NodeUnavailableError(f"node {self.node} answered HTTP {status}") from exc
            raise RpcError(f"node {self.node} answered HTTP {status}", code=status) from exc
        if isinstance(exc, requests.RequestException | ConnectionError):
            reason = type(exc).__name__
            raise NodeUnreachableError(
                f"node {self.node} unreachable or dropped the connection ({reason})"
            ) from exc
        if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
            raise MalformedResponseError(f"node {self.node} sent malformed JSON") from exc
        return False


def _retry_after_seconds(response: requests.Response) -> float | None:
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
