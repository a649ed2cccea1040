"""What happens on the synthetic chain, block by block: how many transactions, who sends them to
whom, in which token and how much, with the shape of a real chain rather than a flat one.

- Accounts: a pool whose popularity follows a power law (rank k is picked with weight 1/k^s), so a
  few exchanges and whales make most transfers and a long tail makes one or two. Recipients come
  from the same pool: the busiest senders are also the busiest recipients.
- Tokens: ten, most popular first, with a power law too; their decimals differ as real tokens' do.
- Values: log-normal in whole tokens, and now and then a whale's transfer far above the rest, in
  the token's base units (value * 10^decimals) as exact integers.
- Time: activity follows the day (busiest in the UTC afternoon), and every block's load varies.

Everything is drawn from a numpy Generator seeded by the chain's seed, its id and the partition, so
the same config gives the same draws, and a partition's blocks stay the same when the chain grows
(the draws cover the whole partition range whatever ``end_block`` cuts off).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import numpy as np

GENESIS_TIME = 1_704_067_200  # 2024-01-01 00:00 UTC
SECONDS_PER_BLOCK = 12

ACCOUNTS = 5000
SENDER_EXPONENT = 1.1
RECIPIENT_EXPONENT = 1.0
# The synthetic chain's ten tokens, most popular first (USDC-like 6 decimals is the third).
TOKEN_DECIMALS = (18, 18, 6, 18, 8, 18, 18, 12, 18, 18)
TOKEN_EXPONENT = 1.3
# Transfer sizes in whole tokens: a median of 200 spread over several orders of magnitude, and one
# transfer in a hundred 100 to 10,000 times larger.
VALUE_MEDIAN_TOKENS = 200.0
VALUE_SIGMA = 2.0
WHALE_SHARE = 0.01
MAX_TOKENS = 10.0**12
# Amounts keep at most this many decimal places of the token: people send round-ish amounts, and
# the mantissa stays exact in 64 bits.
VALUE_PLACES = 6
# Busiest at 15:00 UTC (Europe's afternoon, America's morning), a fifth of that at 03:00.
PEAK_HOUR_UTC = 15
QUIETEST_SHARE = 0.2
BLOCK_NOISE_SIGMA = 0.3


def block_timestamp(number: int) -> int:
    return GENESIS_TIME + SECONDS_PER_BLOCK * number


def hash_hex(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def address(*parts: object) -> str:
    return hash_hex("addr", *parts)[:42]


@cache
def account_pool(seed: object) -> tuple[str, ...]:
    """The accounts, most active first."""
    return tuple(address(seed, "account", rank) for rank in range(ACCOUNTS))


@cache
def token_addresses(seed: object) -> tuple[str, ...]:
    """The token contracts, most popular first."""
    return tuple(address(seed, "token", n) for n in range(len(TOKEN_DECIMALS)))


@cache
def _power_law_cdf(size: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1, dtype=np.float64) ** exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _ranks(rng: np.random.Generator, count: int, size: int, exponent: float) -> np.ndarray:
    cdf = _power_law_cdf(size, exponent)
    return np.minimum(np.searchsorted(cdf, rng.random(count), side="right"), size - 1)


def daily_activity(seconds: np.ndarray) -> np.ndarray:
    """The day's shape: 1 at the peak hour, ``QUIETEST_SHARE`` twelve hours away, a cosine between."""
    hours = (seconds % 86_400) / 3600.0
    swing = (1 - QUIETEST_SHARE) / 2
    return 1 - swing + swing * np.cos(2 * np.pi * (hours - PEAK_HOUR_UTC) / 24)


@dataclass(frozen=True)
class Activity:
    """The draws of one partition range: ``tx_counts`` per block of ``numbers``; ``senders`` and
    ``tokens`` per transaction and ``recipients`` and ``values`` per log, in chain order, as indices
    into :func:`account_pool` and :func:`token_addresses` (values: exact base units)."""

    numbers: list[int]
    tx_counts: list[int]
    senders: list[int]
    tokens: list[int]
    recipients: list[int]
    values: list[int]


def _generator(seed: object, chain_id: int, first: int, size: int) -> np.random.Generator:
    digest = hashlib.sha256(f"activity:{seed}:{chain_id}:{first}:{size}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def draw(
    *, seed: object, chain_id: int, first: int, size: int, txs_per_block: int, logs_per_tx: int
) -> Activity:
    """Blocks ``first`` to ``first + size - 1``: ``txs_per_block`` is the mean at the busiest hour."""
    rng = _generator(seed, chain_id, first, size)
    numbers = np.arange(first, first + size, dtype=np.int64)
    load = daily_activity(GENESIS_TIME + SECONDS_PER_BLOCK * numbers)
    noise = rng.lognormal(0.0, BLOCK_NOISE_SIGMA, size)
    tx_counts = rng.poisson(txs_per_block * load * noise) if txs_per_block > 0 else np.zeros(size, np.int64)
    txs = int(tx_counts.sum())
    logs = txs * logs_per_tx
    senders = _ranks(rng, txs, ACCOUNTS, SENDER_EXPONENT)
    tokens = _ranks(rng, txs, len(TOKEN_DECIMALS), TOKEN_EXPONENT)
    recipients = _ranks(rng, logs, ACCOUNTS, RECIPIENT_EXPONENT)
    # Nobody pays themselves: a recipient drawn equal to the sender is the next account instead.
    own = recipients == np.repeat(senders, logs_per_tx)
    recipients = np.where(own, (recipients + 1) % ACCOUNTS, recipients)
    amounts = rng.lognormal(np.log(VALUE_MEDIAN_TOKENS), VALUE_SIGMA, logs)
    whales = rng.random(logs) < WHALE_SHARE
    amounts = np.where(whales, amounts * 10.0 ** rng.uniform(2, 4, logs), amounts)
    amounts = np.clip(amounts, 10.0**-VALUE_PLACES, MAX_TOKENS)
    decimals = np.repeat(np.asarray(TOKEN_DECIMALS)[tokens], logs_per_tx)
    places = np.minimum(decimals, VALUE_PLACES)
    mantissas = np.maximum(np.rint(amounts * 10.0**places), 1).astype(np.int64)
    values = [
        int(mantissa) * 10 ** int(shift)
        for mantissa, shift in zip(mantissas.tolist(), (decimals - places).tolist(), strict=True)
    ]
    return Activity(
        numbers=numbers.tolist(),
        tx_counts=tx_counts.tolist(),
        senders=senders.tolist(),
        tokens=tokens.tolist(),
        recipients=recipients.tolist(),
        values=values,
    )
