"""A local Ethereum chain served over HTTP JSON-RPC on 127.0.0.1, for tests and benchmarks.

eth-tester (py-evm backend) holds the chain in process; web3's `EthereumTesterProvider` is in-process
too, so it would skip the HTTP client path that production uses. `LocalTestChain` therefore puts a
small JSON-RPC server (stdlib `ThreadingHTTPServer`, HTTP/1.1 keep-alive, single and batch requests)
in front of it, encoding results the way a real node does (quantities as hex, camelCase keys).

Besides serving the chain it lets a test drive it: deploy the test token, mine blocks with chosen
token transfers, force reorgs of a chosen depth (revert to the block `depth` below the head and mine a
different, longer branch; post-merge py-evm draws a random `mixHash` per block, so the new branch has
new hashes even with the same transactions), and inject faults on the next N HTTP requests: malformed
JSON, dropped connections, HTTP 429 / 503, a JSON-RPC `-32005` limit error, or a wrong chain id.
It serves `eth_getBlockReceipts` (which eth-tester lacks) unless told not to, like an older node, so
tests cover both ways of reading receipts.

Every chain operation and every served request takes one lock: eth-tester is not thread-safe, and a
test that mines while the client reads must see whole blocks, as from a real node.
"""

from __future__ import annotations

import enum
import json
import random
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import serialize_transaction_receipt
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.middleware import (
    receipt_result_formatter,
    receipt_result_remapper,
    transaction_result_formatter,
    transaction_result_remapper,
)

from testkit import token_contract

# Keys whose values are byte strings that happen to arrive as ints from eth-tester: a real node
# sends them as fixed-width DATA, not as quantities.
_FIXED_WIDTH_DATA = {"logsBloom": 256}
_TOKEN_HOLDERS = 6  # accounts that take part in token transfers
_FUNDED_AT_DEPLOY = 4  # accounts holding tokens right after deploy_token


class Fault(enum.StrEnum):
    """What the server does instead of answering, for the next N requests."""

    MALFORMED_JSON = "malformed_json"
    DROP_CONNECTION = "drop_connection"
    HTTP_429 = "http_429"
    HTTP_503 = "http_503"
    RPC_LIMIT_EXCEEDED = "rpc_limit_exceeded"


@dataclass(frozen=True)
class TokenTransfer:
    """A token transfer to include in the next mined block."""

    sender: str
    recipient: str
    amount: int
    token: str | None = None  # the test token unless another contract is named


