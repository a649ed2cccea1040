"""Typed errors of chain ingestion.

Each error says whether it is `transient`: the runner retries a task that failed with a transient
error (the node may answer next time) and fails it for good otherwise (a wrong chain, a reorg
deeper than allowed: retrying cannot help and a person must look). Messages are one line, naming the
node and what went wrong, because they end up as a task's error.
"""

from __future__ import annotations


class EvmSourceError(Exception):
    """Base of every chain-ingestion error."""

    transient = False


class NodeUnreachableError(EvmSourceError):
    """The node could not be reached, dropped the connection or timed out."""

    transient = True


class NodeUnavailableError(EvmSourceError):
    """The node answered with a server error (HTTP 5xx)."""

    transient = True


class RateLimitedError(EvmSourceError):
    """The node or provider refused for now: HTTP 429 or a JSON-RPC limit error such as -32005."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MalformedResponseError(EvmSourceError):
    """The node's answer is not the JSON-RPC we asked for (bad JSON, missing fields, wrong shape).
    Transient: a proxy or an overloaded node sends these, and they usually pass."""

    transient = True


class RpcError(EvmSourceError):
    """The node answered a JSON-RPC error that retrying will not fix (bad params, unknown method)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class OutboundRefusedError(EvmSourceError):
    """The node's URL is refused by the platform's outbound policy (a private, loopback or
    link-local address not allow-listed by CHAINLAKE_OUTBOUND_ALLOW)."""


class WrongChainError(EvmSourceError):
    """The node serves another chain than the job is configured for."""


class ChainMovedError(EvmSourceError):
    """The chain changed while one range was being read (blocks no longer link, or logs name a block
    hash that is not the block read): reading again gives a consistent view."""

    transient = True


class ReorgTooDeepError(EvmSourceError):
    """A reorganisation reaches deeper than the configured maximum; nothing was written."""

    def __init__(self, message: str, *, detected_at: int, max_depth: int) -> None:
        super().__init__(message)
        self.detected_at = detected_at
        self.max_depth = max_depth
