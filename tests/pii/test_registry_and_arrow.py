"""The registry (jobs' declarations, settings, the admin page) and masking of Arrow query results."""

from __future__ import annotations

import pyarrow as pa
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from orchestration.services import job_create, job_update
from orgs.roles import can_unmask_personal_data
from orgs.services import org_role_create, org_role_membership_add
from pii.masking import REDACTED, UnmaskDenied, keyed_hash, mask_arrow_table, mask_value
from pii.models import PiiAccessLog
from pii.registry import Strategy, dataset_columns
from testkit.factories import UserFactory

pytestmark = pytest.mark.django_db


def _job(org, name="customers", **config):
    return job_create(
        org=org,
        name=name,
        runtime="sql",
        operator="duckdb_sql",
        source={"sql": "select 1 as email"},
        output_datasets=[f"{org.slug}.{name}"],
        config=config,
    )


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (["email"], "object of column -> strategy"),
        ({"email": "scramble"}, "strategy is one of"),
        ({"": "hash"}, "non-empty"),
    ],
)
def test_a_job_declaring_bad_pii_columns_is_refused_on_save(org_a, declared, message):
    with pytest.raises(ValidationError) as refused:
        _job(org_a, pii_columns=declared)
    assert message in " ".join(refused.value.message_dict["config"])


def test_the_registry_holds_what_jobs_and_settings_declare(org_a, settings):
    settings.PII_DATASET_COLUMNS = {"evm.kyc": {"name": "redact"}}
    job = _job(org_a, pii_columns={"email": "hash", "phone": "partial"})
    registered = dataset_columns()
    assert registered["alpha.customers", "email"].strategy == Strategy.HASH
    assert registered["alpha.customers", "phone"].strategy == Strategy.PARTIAL
    assert registered["evm.kyc", "name"].declared_by == "settings"
    job_update(job=job, config={})
    assert ("alpha.customers", "email") not in dataset_columns()


