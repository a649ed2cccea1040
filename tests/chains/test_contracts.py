"""Contracts registered by ABI: the registration on every surface (service, API, command, admin),
its rights and tenancy, and the decoding job end to end on synthetic chain data, checked against an
independent decoder (eth-abi)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from eth_abi import decode as abi_decode
from rest_framework.test import APIClient

from chains.contracts import contract_register, snake
from chains.operators.evm_decode import EvmDecodeOperator
from orchestration.models import Job
from orchestration.services import plan_active_jobs
from orgs.models import User
from testkit.factories import OrgFactory, UserFactory, synthetic_source_job
from tests.orchestration.conftest import drain
from versioning.models import PartitionVersion
from versioning.storage import lake

pytestmark = pytest.mark.django_db

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@pytest.fixture(autouse=True)
def lake_in_tmp(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.TASK_RETRY_BASE_SECONDS = 0


@pytest.fixture
def admin_a():
    return UserFactory(role=User.Role.ADMIN, is_staff=True, org=OrgFactory(slug="org-a"))


def read_dataset(name: str) -> pa.Table:
    store = lake()
    tables = [
        store.read_table(pv.location)
        for pv in PartitionVersion.objects.filter(dataset=name).order_by("partition_key")
    ]
    return pa.concat_tables(tables) if tables else pa.table({})


def test_snake_case_names():
    assert snake("TransferSingle") == "transfer_single"
    assert snake("Swap") == "swap"
    assert snake("getReserves") == "get_reserves"


def test_a_standard_registers_one_dataset_per_event(admin_a):
    job = contract_register(user=admin_a, name="usdc", chain="evm", standard="erc20")
    assert job.operator == "evm_decode"
    assert job.input_datasets == ["evm.logs"]
    assert job.output_datasets == [
        "org-a.usdc_evt_transfer",
        "org-a.usdc_evt_approval",
        "org-a.usdc_decode_errors",
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"standard": "erc20", "name": "USDC"}, "name"),
        ({"standard": "erc20", "address": "0x1234"}, "address"),
        ({"standard": "erc99"}, "standard"),
        ({}, "abi"),
        ({"standard": "erc20", "abi": []}, "abi"),
        ({"abi": [{"type": "event", "name": "X", "inputs": [{"name": "a", "type": "uint7"}]}]}, "abi"),
        ({"abi": "not a list"}, "abi"),
        ({"standard": "erc20", "events": ["Nope"]}, "events"),
        ({"standard": "erc20", "functions": ["nope"]}, "functions"),
    ],
)
def test_a_bad_registration_is_a_field_error_and_saves_nothing(admin_a, fields, field):
    with pytest.raises(ValidationError) as raised:
        contract_register(user=admin_a, chain="evm", **{"name": "usdc", **fields})
    assert field in raised.value.message_dict
    assert not Job.objects.exists()


def test_a_chain_the_org_may_not_read_is_refused(admin_a):
    with pytest.raises(ValidationError) as raised:
        contract_register(user=admin_a, name="usdc", chain="other-org", standard="erc20")
    assert "input_datasets" in raised.value.message_dict


def test_api_registers_lists_and_keeps_orgs_apart(admin_a):
    api = APIClient()
    api.force_authenticate(admin_a)
    created = api.post(
        "/api/v1/contracts/", {"name": "weth", "chain": "evm", "standard": "weth"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert "org-a.weth_evt_deposit" in created.json()["output_datasets"]
    bad = api.post(
        "/api/v1/contracts/", {"name": "x", "chain": "evm", "abi": [{"type": "event"}]}, format="json"
    )
    assert bad.status_code == 400
    assert "abi" in json.dumps(bad.json())
    listed = api.get("/api/v1/contracts/").json()["results"]
    assert [c["name"] for c in listed] == ["weth"]
    assert api.get(f"/api/v1/contracts/{listed[0]['id']}/").json()["standard"] == "weth"

    other = APIClient()
    other.force_authenticate(UserFactory(role=User.Role.ADMIN, org=OrgFactory(slug="org-b")))
    assert other.get("/api/v1/contracts/").json()["results"] == []
    assert other.get(f"/api/v1/contracts/{listed[0]['id']}/").status_code == 404

    viewer = APIClient()
    viewer.force_authenticate(UserFactory(role=User.Role.VIEWER, org=admin_a.org))
    refused = viewer.post(
        "/api/v1/contracts/", {"name": "dai", "chain": "evm", "standard": "erc20"}, format="json"
    )
    assert refused.status_code == 403
    assert Job.objects.count() == 1


def test_command_registers_and_reports_bad_input(admin_a, tmp_path, capsys):
    call_command(
        "register_contract", "token", "--user", admin_a.external_id, "--chain", "evm", "--standard", "erc20"
    )
    assert Job.objects.filter(name="decode_token").exists()
    abi = tmp_path / "abi.json"
    abi.write_text("{not json")
    with pytest.raises(CommandError, match="--abi"):
        call_command(
            "register_contract", "broken", "--user", admin_a.external_id, "--chain", "evm", "--abi", str(abi)
        )
    with pytest.raises(CommandError, match="standard"):
        call_command(
            "register_contract", "t2", "--user", admin_a.external_id, "--chain", "evm", "--standard", "nope"
        )
    assert Job.objects.count() == 1


def test_admin_page_registers_shows_field_errors_and_keeps_orgs_apart(client, admin_a):
    client.force_login(admin_a)
    url = reverse("admin:chains_contracts")
    page = client.post(url, {"name": "pair", "chain": "evm", "standard": "", "abi": "[{"})
    assert page.status_code == 200
    assert "not JSON" in page.content.decode()
    page = client.post(url, {"name": "pair", "chain": "evm", "standard": "uniswap_v2_pair"}, follow=True)
    assert page.status_code == 200
    assert "org-a.pair_evt_swap" in page.content.decode()
    client.force_login(UserFactory(role=User.Role.ADMIN, is_staff=True, org=OrgFactory(slug="org-b")))
    assert "org-a.pair" not in client.get(url).content.decode()


def test_decoding_job_matches_eth_abi_and_keeps_undecodable_logs(admin_a):
    synthetic_source_job(end_block=199, partition_size=100, config={"layout": "evm"}, activation="reactive")
    # ERC-20 Transfer and ERC-721 Transfer share topic0; ERC-20 logs (3 topics, value in data) do
    # not fit the ERC-721 event (4 topics, no data): every one must land in the error dataset.
    contract_register(user=admin_a, name="tokens", chain="evm", standard="erc20", events=["Transfer"])
    contract_register(user=admin_a, name="nfts", chain="evm", standard="erc721", events=["Transfer"])
    plan_active_jobs()
    drain()

    logs = read_dataset("evm.logs").to_pylist()
    transfer_logs = [row for row in logs if row["topic0"] == TRANSFER_TOPIC]
    assert transfer_logs, "the synthetic chain emits ERC-20 transfers"

    decoded = read_dataset("org-a.tokens_evt_transfer").to_pylist()
    assert len(decoded) == len(transfer_logs)
    by_key = {(row["block_number"], row["log_index"]): row for row in decoded}
    for log in transfer_logs:
        row = by_key[(log["block_number"], log["log_index"])]
        (value,) = abi_decode(["uint256"], bytes.fromhex(log["data"][2:]))
        assert row["value"] == str(value)
        assert row["from"] == "0x" + log["topic1"][-40:]
        assert row["to"] == "0x" + log["topic2"][-40:]
        assert row["contract_address"] == log["address"]
        assert row["transaction_hash"] == log["transaction_hash"]

    assert read_dataset("org-a.tokens_decode_errors").num_rows == 0
    errors = read_dataset("org-a.nfts_decode_errors").to_pylist()
    assert len(errors) == len(transfer_logs)
    assert all(error["reason"] for error in errors)
    assert read_dataset("org-a.nfts_evt_transfer").num_rows == 0


@pytest.mark.parametrize(
    "config",
    [
        {"contract": "c", "standard": "erc20", "events": 5},
        {"contract": "c", "standard": "erc20", "events": [["Transfer"]]},
        {"contract": "c", "standard": "erc20", "functions": 5},
        {"contract": "c", "standard": "erc20", "functions": [{"a": 1}]},
        {"contract": "c", "standard": ["erc20"]},
        {"contract": "c", "standard": "erc20", "address": 12},
        {"contract": 7, "abi": {"abi": 5}},
        "not an object",
    ],
)
def test_a_decoding_job_with_junk_config_through_the_jobs_api_is_a_400(admin_a, config):
    api = APIClient()
    api.force_authenticate(admin_a)
    response = api.post(
        "/api/v1/jobs/",
        {
            "name": "decode_c",
            "runtime": "python",
            "operator": "evm_decode",
            "input_datasets": ["evm.logs"],
            "output_datasets": ["org-a.c_evt_transfer", "org-a.c_decode_errors"],
            "config": config,
            "source": {},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"contract": "c", "standard": "erc20", "events": 5}, "events"),
        ({"contract": "c", "standard": "erc20", "events": [["Transfer"]]}, "events"),
        ({"contract": "c", "standard": "erc20", "functions": 5}, "functions"),
        ({"contract": "c", "standard": "erc20", "functions": [{"a": 1}]}, "functions"),
        ({"contract": "c", "standard": "erc20", "address": 12}, "address"),
        ("not an object", "abi"),
    ],
)
def test_the_operator_names_the_field_of_junk_config_instead_of_crashing(admin_a, config, field):
    job = Job(org=admin_a.org, operator="evm_decode", input_datasets=["evm.logs"], config=config)
    errors = EvmDecodeOperator().validate(job)
    assert field in errors["config"]
