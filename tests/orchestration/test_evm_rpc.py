"""The evm_rpc source through the engine (plan -> claim -> run -> publish) against a local chain
served over HTTP on 127.0.0.1, with the demo's downstream jobs (evm.transfers, daily stats)."""

import random
import socket

import pyarrow as pa
import pytest
from django.core.exceptions import ValidationError

from chains.demo import DAILY_STATS_SQL
from orchestration.models import Task
from orchestration.services import job_create, job_run_now, task_execute, tasks_dispatch
from orgs.models import platform_org
from testkit.fixed_contracts import (
    abi_bytes32,
    abi_string,
    abi_uint,
    deployment_code,
    fixed_answers_runtime,
    token_answers,
)
from testkit.lake import table_checksum
from testkit.testchain import Fault, LocalTestChain, TokenTransfer
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion
from versioning.storage import lake

DATASETS = [
    "evm.blocks",
    "evm.transactions",
    "evm.logs",
    "evm.transfers",
    "evm.tokens",
    "evm.daily_transfer_stats",
]
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_callables(settings):
    settings.PYTHON_CALLABLE_MODULES = [*settings.PYTHON_CALLABLE_MODULES, "chains.demo"]
    # The test chain serves on 127.0.0.1, which the outbound policy refuses unless allow-listed.
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]


@pytest.fixture
def chain():
    with LocalTestChain(seed=11) as local_chain:
        local_chain.deploy_token()
        yield local_chain


def source_job(chain, **source):
    options = {
        "url": chain.url,
        "chain_id": chain.chain_id,
        "partition_width": 5,
        "max_reorg_depth": 6,
        "batch_size": 7,
        "log_block_range": 4,
        "rpc_max_attempts": 2,
        "rpc_timeout_seconds": 5,
        **source,
    }
    return job_create(
        org=platform_org(),
        name="chain",
        operator="evm_rpc",
        runtime="source",
        execution_strategy="incremental",
        source=options,
        output_datasets=["evm.blocks", "evm.transactions", "evm.logs"],
    )


def tokens_job(chain):
    return job_create(
        org=platform_org(),
        name="tokens",
        operator="erc20_metadata",
        runtime="python",
        activation="reactive",
        source={"url": chain.url, "chain_id": chain.chain_id, "batch_size": 5, "rpc_max_attempts": 2},
        config={"partition_mapping": "all"},
        input_datasets=["evm.transfers"],
        output_datasets=["evm.tokens"],
    )


def downstream_jobs(chain):
    org = platform_org()
    job_create(
        org=org,
        name="transfers",
        operator="python",
        runtime="python",
        activation="reactive",
        source={"callable": "chains.demo:transfers_from_logs"},
        input_datasets=["evm.logs"],
        output_datasets=["evm.transfers"],
    )
    tokens_job(chain)
    job_create(
        org=org,
        name="daily",
        operator="duckdb_sql",
        runtime="sql",
        activation="reactive",
        source={"sql": DAILY_STATS_SQL},
        config={"partition_mapping": "all"},
        input_datasets=["evm.transfers", "evm.tokens"],
        output_datasets=["evm.daily_transfer_stats"],
    )


def ingest(job, run_tasks):
    job_run_now(job=job)
    run_tasks()


def dataset(name: str) -> pa.Table | None:
    parts = PartitionVersion.objects.filter(dataset=name).order_by("partition_key")
    tables = [lake().read_table(p.location) for p in parts]
    return pa.concat_tables(tables) if tables else None


def checksums() -> dict[str, str | None]:
    return {name: (None if (t := dataset(name)) is None else table_checksum(t)) for name in DATASETS}


def chain_transfers(chain) -> list[tuple]:
    """Every Transfer of the chain's token, read straight from the chain (not over HTTP)."""
    logs = chain.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(chain.head)}])
    return sorted(
        (
            int(log["blockNumber"], 16),
            "0x" + log["topics"][1][26:],
            "0x" + log["topics"][2][26:],
            int(log["data"], 16),
        )
        for log in logs
        if log["address"].lower() == chain.token_address
    )