def test_the_registry_page_lists_model_fields_and_dataset_columns(client, reader, org_a):
    _job(org_a, pii_columns={"email": "hash"})
    client.force_login(reader)
    page = client.get(reverse("admin:pii_piiaccesslog_registry"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "users" in text and "email" in text and "job alpha/customers" in text and "Keyed hash" in text


def test_value_strategies():
    assert mask_value("jane@example.com", "partial") == "j***@example.com"
    assert mask_value("Jane Doe", "partial") == "J***"
    assert mask_value("jane@example.com", "redact") == REDACTED
    hashed = mask_value("jane@example.com", "hash")
    assert hashed == mask_value("jane@example.com", "hash") != mask_value("john@example.com", "hash")
    assert "jane" not in hashed
    # Keyed: another key gives another value, so nobody without the key precomputes a dictionary.
    assert keyed_hash("jane@example.com", b"another key") != hashed
    assert mask_value(None, "hash") is None and mask_value("", "redact") == ""


def test_the_hash_key_comes_from_settings(settings):
    settings.PII_HASH_KEY = "key one"
    first = mask_value("jane@example.com", "hash")
    settings.PII_HASH_KEY = "key two"
    assert mask_value("jane@example.com", "hash") != first


@pytest.fixture
def registered(org_a):
    _job(org_a, pii_columns={"email": "hash", "phone": "partial", "name": "redact"})


def _result():
    return pa.table(
        {
            "email": ["a@x.io", "b@x.io", "a@x.io", None],
            "phone": ["+4912345", "+4954321", None, "+4900000"],
            "name": ["Ann", "Bob", "Ann", "Cy"],
            "amount": [1, 2, 3, 4],
        }
    )


COLUMNS = {
    "email": [("alpha.customers", "email")],
    "phone": [("alpha.customers", "phone")],
    "name": [("alpha.customers", "name")],
    "amount": [("alpha.customers", "amount")],
}


def test_arrow_results_are_masked_by_default_and_hashes_still_join(registered, reader):
    masked = mask_arrow_table(_result(), user=reader, columns=COLUMNS, action="query", record_id=None)
    email = masked["email"].to_pylist()
    assert email[0] == email[2] == mask_value("a@x.io", "hash") and email[1] != email[0] and email[3] is None
    assert masked["phone"].to_pylist() == ["+***", "+***", None, "+***"]
    assert masked["name"].to_pylist() == [REDACTED] * 4
    assert masked["amount"].to_pylist() == [1, 2, 3, 4]  # not personal: untouched
    assert masked.column_names == _result().column_names
    # The masked email joins with another masked table on the same value.
    other = mask_arrow_table(
        pa.table({"email": ["a@x.io"], "tier": ["gold"]}),
        user=reader,
        columns={"email": [("alpha.customers", "email")]},
        action="query",
    )
    joined = masked.join(other, "email", join_type="inner")
    assert joined.num_rows == 2 and set(joined["tier"].to_pylist()) == {"gold"}
    assert not PiiAccessLog.objects.exists()


def test_lineage_decides_not_the_result_column_name(registered, reader):
    # SELECT email AS contact, name AS email: the alias carries the source's strategy.
    table = pa.table({"contact": ["a@x.io"], "email": ["Ann"]})
    masked = mask_arrow_table(
        table,
        user=reader,
        columns={"contact": [("alpha.customers", "email")], "email": [("alpha.customers", "name")]},
        action="query",
    )
    assert masked.to_pylist() == [{"contact": mask_value("a@x.io", "hash"), "email": REDACTED}]
    # A column derived from several sources takes the strictest strategy (redact over hash).
    both = mask_arrow_table(
        pa.table({"x": ["a"]}),
        user=reader,
        columns={"x": [("alpha.customers", "email"), ("alpha.customers", "name")]},
        action="query",
    )
    assert both["x"].to_pylist() == [REDACTED]
    # Only the pairs read known: matched by name.
    by_pairs = mask_arrow_table(
        pa.table({"phone": ["+4912345"]}), user=reader, columns=[("alpha.customers", "phone")], action="query"
    )
    assert by_pairs["phone"].to_pylist() == ["+***"]


def test_unmasking_a_result_needs_the_right_and_logs_one_row_per_column(registered, reader, unmasker, org_a):
    viewer = UserFactory(org=org_a, role="viewer")
    with pytest.raises(UnmaskDenied):
        mask_arrow_table(_result(), user=viewer, columns=COLUMNS, action="query", record_id=None, unmask=True)
    assert not PiiAccessLog.objects.exists()

    result_id = "0190d0a6-0000-7000-8000-000000000001"
    with transaction.atomic():
        plain = mask_arrow_table(
            _result(), user=unmasker, columns=COLUMNS, action="export", record_id=result_id, unmask=True
        )
    assert plain.equals(_result())
    rows = sorted(PiiAccessLog.objects.values_list("dataset", "column_name", "action", "user_id"))
    assert rows == [
        ("alpha.customers", column, "export", unmasker.pk) for column in ("email", "name", "phone")
    ]
    assert {str(r) for r in PiiAccessLog.objects.values_list("record_id", flat=True)} == {result_id}


def test_a_read_that_rolls_back_leaves_no_log_row(registered, unmasker):
    with pytest.raises(RuntimeError), transaction.atomic():
        mask_arrow_table(_result(), user=unmasker, columns=COLUMNS, action="query", unmask=True)
        raise RuntimeError("the query's transaction fails after the read")
    assert not PiiAccessLog.objects.exists()


def test_the_unmask_right_can_come_through_an_org_role(org_a):
    from django.contrib.auth.models import Permission

    from orgs.groups import org_role_group

    analyst = UserFactory(org=org_a, role="member")
    assert not can_unmask_personal_data(analyst)
    role = org_role_create(org=org_a, slug="privacy", name="Privacy officers")
    org_role_group(role).permissions.add(Permission.objects.get(codename="unmask_personal_data"))
    org_role_membership_add(role=role, user=analyst)
    analyst = type(analyst).objects.get(pk=analyst.pk)  # permissions are cached per instance
    assert can_unmask_personal_data(analyst)
    analyst.is_active = False
    assert not can_unmask_personal_data(analyst)


def test_api_unmask_values_are_checked(reader):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(reader)
    assert api.get(reverse("user-list"), {"unmask": "perhaps"}).status_code == 400
    assert api.get(reverse("user-list"), {"unmask": "false"}).status_code == 200
    # Filtering on a masked field would reveal it a letter at a time.
    assert api.get(reverse("user-list"), {"email": "jane"}).status_code == 400


def test_the_admin_offers_unmasking_only_to_holders_of_the_right(client, reader, org_a):
    from .conftest import grant

    target = UserFactory(org=org_a, email="jane.doe@example.com")
    url = reverse("admin:orgs_user_change", args=[target.pk])
    client.force_login(reader)
    assert b"Show it unmasked" not in client.get(url).content
    grant(reader, "unmask_personal_data")
    page = client.get(url).content.decode()
    assert "Show it unmasked" in page and "?unmask=1" in page and "jane.doe@example.com" not in page
    assert not PiiAccessLog.objects.exists()


def test_the_registry_page_shows_no_other_orgs_datasets(client, reader, org_a, org_b):
    _job(org_b, name="secret_customers", pii_columns={"email": "hash"})
    client.force_login(reader)
    page = client.get(reverse("admin:pii_piiaccesslog_registry")).content.decode()
    assert "secret_customers" not in page and "bravo" not in page
    assert "users" in page  # model fields are the platform's, shown to every staff user
