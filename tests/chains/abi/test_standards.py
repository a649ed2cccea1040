import pytest

from chains.abi.standards import STANDARD_ABIS, standard

# Topic hashes and selectors as block explorers and the contracts' sources give them.
KNOWN = {
    ("erc20", "Transfer"): "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
    ("erc20", "Approval"): "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925",
    ("erc721", "Transfer"): "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
    ("erc721", "ApprovalForAll"): "0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31",
    ("erc1155", "TransferSingle"): "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62",
    ("erc1155", "TransferBatch"): "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb",
    ("erc1155", "URI"): "0x6bb7ff708619ba0610cba295a58592e0451dee2622938c8755667688daf3529b",
    ("weth", "Deposit"): "0xe1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c",
    ("weth", "Withdrawal"): "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65",
    ("uniswap_v2_pair", "Swap"): "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822",
    ("uniswap_v2_pair", "Sync"): "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1",
    ("uniswap_v2_pair", "Mint"): "0x4c209b5fc8ad50758f13e2e1088ba56a560dff690a1c6fef26394f4c03821c4f",
    ("uniswap_v2_pair", "Burn"): "0xdccd412f0b1252819cb1fd330b93224ca42612892bb3f4f789976e6d81936496",
    ("uniswap_v3_pool", "Swap"): "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67",
    ("uniswap_v3_pool", "Mint"): "0x7a53080ba414158be7ec69b987b5fb7d07dee101fe85488f0853ae16239d0bde",
    ("uniswap_v3_pool", "Burn"): "0x0c396cd989a39f4459b5fa1aed6a9a8dcdbc45908acfd67e028cd568da98982c",
    ("uniswap_v3_pool", "Collect"): "0x70935338e69775456a85ddef226c395fb668b63fa0115f5f20610b388e6ca9c0",
    ("uniswap_v3_pool", "Initialize"): "0x98636036cb66a9c19a37435efc1e90142190214e8abeb821bdba3f2990dd4c95",
}


@pytest.mark.parametrize(("abi", "event"), sorted(KNOWN))
def test_standard_event_topics_are_the_known_ones(abi, event):
    assert standard(abi).event(event).topic0 == KNOWN[(abi, event)]


def test_erc20_selectors():
    erc20 = standard("erc20")
    assert {f.name: f.selector for f in erc20.functions} == {
        "transfer": "0xa9059cbb",
        "transferFrom": "0x23b872dd",
        "approve": "0x095ea7b3",
    }


def test_erc721_transfer_indexes_the_token_id_where_erc20_does_not():
    assert standard("erc721").event("Transfer").topic_count == 4
    assert standard("erc20").event("Transfer").topic_count == 3


def test_every_standard_abi_parses_and_unknown_names_say_which_exist():
    for name in STANDARD_ABIS:
        assert standard(name).events
    with pytest.raises(KeyError, match="erc20"):
        standard("erc9999")
