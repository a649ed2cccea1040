"""The local test chain must serve what a real node serves, or the other tests prove nothing."""

from testkit.testchain import TokenTransfer, _to_rpc_json


def test_served_logs_equal_eth_testers_with_block_wide_log_indexes(chain):
    chain.mine_random_blocks(8, max_transfers_per_block=4)
    params = {"fromBlock": "0x0", "toBlock": hex(chain.head)}

    served = chain.rpc("eth_getLogs", [params])
    with chain.lock:  # eth-tester's own, slow answer, which numbers logs per transaction instead
        reference = _to_rpc_json(chain._rpc._request("eth_getLogs", [params])["result"])

    def comparable(log):
        return {
            "address": log["address"].lower(),
            **{key: log[key] for key in ("blockHash", "blockNumber", "transactionHash", "data", "topics")},
        }

    assert [comparable(log) for log in served] == [comparable(log) for log in reference]
    assert any(log["logIndex"] != "0x0" for log in served)
    by_block = {}
    for log in served:
        by_block.setdefault(log["blockNumber"], []).append(int(log["logIndex"], 16))
    assert all(indexes == list(range(len(indexes))) for indexes in by_block.values())


def test_token_transfers_move_balances_and_reorgs_undo_them(chain):
    sender, recipient = chain.accounts[0], chain.accounts[5]

    chain.mine([TokenTransfer(sender, recipient, 123)])
    assert chain.token_balance(recipient) == 123
    orphaned = chain.block_hash(chain.head)

    chain.reorg(1, max_transfers_per_block=0)

    assert chain.token_balance(recipient) == 0
    assert chain.block_hash(chain.head - 1) != orphaned


def test_served_block_receipts_equal_eth_testers_receipts_and_can_be_switched_off(chain):
    chain.mine_random_blocks(5, max_transfers_per_block=3)
    for number in range(chain.head + 1):
        block = chain.rpc("eth_getBlockByNumber", [hex(number), False])
        assert chain.rpc("eth_getBlockReceipts", [hex(number)]) == [
            chain.rpc("eth_getTransactionReceipt", [tx_hash]) for tx_hash in block["transactions"]
        ]

    chain.serves_block_receipts = False
    answer = chain.answer({"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockReceipts", "params": ["0x1"]})
    assert answer["error"]["code"] == -32601
