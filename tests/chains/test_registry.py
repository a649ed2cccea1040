"""The chain registry in the platform org's settings: checked on every write with the entry and field
named, synced into one ingestion job per chain (created, updated, paused, resumed), and driven from
``manage.py chains``."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from chains.registry import ChainEntry, chain_registry, registry_put, registry_save
from chains.services import chains_sync
from orchestration.models import Job
from orchestration.services import job_create
from orgs.models import platform_org
from testkit.factories import OrgFactory, sql_job

pytestmark = pytest.mark.django_db

BASE = {"name": "base", "chain_id": 8453}


def save_registry(entries: list[dict]):
    platform = platform_org()
    platform.settings = {**platform.settings, "chains": entries}
    platform.save()
    return platform


def refused(entries: list[dict]) -> str:
    with pytest.raises(ValidationError) as caught:
        save_registry(entries)
    return " ".join(caught.value.message_dict["settings"])


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "base", "chain_id": 0}], "chains.0.chain_id"),
        ([{"name": "base"}], "'chain_id' is a required property"),
        ([{**BASE, "confirmatons": 3}], "Additional properties"),
        ([{**BASE, "rpc_url": "ftp://node"}], "chains[0] (base).rpc_url: an http(s) JSON-RPC endpoint"),
        ([{**BASE, "start_block": 10, "end_block": 5}], "chains[0] (base).end_block: at least start_block"),
        ([BASE, {"name": "base", "chain_id": 10}], "chains[1] (base).name: 'base' is registered twice"),
        (
            [BASE, {"name": "evm", "chain_id": 8453}],
            "chains[1] (evm).chain_id: 8453 is already the chain 'base'",
        ),
    ],
)
def test_a_bad_entry_is_refused_with_the_entry_and_field_named(entries, message):
    assert message in refused(entries)
    assert platform_org().settings.get("chains", []) == []
    assert not Job.objects.exists()


def test_a_chain_outside_the_system_namespaces_names_the_setting_that_allows_it():
    message = refused([{"name": "optimism", "chain_id": 10}])
    assert "chains[0] (optimism).name: 'optimism' is not a system namespace" in message
    assert "CHAINLAKE_SYSTEM_NAMESPACES" in message


def test_only_the_platform_org_holds_the_registry():
    org = OrgFactory(slug="acme")
    org.settings = {"chains": [BASE]}
    with pytest.raises(ValidationError) as caught:
        org.full_clean()
    assert "only the platform org" in " ".join(caught.value.message_dict["settings"])


def test_saving_the_registry_creates_one_ingestion_job_per_chain_in_its_namespace():
    save_registry(
        [{"name": "evm", "chain_id": 1}, {**BASE, "rpc_url": "http://127.0.0.1:9", "confirmations": 3}]
    )

    evm, base = Job.objects.get(name="ingest_evm"), Job.objects.get(name="ingest_base")
    assert (evm.org, evm.operator, evm.output_datasets) == (
        platform_org(),
        "synthetic_chain",
        ["evm.blocks", "evm.transactions", "evm.logs"],
    )
    assert evm.config["chain_id"] == 1
    assert (base.operator, base.activation, base.execution_strategy) == ("evm_rpc", "schedule", "incremental")
    assert base.output_datasets == ["base.blocks", "base.transactions", "base.logs"]
    assert {k: base.source[k] for k in ("url", "chain_id", "confirmations", "max_reorg_depth")} == {
        "url": "http://127.0.0.1:9",
        "chain_id": 8453,
        "confirmations": 3,
        "max_reorg_depth": 64,
    }
    hashes = {job.name: job.config_hash for job in Job.objects.all()}
    report = chains_sync()
    assert (report.created, report.updated, sorted(report.unchanged)) == (
        [],
        [],
        ["ingest_base", "ingest_evm"],
    )
    assert {job.name: job.config_hash for job in Job.objects.all()} == hashes


def test_an_edited_entry_updates_its_job_and_keeps_what_staff_changed_elsewhere():
    save_registry([{**BASE, "rpc_url": "http://127.0.0.1:9"}])
    job = Job.objects.get(name="ingest_base")
    job.config = {"schedule": "*/5 * * * *"}
    job.save()

    registry_put(ChainEntry(name="base", chain_id=8453, rpc_url="http://127.0.0.1:10", reorg_window=20))

    job.refresh_from_db()
    assert (job.source["url"], job.source["max_reorg_depth"]) == ("http://127.0.0.1:10", 20)
    assert job.config == {"schedule": "*/5 * * * *"}


def test_a_removed_chain_is_paused_and_resumed_when_registered_again():
    save_registry([{"name": "evm", "chain_id": 1}, BASE])
    save_registry([{"name": "evm", "chain_id": 1}])
    assert not Job.objects.get(name="ingest_base").active
    assert Job.objects.get(name="ingest_evm").active

    platform = registry_save([ChainEntry(name="evm", chain_id=1), ChainEntry(name="base", chain_id=8453)])
    assert platform.settings["chains"][1] == BASE  # stored without the defaults
    assert Job.objects.get(name="ingest_base").active


def test_a_source_made_before_the_registry_is_taken_over_not_duplicated():
    legacy = job_create(
        org=platform_org(),
        name="evm_source",
        operator="synthetic_chain",
        runtime="source",
        output_datasets=["evm.blocks", "evm.transactions", "evm.logs"],
        activation="reactive",
        config={"end_block": 4999, "seed": "demo", "layout": "evm"},
    )
    save_registry([{"name": "evm", "chain_id": 1}])
    assert list(Job.objects.values_list("name", flat=True)) == ["evm_source"]
    legacy.refresh_from_db()
    assert legacy.config == {"end_block": 4999, "seed": "demo", "layout": "evm"}  # defaults already matched


def test_a_namespace_another_job_writes_is_a_sync_error_for_that_chain_only():
    sql_job(platform_org(), "squatter", "SELECT 1 AS block_number", [], "base.blocks")
    with pytest.raises(
        CommandError, match=r"chain base: .*base.blocks is already produced by active job squatter"
    ):
        call_command("chains", "add", "base", "--chain-id", "8453")
    # the registry holds base; evm is unaffected and still syncs
    registry_put(ChainEntry(name="evm", chain_id=1))
    assert Job.objects.filter(name="ingest_evm").exists()
    assert not Job.objects.filter(name="ingest_base").exists()


def test_the_command_adds_lists_and_syncs():
    out = io.StringIO()
    call_command("chains", "add", "base", "--chain-id", "8453", "--rpc-url", "http://127.0.0.1:9", stdout=out)
    assert "Registered base (chain 8453)." in out.getvalue()
    assert Job.objects.get(name="ingest_base").source["url"] == "http://127.0.0.1:9"
    assert [(c.name, c.chain_id, c.rpc_url) for c in chain_registry()] == [
        ("base", 8453, "http://127.0.0.1:9")
    ]

    out = io.StringIO()
    call_command("chains", "list", stdout=out)
    assert "base\tchain 8453\thttp://127.0.0.1:9" in out.getvalue()
    assert "ingest_base: active" in out.getvalue()

    out = io.StringIO()
    call_command("chains", "sync", stdout=out)
    assert out.getvalue().strip() == "unchanged ingest_base"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "optimism", "--chain-id", "10"], "CHAINLAKE_SYSTEM_NAMESPACES"),
        (["add", "base", "--chain-id", "8453", "--confirmations", "-1"], "chains.0.confirmations"),
        (["add", "base", "--chain-id", "8453", "--rpc-url", "node:8545"], "chains[0] (base).rpc_url"),
    ],
)
def test_the_command_refuses_bad_input_with_a_clear_error(args, message):
    with pytest.raises(
        CommandError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        call_command("chains", *args)
    assert not Job.objects.exists()


def test_a_missing_argument_is_a_command_error():
    with pytest.raises(CommandError, match="--chain-id"):
        call_command("chains", "add", "base")


def admin_save_settings(admin_client, settings_json: str):
    platform = platform_org()
    url = reverse("admin:orgs_org_change", args=[platform.pk])
    return admin_client.post(url, {"name": platform.name, "slug": platform.slug, "settings": settings_json})


def test_the_admin_refuses_a_bad_registry_on_the_form_and_syncs_a_good_one(admin_client):
    response = admin_save_settings(
        admin_client, json.dumps({"chains": [{"name": "optimism", "chain_id": 10}]})
    )
    assert response.status_code == 200  # the form again, with the error on the field
    errors = " ".join(response.context["adminform"].form.errors["settings"])
    assert "chains[0] (optimism).name" in errors and "CHAINLAKE_SYSTEM_NAMESPACES" in errors
    assert not Job.objects.filter(name__startswith="ingest_").exists()

    response = admin_save_settings(admin_client, json.dumps({"chains": [BASE]}))
    assert response.status_code == 302
    assert Job.objects.get(name="ingest_base").output_datasets == [
        "base.blocks",
        "base.transactions",
        "base.logs",
    ]