def test_blocks_transactions_logs_and_transfers_equal_the_chain(chain, run_tasks):
    mined = []
    for number in range(6):
        transfers = chain.random_transfers(3)
        block = chain.mine(transfers, eth_value_transfer=number % 2 == 0)
        mined += [(block, t.sender, t.recipient, t.amount) for t in transfers]
    job = source_job(chain)
    downstream_jobs(chain)
    ingest(job, run_tasks)

    blocks = dataset("evm.blocks")
    assert blocks["block_number"].to_pylist() == list(range(chain.head + 1))
    assert blocks["block_hash"].to_pylist() == [chain.block_hash(n) for n in range(chain.head + 1)]
    tx_count = sum(
        len(chain.rpc("eth_getBlockByNumber", [hex(n), False])["transactions"]) for n in range(chain.head + 1)
    )
    assert dataset("evm.transactions").num_rows == tx_count
    transfers = dataset("evm.transfers")
    rows = sorted(
        zip(
            transfers["block_number"].to_pylist(),
            transfers["from_address"].to_pylist(),
            transfers["to_address"].to_pylist(),
            [int(v) for v in transfers["value"].to_pylist()],
            strict=True,
        )
    )
    assert rows == chain_transfers(chain)
    assert set(mined) <= set(rows)  # the transfers we sent, with exact uint256 amounts
    assert set(transfers["token_address"].to_pylist()) == {chain.token_address}
    assert sum(dataset("evm.daily_transfer_stats")["transfers"].to_pylist()) == len(rows)
    # The test token implements none of the metadata getters: a row that says so, no amount.
    (token,) = dataset("evm.tokens").to_pylist()
    assert (token["token_address"], token["decimals"], token["first_seen_block"]) == (
        chain.token_address,
        None,
        1,
    )
    assert token["error"].count("revert") == 3
    assert set(dataset("evm.daily_transfer_stats")["amount"].to_pylist()) == {None}
    cursor = DatasetCursor.objects.get(job=job, dataset="evm.blocks")
    assert (cursor.cursor_column, cursor.cursor_value) == ("block_number", str(chain.head))
    assert {p.partition_key for p in PartitionVersion.objects.filter(dataset="evm.blocks")} == {
        f"blocks_{n:08d}" for n in range(0, chain.head + 1, 5)
    }

    # The next run picks up only what is new, merging into the open partition.
    chain.mine([TokenTransfer(chain.accounts[1], chain.accounts[4], 10**21 + 3)])
    ingest(job, run_tasks)
    assert dataset("evm.blocks")["block_number"].to_pylist() == list(range(chain.head + 1))
    assert dataset("evm.transfers")["value"].to_pylist()[-1] == str(10**21 + 3)


def _metadata_token(chain, *, symbol, name, decimals):
    answers = token_answers(symbol=symbol, name=name, decimals=decimals)
    return chain.deploy_contract(deployment_code(fixed_answers_runtime(answers)))


