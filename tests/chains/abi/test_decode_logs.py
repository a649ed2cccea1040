"""decode_logs against eth-abi (encoding the inputs and, independently, decoding them)."""

import eth_abi
import pyarrow as pa
import pytest
from eth_hash.auto import keccak

from chains.abi.decode import LOG_KEY_COLUMNS, decode_logs
from chains.abi.spec import parse_abi
from chains.abi.standards import standard
from tests.chains.abi.logs import CONTRACT, column_value, encoded, log_row, logs_table, word

HOLDER = "0x" + "ab" * 20
OTHER = "0x" + "0f" * 19 + "e1"
MAX_UINT = 2**256 - 1


def _event(*inputs, name="Everything", anonymous=False):
    abi = parse_abi([{"type": "event", "name": name, "anonymous": anonymous, "inputs": list(inputs)}])
    return abi.events[0]


def _param(type_, name, indexed=False, **extra):
    return {"name": name, "type": type_, "indexed": indexed, **extra}


def _data_values(result_table, event):
    return [
        {k: row[k] for k in row if k not in (*LOG_KEY_COLUMNS, "contract_address")}
        for row in result_table.to_pylist()
    ]


def _expected_row(event, values, columns):
    return {
        column: column_value(p.type, v) for p, v, column in zip(event.params, values, columns, strict=True)
    }


def test_erc20_transfers_with_key_columns_carried_through():
    transfer = standard("erc20").event("Transfer")
    values = [0, 1, 10**21, MAX_UINT]
    rows = [
        log_row([transfer.topic0, word("address", HOLDER), word("address", OTHER)], word("uint256", v), i)
        for i, v in enumerate(values)
    ]
    result = decode_logs(logs_table(rows), transfer)
    assert result.errors.num_rows == 0
    assert result.table.column_names == [*LOG_KEY_COLUMNS, "contract_address", "from", "to", "value"]
    decoded = result.table.to_pylist()
    assert [row["value"] for row in decoded] == [str(v) for v in values]
    assert {row["from"] for row in decoded} == {HOLDER}
    assert {row["to"] for row in decoded} == {OTHER}
    assert [row["log_index"] for row in decoded] == [0, 1, 2, 3]
    assert decoded[2]["contract_address"] == CONTRACT
    assert result.table.schema.field("value").type == pa.string()


STATIC_TYPES = [
    ("uint8", [0, 255, 7]),
    ("uint32", [0, 2**32 - 1, 123456]),
    ("uint40", [0, 2**40 - 1, 99]),
    ("uint112", [2**112 - 1, 0, 10**30]),
    ("uint160", [2**160 - 1, 79228162514264337593543950336, 1]),
    ("uint256", [MAX_UINT, 2**255, 2**251, 2**120, 2**119, 2**64, 0]),
    ("int8", [-128, 127, -1, 0]),
    ("int24", [-887272, 887272, -1, 0]),
    ("int32", [-(2**31), 2**31 - 1, -5]),
    ("int64", [-(2**63), 2**63 - 1, -1]),
    ("int128", [-(2**127), 2**127 - 1, -(2**119), 2**119]),
    ("int256", [-(2**255), 2**255 - 1, -1, -(2**251), 2**251 - 1, -(2**120), 2**120, 0]),
    ("address", [HOLDER, OTHER, "0x" + "00" * 20, "0x" + "ff" * 20]),
    ("bool", [True, False]),
    ("bytes1", [b"\x00", b"\xff"]),
    ("bytes4", [b"\xa9\x05\x9c\xbb", b"\x00\x00\x00\x01"]),
    ("bytes32", [b"\x12" * 32, b"\x00" * 31 + b"\x01"]),
    ("uint256[3]", [[1, MAX_UINT, 0], [5, 6, 7]]),
    ("int16[2][2]", [[[-1, 2], [3, -4]], [[0, 0], [32767, -32768]]]),
]