def _to_rpc_json(value: Any, key: str | None = None) -> Any:
    """Encode an eth-tester result as a node does: ints as hex quantities, bytes as hex data."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        width = _FIXED_WIDTH_DATA.get(key or "")
        if width:
            return "0x" + value.to_bytes(width, "big").hex()
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {k: _to_rpc_json(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_rpc_json(v) for v in value]
    return value


class _TesterRpc:
    """JSON-RPC dispatch onto eth-tester through web3's tester middleware (which maps RPC params and
    results to and from eth-tester's snake_case shapes), without web3's client-side formatting."""

    def __init__(self, tester: EthereumTester, *, block_receipts: bool = True) -> None:
        self._tester = tester
        self.block_receipts = block_receipts
        provider = EthereumTesterProvider(tester)
        backend_w3 = Web3(provider)
        backend_w3.middleware_onion.clear()
        self._request = provider.request_func(backend_w3, backend_w3.middleware_onion)

    def call(self, method: str, params: Any) -> dict[str, Any]:
        if method == "eth_getLogs" and params and set(params[0]) <= {"fromBlock", "toBlock"}:
            return {"result": _to_rpc_json(self.logs_of_range(params[0]))}
        if method == "eth_getBlockReceipts" and self.block_receipts:
            return {"result": _to_rpc_json(self.receipts_of_block(params[0]))}
        response = self._request(method, params or [])
        if "error" in response:
            error = response["error"]
            if not isinstance(error, dict):
                error = {"code": -32603, "message": str(error)}
            return {"error": error}
        result = response.get("result")
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash") and isinstance(result, dict):
            # The tester middleware leaves a block's full transactions in eth-tester's snake_case.
            result = {
                **result,
                "transactions": [
                    transaction_result_remapper(transaction_result_formatter(tx))
                    if isinstance(tx, dict)
                    else tx
                    for tx in result.get("transactions", [])
                ],
            }
        elif method == "eth_getLogs" and isinstance(result, list):
            # Nodes mark logs of the canonical chain `removed: false`; eth-tester says `type: mined`.
            result = [{**{k: v for k, v in log.items() if k != "type"}, "removed": False} for log in result]
        return {"result": _to_rpc_json(result)}

    def logs_of_range(self, filter_params: dict[str, str]) -> list[dict[str, Any]]:
        """eth_getLogs over a block range, read from py-evm's canonical blocks and receipts.

        eth-tester's own get_logs finds each transaction by scanning blocks down from the head, so
        reading early blocks of a long chain grows quadratic; a real node has an index. This reads
        the same data directly (a test checks it against eth-tester's answer)."""
        chain = self._tester.backend.chain
        head = chain.get_canonical_head().block_number
        first = _block_param(filter_params.get("fromBlock", "latest"), head)
        last = min(_block_param(filter_params.get("toBlock", "latest"), head), head)
        logs: list[dict[str, Any]] = []
        for number in range(first, last + 1):
            block = chain.get_canonical_block_by_number(number)
            log_index = 0
            for tx_index, (tx, receipt) in enumerate(
                zip(block.transactions, block.get_receipts(chain.chaindb), strict=True)
            ):
                for entry in receipt.logs:
                    logs.append(
                        {
                            "removed": False,
                            "logIndex": log_index,
                            "transactionIndex": tx_index,
                            "transactionHash": tx.hash,
                            "blockHash": block.hash,
                            "blockNumber": number,
                            "address": entry.address,
                            "data": entry.data,
                            "topics": [topic.to_bytes(32, "big") for topic in entry.topics],
                        }
                    )
                    log_index += 1
        return logs

    def receipts_of_block(self, block: str) -> list[dict[str, Any]] | None:
        """eth_getBlockReceipts (which eth-tester lacks): the receipts of a block's transactions, in
        the shape eth_getTransactionReceipt gives each (a test checks they are equal), read from
        py-evm's canonical block rather than found by hash one at a time (a scan from the head)."""
        chain = self._tester.backend.chain
        head = chain.get_canonical_head().block_number
        number = _block_param(block, head)
        if number > head:
            return None
        canonical = chain.get_canonical_block_by_number(number)
        receipts = canonical.get_receipts(chain.chaindb)
        vm = chain.get_vm()
        return [
            receipt_result_remapper(
                receipt_result_formatter(
                    self._tester.normalizer.normalize_outbound_receipt(
                        serialize_transaction_receipt(canonical, receipts, tx, index, False, vm)
                    )
                )
            )
            for index, tx in enumerate(canonical.transactions)
        ]


def _block_param(value: str, head: int) -> int:
    return (
        head
        if value in ("latest", "safe", "finalized", "pending")
        else 0
        if value == "earliest"
        else int(value, 16)
    )


class LocalTestChain:
    """An eth-tester chain behind a JSON-RPC HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, *, seed: int = 0, block_receipts: bool = True) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.tester.disable_auto_mine_transactions()
        self.lock = threading.RLock()
        self._rpc = _TesterRpc(self.tester, block_receipts=block_receipts)
        self._random = random.Random(seed)
        self._snapshots: dict[int, int] = {0: self.tester.take_snapshot()}
        self._faults: list[Fault] = []
        self.reported_chain_id: int | None = None
        self.requests_served = 0
        self.faults_served = 0
        self.token_address: str | None = None
        # Called with each parsed request before it is answered: lets a test move the chain between
        # two reads of one ingestion step (say, reorg it right before eth_getLogs).
        self.request_hook: Callable[[Any], None] | None = None
        # Called with each answered request object and its answer; what it returns is sent instead
        # (lets a test make the node contradict itself, say receipts that are not its block's).
        self.answer_hook: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-test-chain",
            daemon=True,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalTestChain:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalTestChain:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- reading the chain directly (the ground truth tests compare against) -----------------------

    @property
    def chain_id(self) -> int:
        with self.lock:
            return int(self._rpc.call("eth_chainId", [])["result"], 16)

    @property
    def accounts(self) -> list[str]:
        return [account.lower() for account in self.tester.get_accounts()]

    @property
    def head(self) -> int:
        with self.lock:
            return self.tester.get_block_by_number("latest")["number"]

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Call the chain as the server would, bypassing HTTP (for ground truth in tests)."""
        with self.lock:
            response = self._rpc.call(method, list(params))
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response["result"]

    def block_hash(self, number: int) -> str:
        return self.rpc("eth_getBlockByNumber", [hex(number), False])["hash"]

    def token_balance(self, holder: str) -> int:
        with self.lock:
            raw = self.tester.call(
                {
                    "from": self.tester.get_accounts()[0],
                    "to": Web3.to_checksum_address(self.token_address),
                    "data": token_contract.balance_of_calldata(holder),
                }
            )
        return int.from_bytes(raw if isinstance(raw, bytes) else bytes.fromhex(raw[2:]), "big")

    # -- driving the chain ----------------------------------------------------------------------

    def deploy_token(self) -> str:
        """Deploy the test token from the first account (which receives the whole supply), mine the
        block, then give accounts 1-3 a share each in one block apiece; returns the token's
        lower-case address."""
        deployer = self.tester.get_accounts()[0]
        with self.lock:
            tx_hash = self._send(
                {"from": deployer, "data": "0x" + token_contract.INIT_CODE.hex(), "gas": 500_000}
            )
            self._mine_one()
            receipt = self.tester.get_transaction_receipt(tx_hash)
        if receipt["status"] != 1 or not receipt["contract_address"]:
            raise RuntimeError(f"token deployment failed: {receipt}")
        self.token_address = receipt["contract_address"].lower()
        # Fund a few more holders, one block each, so later blocks can carry several transfers.
        for holder in self.accounts[1:_FUNDED_AT_DEPLOY]:
            self.mine([TokenTransfer(self.accounts[0], holder, token_contract.INITIAL_SUPPLY // 10 + 7)])
        return self.token_address

    def deploy_contract(self, init_code: bytes) -> str:
        """Deploy a contract from the first account in a block of its own; its lower-case address."""
        with self.lock:
            tx_hash = self._send(
                {"from": self.tester.get_accounts()[0], "data": "0x" + init_code.hex(), "gas": 1_000_000}
            )
            self._mine_one()
            receipt = self.tester.get_transaction_receipt(tx_hash)
        if receipt["status"] != 1 or not receipt["contract_address"]:
            raise RuntimeError(f"contract deployment failed: {receipt}")
        return receipt["contract_address"].lower()

    def mine(self, transfers: Iterable[TokenTransfer] = (), *, eth_value_transfer: bool = False) -> int:
        """Mine one block holding the given token transfers (and, if asked, a plain ETH transfer,
        a transaction with no logs); returns the new block's number."""
        with self.lock:
            for transfer in transfers:
                self._send_token_transfer(transfer)
            if eth_value_transfer:
                # Accounts 8 and 9 never hold the token, so this never clashes with a token sender.
                recipient, sender = self.tester.get_accounts()[8:10]
                self._send({"from": sender, "to": recipient, "value": 10**18 + 1, "gas": 21_000})
            return self._mine_one()

    def mine_random_blocks(self, count: int, *, max_transfers_per_block: int = 3) -> list[int]:
        """Mine `count` blocks, each with 0..max token transfers (see `random_transfers`) and
        sometimes a plain ETH transfer (a transaction without logs)."""
        numbers = []
        for _ in range(count):
            numbers.append(
                self.mine(
                    self.random_transfers(self._random.randint(0, max_transfers_per_block)),
                    eth_value_transfer=self._random.random() < 0.3,
                )
            )
        return numbers

    def random_transfers(self, count: int) -> list[TokenTransfer]:
        """Up to `count` token transfers for one block, each from a different funded holder among
        the first six accounts (one transaction per sender per block, see `send_transaction`), with
        amounts large enough that a float would round them."""
        if self.token_address is None:
            raise RuntimeError("deploy the token first")
        holders = self.accounts[:_TOKEN_HOLDERS]
        funded = [holder for holder in holders if self.token_balance(holder) > 0]
        transfers = []
        for sender in self._random.sample(funded, min(count, len(funded))):
            recipient = self._random.choice([holder for holder in holders if holder != sender])
            amount = self._random.randint(1, max(1, self.token_balance(sender) // 4))
            transfers.append(TokenTransfer(sender, recipient, amount))
        return transfers

    def reorg(
        self, depth: int, *, new_branch_length: int | None = None, max_transfers_per_block: int = 3
    ) -> int:
        """Replace the top `depth` blocks by a different branch of `new_branch_length` blocks
        (default depth + 1, so the new chain is longer as a real fork choice would want); returns
        the new head."""
        if depth < 1 or depth > self.head:
            raise ValueError(f"reorg depth must be between 1 and the head ({self.head}), got {depth}")
        length = depth + 1 if new_branch_length is None else new_branch_length
        with self.lock:
            fork_point = self.head - depth
            self.tester.revert_to_snapshot(self._snapshots[fork_point])
            for height in [h for h in self._snapshots if h > fork_point]:
                del self._snapshots[height]
            self.mine_random_blocks(length, max_transfers_per_block=max_transfers_per_block)
            return self.head

    def _send_token_transfer(self, transfer: TokenTransfer) -> None:
        self._send(
            {
                "from": Web3.to_checksum_address(transfer.sender),
                "to": Web3.to_checksum_address(transfer.token or self.token_address),
                "data": token_contract.transfer_calldata(transfer.recipient, transfer.amount),
                "gas": 100_000,
            }
        )

    def send_transaction(self, transaction: dict[str, Any]) -> str:
        """Queue a transaction for the next mined block (see `mine`). eth-tester validates a pending
        transaction against the last mined state, so each sender can have one per block."""
        with self.lock:
            return self._send(transaction)

    def _send(self, transaction: dict[str, Any]) -> str:
        return self.tester.send_transaction(
            {**transaction, "from": Web3.to_checksum_address(transaction["from"])}
        )

    def _mine_one(self) -> int:
        # The zero coinbase: eth-tester replays blocks on snapshot revert and rejects the replay of a
        # block whose coinbase earned fees; py-evm's random mixHash already makes every block unique.
        self.tester.mine_blocks(1)
        number = self.tester.get_block_by_number("latest")["number"]
        self._snapshots[number] = self.tester.take_snapshot()
        return number

    # -- fault injection --------------------------------------------------------------------------

    def inject_fault(self, fault: Fault, times: int = 1) -> None:
        """Misbehave on the next `times` HTTP requests, in order, then answer normally again."""
        with self.lock:
            self._faults.extend([Fault(fault)] * times)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _next_fault(self) -> Fault | None:
        with self.lock:
            self.requests_served += 1
            if self._faults:
                self.faults_served += 1
                return self._faults.pop(0)
            return None

    def answer(self, message: Any) -> Any:
        """Answer one JSON-RPC message (a request object or a batch list)."""
        if isinstance(message, list):
            if not message:
                return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "empty batch"}}
            return [self._answer_one(request) for request in message]
        return self._answer_one(message)

    def _answer_one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or "method" not in request:
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        request_id = request.get("id")
        method = request["method"]
        if method == "eth_chainId" and self.reported_chain_id is not None:
            outcome: dict[str, Any] = {"result": hex(self.reported_chain_id)}
        else:
            with self.lock:
                try:
                    outcome = self._rpc.call(method, request.get("params"))
                except Exception as exc:  # the node answers errors, it does not crash
                    outcome = {"error": {"code": -32603, "message": f"{type(exc).__name__}: {exc}"}}
        reply = {"jsonrpc": "2.0", "id": request_id, **outcome}
        return reply if self.answer_hook is None else self.answer_hook(request, reply)

    @property
    def serves_block_receipts(self) -> bool:
        """Whether the node answers eth_getBlockReceipts (as geth, Erigon and Reth do) or, like
        older nodes, only eth_getTransactionReceipt (-32601 for the other)."""
        return self._rpc.block_receipts

    @serves_block_receipts.setter
    def serves_block_receipts(self, value: bool) -> None:
        self._rpc.block_receipts = value


def _handler_for(chain: LocalTestChain) -> type[BaseHTTPRequestHandler]:
    class JsonRpcHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as providers serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                message = json.loads(body)
            except ValueError:
                message = None
            if message is not None and chain.request_hook is not None:
                chain.request_hook(message)  # before the fault is drawn: a hook may inject one
            fault = chain._next_fault()
            if fault is Fault.DROP_CONNECTION:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is Fault.MALFORMED_JSON:
                self._send(200, b'{"jsonrpc": "2.0", "id": 1, "result": {"number": "0x1", ')
                return
            if fault is Fault.HTTP_429:
                self._send(429, b"rate limited", headers={"Retry-After": "0"})
                return
            if fault is Fault.HTTP_503:
                self._send(503, b"upstream unavailable")
                return
            if message is None:
                error = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
                self._send(200, json.dumps(error).encode())
                return
            if fault is Fault.RPC_LIMIT_EXCEEDED:
                error = {"code": -32005, "message": "limit exceeded"}
                if isinstance(message, list):
                    reply: Any = [{"jsonrpc": "2.0", "id": r.get("id"), "error": error} for r in message]
                else:
                    reply = {"jsonrpc": "2.0", "id": message.get("id"), "error": error}
            else:
                reply = chain.answer(message)
            self._send(200, json.dumps(reply).encode())

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return JsonRpcHandler