def test_token_metadata_is_read_once_per_token_and_scales_the_daily_amounts(chain, run_tasks):
    usdc = _metadata_token(
        chain, symbol=abi_string("USDC"), name=abi_string("USD Coin"), decimals=abi_uint(6)
    )
    mkr = _metadata_token(chain, symbol=abi_bytes32("MKR"), name=abi_bytes32("Maker"), decimals=abi_uint(18))
    sender, recipient = chain.accounts[1], chain.accounts[2]
    first = chain.mine([TokenTransfer(sender, recipient, 1_500_000, token=usdc)])
    chain.mine([TokenTransfer(sender, recipient, 2 * 10**18 + 5 * 10**17, token=mkr)])
    job = source_job(chain)
    downstream_jobs(chain)
    calls = []
    chain.request_hook = lambda message: calls.extend(
        request["params"][0]["to"]
        for request in (message if isinstance(message, list) else [message])
        if request.get("method") == "eth_call"
    )
    ingest(job, run_tasks)

    tokens = {row["token_address"]: row for row in dataset("evm.tokens").to_pylist()}
    assert set(tokens) == {chain.token_address, usdc, mkr}
    assert (tokens[usdc]["symbol"], tokens[usdc]["name"], tokens[usdc]["decimals"]) == ("USDC", "USD Coin", 6)
    assert (tokens[mkr]["symbol"], tokens[mkr]["name"], tokens[mkr]["decimals"]) == ("MKR", "Maker", 18)
    assert tokens[usdc]["error"] is None and tokens[usdc]["first_seen_block"] == first
    assert {row["chain_id"] for row in tokens.values()} == {chain.chain_id}
    amounts = {row["token_address"]: row["amount"] for row in dataset("evm.daily_transfer_stats").to_pylist()}
    assert amounts[usdc] == pytest.approx(1.5) and amounts[mkr] == pytest.approx(2.5)
    assert sorted(calls) == sorted([chain.token_address, usdc, mkr] * 3)  # three getters each

    # A new token: only it is asked for; the known rows stay as they were.
    dai = _metadata_token(chain, symbol=abi_string("DAI"), name=abi_string("Dai"), decimals=abi_uint(18))
    chain.mine([TokenTransfer(sender, recipient, 10**18, token=dai)])
    chain.mine([TokenTransfer(sender, recipient, 10**6, token=usdc)])
    calls.clear()
    ingest(job, run_tasks)
    assert calls == [dai] * 3
    tokens_after = {row["token_address"]: row for row in dataset("evm.tokens").to_pylist()}
    assert tokens_after[dai]["symbol"] == "DAI" and tokens_after[usdc] == tokens[usdc]

    # Nothing new: the tokens job runs again (new transfers) but asks the node nothing.
    chain.mine([TokenTransfer(sender, recipient, 10**6, token=usdc)])
    asked = []
    chain.request_hook = asked.append
    tokens_job_runs = Task.objects.filter(job__name="tokens", status="succeeded").count()
    ingest(job, run_tasks)
    assert Task.objects.filter(job__name="tokens", status="succeeded").count() == tokens_job_runs + 1
    assert dataset("evm.tokens").to_pylist() == list(tokens_after.values())
    methods = {
        r.get("method") for message in asked for r in (message if isinstance(message, list) else [message])
    }
    assert not methods & {"eth_call", "eth_getCode"}


def test_random_reorgs_leave_every_dataset_equal_to_a_fresh_ingestion(chain, run_tasks):
    rng = random.Random(5)
    chain.mine_random_blocks(8)
    job = source_job(chain)
    downstream_jobs(chain)
    ingest(job, run_tasks)
    reorgs = []
    for _ in range(4):
        depth = rng.randint(1, 6)
        fork_point = chain.head - depth
        chain.reorg(depth, new_branch_length=depth + rng.randint(1, 3))
        reorgs.append(fork_point + 1)
        ingest(job, run_tasks)
        assert dataset("evm.blocks")["block_hash"].to_pylist() == [
            chain.block_hash(n) for n in range(chain.head + 1)
        ]

    events = DataInvalidation.objects.filter(dataset="evm.blocks", source_event__type="reorg")
    assert sorted(e.source_event["from_block"] for e in events) == sorted(reorgs)
    assert events.count() == len(reorgs)  # one per reorg
    for name in ("evm.transactions", "evm.logs"):
        assert DataInvalidation.objects.filter(dataset=name, source_event__type="reorg").count() == len(
            reorgs
        )
    after_reorgs = checksums()

    # A fresh ingestion of the final chain, through the same jobs, from an empty catalog.
    PartitionVersion.objects.all().delete()
    DatasetCursor.objects.all().delete()
    ingest(job, run_tasks)
    assert None not in after_reorgs.values()
    assert checksums() == after_reorgs


def test_a_reorg_deeper_than_the_maximum_fails_clearly_and_changes_nothing(chain, run_tasks):
    chain.mine_random_blocks(6)
    job = source_job(chain, max_reorg_depth=2)
    ingest(job, run_tasks)
    before, ingested_head = checksums(), chain.head
    chain.reorg(4)
    ingest(job, run_tasks)
    task = Task.objects.filter(job=job).latest("created_at")
    assert task.status == "failed" and task.attempts == 1  # not retried: a person must decide
    assert "ReorgTooDeepError" in task.error_message and "max_reorg_depth=2" in task.error_message
    assert checksums() == before
    assert DatasetCursor.objects.get(job=job, dataset="evm.blocks").cursor_value == str(ingested_head)
    assert not DataInvalidation.objects.exists()