@pytest.mark.parametrize(("type_string", "values"), STATIC_TYPES)
def test_static_types_in_data_and_in_topics_match_eth_abi(type_string, values):
    in_data = _event(_param(type_string, "value"), _param("uint8", "tail"))
    rows = [
        log_row([in_data.topic0], encoded([type_string, "uint8"], [v, 9]), i) for i, v in enumerate(values)
    ]
    result = decode_logs(logs_table(rows), in_data)
    assert result.errors.num_rows == 0
    expected = [
        {
            "value": column_value(
                in_data.params[0].type,
                eth_abi.decode([type_string, "uint8"], bytes.fromhex(r["data"][2:]))[0],
            ),
            "tail": 9,
        }
        for r in rows
    ]
    assert _data_values(result.table, in_data) == expected
    if in_data.params[0].type.static_words == 1:  # a topic holds one word
        in_topic = _event(_param(type_string, "value", indexed=True))
        rows = [log_row([in_topic.topic0, word(type_string, v)], "0x", i) for i, v in enumerate(values)]
        result = decode_logs(logs_table(rows), in_topic)
        assert result.errors.num_rows == 0
        assert [row["value"] for row in result.table.to_pylist()] == [e["value"] for e in expected]


def test_small_integers_are_int64_and_wide_ones_strings():
    event = _event(_param("int24", "tick"), _param("uint32", "fee"), _param("uint40", "wide"))
    result = decode_logs(
        logs_table([log_row([event.topic0], encoded(["int24", "uint32", "uint40"], [-3, 3, 3]))]), event
    )
    schema = result.table.schema
    assert schema.field("tick").type == pa.int64()
    assert schema.field("fee").type == pa.int64()
    assert schema.field("wide").type == pa.string()
    assert _data_values(result.table, event) == [{"tick": -3, "fee": 3, "wide": "3"}]


