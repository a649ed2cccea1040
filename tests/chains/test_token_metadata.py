"""Token metadata read from the node: ABI strings and bytes32, reverts, garbage and addresses
without code each give a row (with an error where something is missing), never a failure."""

import pytest

from chains.operators.token_metadata import decode_decimals, decode_text, read_token_metadata
from testkit.fixed_contracts import (
    abi_bytes32,
    abi_string,
    abi_uint,
    deployment_code,
    fixed_answers_runtime,
    token_answers,
)


def _deploy(chain, **answers):
    return chain.deploy_contract(deployment_code(fixed_answers_runtime(token_answers(**answers))))


def test_each_kind_of_token_answer_gives_its_row(chain, make_client):
    plain = _deploy(chain, name=abi_string("Test Token"), symbol=abi_string("TST"), decimals=abi_uint(18))
    old_style = _deploy(chain, name=abi_bytes32("Maker"), symbol=abi_bytes32("MKR"), decimals=abi_uint(18))
    no_decimals = _deploy(chain, name=abi_string("Points"), symbol=abi_string("PTS"), decimals=None)
    garbage = _deploy(chain, name=b"\x01\x02\x03", symbol=abi_uint(2**200), decimals=abi_uint(1000))
    reverting = chain.token_address  # the test token implements none of the three getters
    person = chain.accounts[3]
    client = make_client(batch_size=20)

    found = {
        t.token_address: t
        for t in read_token_metadata(client, [plain, old_style, no_decimals, garbage, reverting, person])
    }

    assert (found[plain].symbol, found[plain].name, found[plain].decimals, found[plain].error) == (
        "TST",
        "Test Token",
        18,
        None,
    )
    assert (found[old_style].symbol, found[old_style].name, found[old_style].decimals) == ("MKR", "Maker", 18)
    assert found[old_style].error is None
    assert (found[no_decimals].symbol, found[no_decimals].decimals) == ("PTS", None)
    assert found[no_decimals].error.startswith("decimals(): ") and "revert" in found[no_decimals].error
    assert (found[garbage].symbol, found[garbage].name, found[garbage].decimals) == (None, None, None)
    assert (
        "name(): 3 bytes" in found[garbage].error
        and "decimals(): 1000 is not a uint8" in found[garbage].error
    )
    assert (found[reverting].symbol, found[reverting].name, found[reverting].decimals) == (None, None, None)
    assert found[reverting].error.count("revert") == 3
    assert found[person].error == "not a contract (no code at the address)"
    assert client.stats.http_requests == 2  # one batch of the 18 calls, one of the 6 code checks


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (abi_string("Wrapped Ether"), "Wrapped Ether"),
        (abi_string(""), ""),
        (abi_string("ü" * 40), "ü" * 40),
        (abi_bytes32("DAI"), "DAI"),
        (abi_bytes32(""), ""),
    ],
)
def test_text_answers_decode(data, text):
    assert decode_text(data) == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty answer"),
        (b"\x00" * 40, "not an ABI string"),
        ((10**6).to_bytes(32, "big") + bytes(32), "offset past"),
        ((32).to_bytes(32, "big") + (99).to_bytes(32, "big"), "length past"),
        (b"\xff" * 32, "not UTF-8"),
        (b"ab\x00cd" + bytes(27), "not a short text"),
    ],
)
def test_garbage_text_answers_are_refused_with_a_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        decode_text(data)


def test_decimals_is_one_small_word():
    assert decode_decimals(abi_uint(6)) == 6
    with pytest.raises(ValueError, match="not a uint8"):
        decode_decimals(abi_uint(256))
    with pytest.raises(ValueError, match="empty answer"):
        decode_decimals(b"")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"source": {"url": "ftp://node", "chain_id": 1}}, "source", "url: an http(s)"),
        ({"source": {"url": "http://127.0.0.1:8545"}}, "source", "chain_id is required"),
        (
            {"source": {"url": "http://127.0.0.1:8545", "chain_id": 1, "typo": 1}},
            "source",
            "unknown keys typo",
        ),
        ({"output_datasets": ["evm.token_list"]}, "output_datasets", "writes evm.tokens"),
        ({"config": {}}, "config", 'partition_mapping to "all"'),
        ({"update_strategy": "append"}, "update_strategy", "use replace"),
    ],
)
def test_a_bad_erc20_metadata_job_is_refused_on_save_with_the_field_named(fields, field, message):
    from django.core.exceptions import ValidationError

    from orchestration.services import job_create
    from orgs.models import platform_org

    options = {
        "operator": "erc20_metadata",
        "runtime": "python",
        "input_datasets": ["evm.transfers"],
        "output_datasets": ["evm.tokens"],
        "config": {"partition_mapping": "all"},
        "source": {"url": "http://127.0.0.1:8545", "chain_id": 1},
        **fields,
    }
    with pytest.raises(ValidationError) as error:
        job_create(org=platform_org(), name="tokens", **options)
    assert message in " ".join(error.value.message_dict[field])