def test_a_wrong_chain_id_fails_without_retry_and_writes_nothing(chain, run_tasks):
    job = source_job(chain, chain_id=chain.chain_id + 1)
    ingest(job, run_tasks)
    task = Task.objects.get(job=job)
    assert task.status == "failed" and task.attempts == 1
    assert f"expected {chain.chain_id + 1}" in task.error_message and "WrongChainError" in task.error_message
    assert not PartitionVersion.objects.exists()


def test_an_unreachable_node_is_a_task_error_and_a_retry(chain):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    job = source_job(chain, url=f"http://127.0.0.1:{port}/v1/secret-key", rpc_max_attempts=1)
    job_run_now(job=job)
    tasks_dispatch(enqueue=False)
    task_execute(task_id=Task.objects.get(job=job).id)
    task = Task.objects.get(job=job)
    assert task.status == "pending" and task.next_retry_at is not None
    assert "NodeUnreachableError" in task.error_message and "retry 2/3" in task.error_message
    assert "secret-key" not in task.error_message
    assert not PartitionVersion.objects.exists()


@pytest.mark.parametrize("fault", [Fault.MALFORMED_JSON, Fault.DROP_CONNECTION])
def test_a_misbehaving_node_fails_the_attempt_then_the_retry_ingests_it_whole(chain, run_tasks, fault):
    chain.mine_random_blocks(4)
    job = source_job(chain)
    job_run_now(job=job)
    tasks_dispatch(enqueue=False)
    chain.inject_fault(fault, times=2)  # as many as the client's attempts: the task attempt fails
    task_execute(task_id=Task.objects.get(job=job).id)
    task = Task.objects.get(job=job)
    assert task.status == "pending"
    expected = "MalformedResponseError" if fault == Fault.MALFORMED_JSON else "NodeUnreachableError"
    assert expected in task.error_message
    assert not PartitionVersion.objects.exists()

    Task.objects.filter(job=job).update(next_retry_at=None)  # the backoff has passed
    run_tasks()
    assert Task.objects.get(job=job).status == "succeeded"
    assert dataset("evm.blocks")["block_hash"].to_pylist() == [
        chain.block_hash(n) for n in range(chain.head + 1)
    ]


def test_receipts_that_disagree_with_their_block_retry_the_task_and_write_nothing(chain, run_tasks):
    chain.mine_random_blocks(4)
    job = source_job(chain)

    def swapped(request, reply):
        receipts = reply.get("result")
        if request["method"] == "eth_getBlockReceipts" and receipts and len(receipts) > 1:
            return {**reply, "result": [receipts[1], receipts[0], *receipts[2:]]}
        return reply

    chain.mine(chain.random_transfers(3))
    chain.answer_hook = swapped
    job_run_now(job=job)
    tasks_dispatch(enqueue=False)
    task_execute(task_id=Task.objects.get(job=job).id)
    task = Task.objects.get(job=job)
    assert task.status == "pending" and task.next_retry_at is not None
    assert "MalformedResponseError" in task.error_message and "receipt" in task.error_message
    assert not PartitionVersion.objects.exists()

    chain.answer_hook = None
    Task.objects.filter(job=job).update(next_retry_at=None)
    run_tasks()
    assert Task.objects.get(job=job).status == "succeeded"
    transactions = dataset("evm.transactions")
    assert transactions["status"].to_pylist() == [
        int(chain.rpc("eth_getTransactionReceipt", [tx_hash])["status"], 16)
        for tx_hash in transactions["transaction_hash"].to_pylist()
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"url": "ftp://node"}, "url: an http(s)"),
        ({"chain_id": None}, "chain_id is required"),
        ({"confirmations": -1}, "confirmations: an integer >= 0"),
        ({"max_reorg_depth": "64"}, "max_reorg_depth: an integer >= 1"),
        ({"end_block": 1, "start_block": 5}, "end_block"),
        ({"url_typo": "x"}, "unknown keys url_typo"),
    ],
)
def test_a_bad_source_is_refused_on_save_with_the_field_named(source, message):
    base = {"url": "http://127.0.0.1:8545", "chain_id": 1}
    with pytest.raises(ValidationError) as error:
        job_create(
            org=platform_org(),
            name="bad",
            operator="evm_rpc",
            runtime="source",
            execution_strategy="incremental",
            source={k: v for k, v in {**base, **source}.items() if v is not None},
            output_datasets=["evm.blocks"],
        )
    assert message in " ".join(error.value.message_dict["source"])