DYNAMIC_TYPES = [
    ("bytes", [b"", b"\x01", b"\xff" * 33, bytes(range(64))]),
    ("string", ["", "hello", "ü€𝄞" * 20, "ipfs://bafy/{id}.json"]),
    ("uint256[]", [[], [MAX_UINT], list(range(40))]),
    ("address[]", [[], [HOLDER, OTHER]]),
    ("string[]", [[], ["", "a", "bc" * 40]]),
    ("bytes[2]", [[b"", b"x"], [b"\x00" * 32, b"\x01" * 31]]),
    ("uint8[][]", [[], [[]], [[1, 2], [], [255]]]),
    ("int256[2][]", [[], [[-1, 1], [MAX_UINT // 2, -(2**255)]]]),
    ("string[][2]", [[[], ["z"]], [["a", ""], []]]),
]


@pytest.mark.parametrize(("type_string", "values"), DYNAMIC_TYPES)
def test_dynamic_types_match_eth_abi(type_string, values):
    event = _event(_param("uint16", "before"), _param(type_string, "value"), _param("bool", "after"))
    types = ["uint16", type_string, "bool"]
    rows = [log_row([event.topic0], encoded(types, [i, v, True]), i) for i, v in enumerate(values)]
    result = decode_logs(logs_table(rows), event)
    assert result.errors.num_rows == 0
    expected = [
        _expected_row(
            event, eth_abi.decode(types, bytes.fromhex(r["data"][2:])), ["before", "value", "after"]
        )
        for r in rows
    ]
    assert _data_values(result.table, event) == expected


def test_nested_tuples_and_arrays_of_tuples():
    leg = [_param("address", "pool"), _param("bytes", "path"), _param("int24[2]", "ticks")]
    order = [
        _param("uint256", "amountIn"),
        _param("tuple[]", "legs", components=leg),
        _param("tuple", "limits", components=[_param("int128", "minOut"), _param("bool", "strict")]),
    ]
    static_pair = [_param("uint8", ""), _param("address", "")]
    event = _event(
        _param("tuple", "order", components=order),
        _param("tuple[2]", "pairs", components=static_pair),
        _param("tuple", "flat", components=static_pair),
    )
    assert event.signature == (
        "Everything((uint256,(address,bytes,int24[2])[],(int128,bool)),(uint8,address)[2],(uint8,address))"
    )
    types = [p.type.canonical for p in event.params]
    values = [
        (10**20, [(HOLDER, b"\x01\x02", (-60, 60)), (OTHER, b"", (0, 1))], (-(10**18), True)),
        [(1, HOLDER), (2, OTHER)],
        (3, OTHER),
    ]
    rows = [
        log_row([event.topic0], encoded(types, values), 0),
        log_row([event.topic0], encoded(types, values), 1),
    ]
    result = decode_logs(logs_table(rows), event)
    assert result.errors.num_rows == 0
    decoded = _data_values(result.table, event)
    assert decoded[0] == _expected_row(
        event, eth_abi.decode(types, bytes.fromhex(rows[0]["data"][2:])), ["order", "pairs", "flat"]
    )
    assert decoded[0]["order"]["legs"][0] == {"pool": HOLDER, "path": "0x0102", "ticks": [-60, 60]}
    assert decoded[0]["flat"] == {"arg0": 3, "arg1": OTHER}
    assert result.table.schema.field("pairs").type == pa.list_(
        pa.struct([pa.field("arg0", pa.int64()), pa.field("arg1", pa.string())])
    )


def test_indexed_dynamic_values_are_kept_as_their_hash():
    event = _event(
        _param("string", "name", indexed=True),
        _param("uint256[]", "ids", indexed=True),
        _param("uint256", "amount"),
    )
    name_hash = "0x" + keccak(b"vitalik.eth").hex()
    ids_hash = "0x" + keccak(eth_abi.encode(["uint256", "uint256"], [1, 2])).hex()
    rows = [log_row([event.topic0, name_hash, ids_hash], word("uint256", 5))]
    result = decode_logs(logs_table(rows), event)
    assert _data_values(result.table, event) == [
        {"name_hash": name_hash, "ids_hash": ids_hash, "amount": "5"}
    ]


def test_erc721_and_erc1155_standard_events():
    transfer = standard("erc721").event("Transfer")
    rows = [
        log_row(
            [transfer.topic0, word("address", HOLDER), word("address", OTHER), word("uint256", 2**200)], "0x"
        )
    ]
    assert _data_values(decode_logs(logs_table(rows), transfer).table, transfer) == [
        {"from": HOLDER, "to": OTHER, "token_id": str(2**200)}
    ]
    uri = standard("erc1155").event("URI")
    rows = [log_row([uri.topic0, word("uint256", 7)], encoded(["string"], ["https://x/{id}"]))]
    assert _data_values(decode_logs(logs_table(rows), uri).table, uri) == [
        {"value": "https://x/{id}", "id": "7"}
    ]


def test_uniswap_v3_swap():
    swap = standard("uniswap_v3_pool").event("Swap")
    data = [-(10**18), 3 * 10**9, 1461446703485210103287273052203988822378723970341, 2**128 - 1, -887272]
    rows = [
        log_row(
            [swap.topic0, word("address", HOLDER), word("address", OTHER)],
            encoded(["int256", "int256", "uint160", "uint128", "int24"], data),
        )
    ]
    assert _data_values(decode_logs(logs_table(rows), swap).table, swap) == [
        {
            "sender": HOLDER,
            "recipient": OTHER,
            "amount0": str(-(10**18)),
            "amount1": str(3 * 10**9),
            "sqrt_price_x96": str(data[2]),
            "liquidity": str(2**128 - 1),
            "tick": -887272,
        }
    ]


def test_anonymous_event_uses_topic0_for_its_first_indexed_parameter():
    event = _event(_param("address", "who", indexed=True), _param("uint8", "n"), anonymous=True)
    rows = [log_row([word("address", HOLDER)], word("uint8", 4))]
    assert _data_values(decode_logs(logs_table(rows), event).table, event) == [{"who": HOLDER, "n": 4}]


def test_column_names_that_repeat_or_shadow_key_columns_get_their_position():
    event = _event(
        _param("uint8", "blockNumber"),
        _param("uint8", "block_number"),
        _param("uint8", ""),
        _param("address", "contractAddress"),
    )
    rows = [log_row([event.topic0], encoded(["uint8", "uint8", "uint8", "address"], [1, 2, 3, HOLDER]))]
    table = decode_logs(logs_table(rows), event).table
    assert table.column_names[-4:] == ["block_number_0", "block_number_1", "arg2", "contract_address_3"]
    assert table.column("block_number").to_pylist() == [19_000_000]


def test_malformed_logs_become_error_rows_and_the_good_rows_around_them_decode():
    transfer = standard("erc20").event("Transfer")
    good_topics = [transfer.topic0, word("address", HOLDER), word("address", OTHER)]
    padded_address = "0x" + "00" * 11 + "01" + "ab" * 20
    rows = [
        log_row(good_topics, word("uint256", 1), 0),
        log_row(good_topics, "0x" + "00" * 31, 1),  # short data
        log_row([*good_topics, word("uint256", 9)], word("uint256", 2), 2),  # an ERC-721 Transfer
        log_row(good_topics[:2], word("uint256", 3), 3),  # a topic missing
        log_row(good_topics, "0x" + "zz" * 32, 4),  # garbage hex
        log_row([good_topics[0], "0x" + "g0" * 32, good_topics[2]], word("uint256", 5), 5),
        log_row([good_topics[0], padded_address, good_topics[2]], word("uint256", 6), 6),
        log_row(good_topics, "0x" + "0" * 65, 7),  # odd digits
        log_row(good_topics, "1234", 8),  # no 0x
        log_row([good_topics[0], "0x12", good_topics[2]], word("uint256", 8), 9),
        log_row(good_topics, word("uint256", 10), 10),
    ]
    result = decode_logs(logs_table(rows), transfer)
    assert result.table.column("log_index").to_pylist() == [0, 10]
    assert result.table.column("value").to_pylist() == ["1", "10"]
    reasons = dict(
        zip(
            result.errors.column("log_index").to_pylist(),
            result.errors.column("reason").to_pylist(),
            strict=True,
        )
    )
    assert reasons == {
        1: "data is 31 bytes; Transfer(address,address,uint256) needs 32",
        2: "4 topics; Transfer(address,address,uint256) has 2 indexed parameters, so 3 topics",
        3: "2 topics; Transfer(address,address,uint256) has 2 indexed parameters, so 3 topics",
        4: "data is not hex",
        5: "topic1 is not hex",
        6: "topic1 is not a valid address (from)",
        7: "data is not 0x-prefixed hex bytes",
        8: "data is not 0x-prefixed hex bytes",
        9: "topic1 is not 32 bytes of 0x-hex",
    }
    assert set(result.errors.column("event").to_pylist()) == {transfer.signature}
    assert result.errors.column_names == [*LOG_KEY_COLUMNS, "contract_address", "event", "reason"]


@pytest.mark.parametrize(
    ("type_string", "word_hex", "reason"),
    [
        ("bool", "00" * 31 + "02", "flag is not a valid bool"),
        ("uint8", "00" * 30 + "0100", "flag is not a valid uint8"),
        ("int8", "00" * 31 + "80", "flag is not a valid int8"),  # 128 is not sign-extended
        ("int8", "ff" * 31 + "7f", "flag is not a valid int8"),
        ("int64", "ff" * 23 + "00" + "ff" * 8, "flag is not a valid int64"),
        ("uint128", "01" + "00" * 31, "flag is not a valid uint128"),
        ("bytes2", "abcd" + "00" * 29 + "01", "flag is not a valid bytes2"),
        ("address", "ff" * 32, "flag is not a valid address"),
    ],
)
def test_bad_padding_is_an_error_row(type_string, word_hex, reason):
    event = _event(_param(type_string, "flag"))
    rows = [
        log_row([event.topic0], "0x" + word_hex, 0),
        log_row([event.topic0], word(type_string, eth_abi.decode([type_string], bytes(32))[0]), 1),
    ]
    result = decode_logs(logs_table(rows), event)
    assert result.errors.column("reason").to_pylist() == [reason]
    assert result.table.column("log_index").to_pylist() == [1]
    with pytest.raises(eth_abi.exceptions.DecodingError):  # the reference refuses it too
        eth_abi.decode([type_string], bytes.fromhex(word_hex))


def test_dynamic_encodings_that_point_outside_the_data_are_error_rows():
    batch = standard("erc1155").event("TransferBatch")
    topics = [batch.topic0, word("address", HOLDER), word("address", HOLDER), word("address", OTHER)]
    good = encoded(["uint256[]", "uint256[]"], [[1, 2], [3, 4]])
    huge_offset = "0x" + f"{2**200:064x}" + good[66:]
    huge_count = good[: 2 + 128] + f"{2**64:064x}" + good[2 + 192 :]
    rows = [
        log_row(topics, good, 0),
        log_row(topics, good[:-64], 1),
        log_row(topics, huge_offset, 2),
        log_row(topics, huge_count, 3),
        log_row(topics, "0x" + "00" * 63, 4),
        log_row(topics, good, 5),
    ]
    result = decode_logs(logs_table(rows), batch)
    assert result.table.column("log_index").to_pylist() == [0, 5]
    assert result.table.column("values").to_pylist() == [["3", "4"], ["3", "4"]]
    reasons = result.errors.column("reason").to_pylist()
    assert reasons[0] == "values: array of 2 elements at byte 160 runs past the end of the data"
    assert reasons[1].startswith("ids: offset ") and reasons[1].endswith("points outside the data")
    assert reasons[2].startswith("ids: array of 18446744073709551616 elements")
    assert (
        reasons[3]
        == "data is 63 bytes; TransferBatch(address,address,address,uint256[],uint256[]) needs at least 64"
    )


def test_strings_that_are_not_utf8_are_kept_with_replacement_characters_and_counted():
    uri = standard("erc1155").event("URI")
    raw = b"ok\xff\xfe"
    data = "0x" + f"{32:064x}" + f"{len(raw):064x}" + raw.hex().ljust(64, "0")
    rows = [
        log_row([uri.topic0, word("uint256", 1)], data, 0),
        log_row([uri.topic0, word("uint256", 2)], encoded(["string"], ["fine"]), 1),
    ]
    result = decode_logs(logs_table(rows), uri)
    assert result.table.column("value").to_pylist() == ["ok\ufffd\ufffd", "fine"]
    assert result.replaced_strings == 1


def test_chunked_input_and_an_empty_table():
    transfer = standard("erc20").event("Transfer")
    topics = [transfer.topic0, word("address", HOLDER), word("address", OTHER)]
    first = logs_table([log_row(topics, word("uint256", i), i) for i in range(3)])
    second = logs_table([log_row(topics, word("uint256", i), i) for i in range(3, 5)])
    result = decode_logs(pa.concat_tables([first, second]), transfer)
    assert result.table.column("value").to_pylist() == ["0", "1", "2", "3", "4"]
    empty = decode_logs(first.slice(0, 0), transfer)
    assert empty.table.num_rows == 0 and empty.errors.num_rows == 0
    assert empty.table.column_names[-3:] == ["from", "to", "value"]


def test_a_table_without_the_columns_is_refused_clearly():
    with pytest.raises(ValueError, match=r"the table has no column .*data"):
        decode_logs(pa.table({"chain_id": [1]}), standard("erc20").event("Transfer"))


def test_indexed_fixed_size_arrays_and_tuples_are_hashes_too():
    event = _event(
        _param("uint256[2]", "pair", indexed=True),
        _param("tuple", "point", indexed=True, components=[_param("int8", "x"), _param("int8", "y")]),
        _param("uint8", "n"),
    )
    pair_hash = "0x" + keccak(eth_abi.encode(["uint256[2]"], [[1, 2]])).hex()
    point_hash = "0x" + keccak(eth_abi.encode(["int8", "int8"], [-1, 1])).hex()
    result = decode_logs(
        logs_table([log_row([event.topic0, pair_hash, point_hash], word("uint8", 3))]), event
    )
    assert _data_values(result.table, event) == [{"pair_hash": pair_hash, "point_hash": point_hash, "n": 3}]
    assert result.table.schema.field("pair_hash").type == pa.string()


def test_every_row_bad_leaves_an_empty_table_of_the_right_columns():
    event = _event(_param("uint256[3]", "triple"), _param("tuple", "t", components=[_param("bool", "b")]))
    bad = "0x" + "ff" * 32 * 4
    result = decode_logs(logs_table([log_row([event.topic0], bad, i) for i in range(3)]), event)
    assert result.table.num_rows == 0
    assert result.table.schema.field("triple").type == pa.list_(pa.string())
    # uint256[3] of 0xff.. words is three maximal values; the bool word is not a bool
    assert result.errors.column("reason").to_pylist() == ["t is not a valid (bool)"] * 3
