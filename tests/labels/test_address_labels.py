"""Address labels: validation and display, visibility per role and org, CSV import, lookup, enrichment."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from labels.models import AddressLabel
from labels.operator import enrich
from labels.services import address_labels_import_csv
from testkit.factories import AddressLabelFactory, OrgFactory, UserFactory

pytestmark = pytest.mark.django_db

A1 = "0x" + "a1" * 20
A2 = "0x" + "b2" * 20
A3 = "0x" + "c3" * 20


def addr(n: int) -> str:
    return f"0x{n:040x}"


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def org_a():
    return OrgFactory(slug="alpha")


@pytest.fixture
def org_b():
    return OrgFactory(slug="bravo")


@pytest.fixture
def people(org_a, org_b):
    return {
        "creator": UserFactory(org=org_a, role="member"),
        "member": UserFactory(org=org_a, role="member"),
        "viewer": UserFactory(org=org_a, role="viewer"),
        "admin": UserFactory(org=org_a, role="admin"),
        "outsider": UserFactory(org=org_b, role="owner"),
    }


# --- addresses ------------------------------------------------------------------------------------


def test_addresses_are_validated_stored_lower_case_and_shown_checksummed(people):
    api = _api(people["creator"])
    checksummed = to_checksum_address(A1)
    created = api.post(
        reverse("address-label-list"), {"address": checksummed, "label": "Exchange"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["address"] == checksummed
    assert AddressLabel.objects.get().address == A1
    upper = api.post(
        reverse("address-label-list"), {"address": "0x" + "B2" * 20, "label": "x"}, format="json"
    )
    assert upper.status_code == 201 and AddressLabel.objects.filter(address=A2).exists()

    wrong_checksum = checksummed[:-1] + (checksummed[-1].swapcase() if checksummed[-1].isalpha() else "F")
    bad = {
        "0x1234": "not an EVM address",
        "a1" * 21: "not an EVM address",
        "0x" + "g1" * 20: "not an EVM address",
        wrong_checksum: "checksum",
    }
    for address, reason in bad.items():
        response = api.post(reverse("address-label-list"), {"address": address, "label": "x"}, format="json")
        assert response.status_code == 400, address
        assert reason in str(response.json()), response.json()
    # The database keeps the stored form whatever path writes.
    with pytest.raises(Exception, match="address_labels_address_stored_form"):
        AddressLabel.objects.create(
            org=people["creator"].org, user=people["creator"], address=checksummed, label="y"
        )


# --- visibility ------------------------------------------------------------------------------------


@pytest.fixture
def labels(people, org_b):
    creator = people["creator"]
    other_member = UserFactory(org=org_b, role="member")
    return {
        "private": AddressLabelFactory(
            org=creator.org, user=creator, address=A1, label="mine", visibility="private"
        ),
        "org": AddressLabelFactory(org=creator.org, user=creator, address=A1, label="ours", visibility="org"),
        "public": AddressLabelFactory(
            org=creator.org, user=creator, address=A1, label="everyone's", visibility="public"
        ),
        "b_org": AddressLabelFactory(
            org=org_b, user=other_member, address=A1, label="bravo only", visibility="org"
        ),
        "b_public": AddressLabelFactory(
            org=org_b, user=other_member, address=A1, label="bravo public", visibility="public"
        ),
    }


VISIBLE = {
    "creator": {"private", "org", "public", "b_public"},
    "admin": {"private", "org", "public", "b_public"},
    "member": {"org", "public", "b_public"},
    "viewer": {"org", "public", "b_public"},
    "outsider": {"public", "b_org", "b_public"},
}


@pytest.mark.parametrize("who", sorted(VISIBLE))
def test_label_visibility_per_role_and_org_in_the_list_and_the_lookup(people, labels, who):
    api = _api(people[who])
    listed = {
        row["label"] for row in api.get(reverse("address-label-list"), {"page_size": 100}).json()["results"]
    }
    expected = {labels[name].label for name in VISIBLE[who]}
    assert listed == expected
    looked_up = api.post(reverse("address-label-lookup"), {"addresses": [A1]}, format="json").json()
    assert {label["label"] for label in looked_up["results"][0]["labels"]} == expected


@pytest.mark.parametrize(
    ("who", "writable"),
    [
        ("creator", {"private", "org", "public"}),
        ("admin", {"private", "org", "public"}),
        ("member", set()),
        ("viewer", set()),
        ("outsider", {"b_org", "b_public"}),  # org B's owner, on org B's labels
    ],
)
def test_only_the_creator_and_org_admins_change_a_label(people, labels, who, writable):
    api = _api(people[who])
    for name, label in labels.items():
        response = api.patch(
            reverse("address-label-detail", args=[label.pk]), {"label": f"renamed {name}"}, format="json"
        )
        if name in writable:
            assert response.status_code == 200, (name, response.content)
        else:
            assert response.status_code in (403, 404), (name, response.status_code)
            assert AddressLabel.objects.get(pk=label.pk).label == label.label


# --- lookup --------------------------------------------------------------------------------------


def test_lookup_of_a_thousand_addresses_is_one_query(people):
    creator = people["creator"]
    AddressLabel.objects.bulk_create(
        AddressLabel(org=creator.org, user=creator, address=addr(n), label=f"l{n}", visibility="org")
        for n in range(0, 1000, 2)
    )
    asked = [to_checksum_address(addr(n)) for n in range(1000)]
    api = _api(creator)
    with CaptureQueriesContext(connection) as queries:
        response = api.post(reverse("address-label-lookup"), {"addresses": asked}, format="json")
    assert response.status_code == 200
    assert sum("address_labels" in q["sql"] for q in queries.captured_queries) == 1
    results = response.json()["results"]
    assert [r["address"] for r in results] == asked  # every address, in the order asked, checksummed
    assert results[2]["labels"] == [{"label": "l2", "visibility": "org", "org": "alpha"}]
    assert results[3]["labels"] == []


def test_lookup_refuses_bad_input_with_field_errors(people):
    api = _api(people["viewer"])
    url = reverse("address-label-lookup")
    too_many = api.post(url, {"addresses": [addr(n) for n in range(1001)]}, format="json")
    assert too_many.status_code == 400
    bad = api.post(url, {"addresses": [A1, "0xnope", A2]}, format="json")
    assert bad.status_code == 400 and "1" in str(bad.json()) and "not an EVM address" in str(bad.json())
    for body in ({}, {"addresses": []}, {"addresses": "0x"}, {"addresses": [None]}, [1, 2]):
        assert api.post(url, body, format="json").status_code == 400, body


# --- CSV import ----------------------------------------------------------------------------------

CSV = f"""address,label,visibility
{to_checksum_address(A1)},Binance hot wallet,public
{A2},Team multisig,
0x1234,too short,org
{A3},,org
{A3},Deployer,secret
{A2},Team multisig,org
{"0x" + "D4" * 20},  Whale  ,private
"""


def test_a_csv_with_bad_rows_imports_the_good_ones_and_reports_the_others(people):
    report = address_labels_import_csv(user=people["creator"], lines=io.StringIO(CSV))
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, "'0x1234' is not an EVM address (0x followed by 40 hex digits)"),
        (5, "the label is empty"),
        (6, "visibility 'secret' is not one of private, org, public"),
        (7, "repeats the address and label of line 3"),
    ]
    stored = set(AddressLabel.objects.values_list("address", "label", "visibility"))
    assert stored == {
        (A1, "Binance hot wallet", "public"),
        (A2, "Team multisig", "org"),
        ("0x" + "d4" * 20, "Whale", "private"),
    }


def test_re_importing_changes_nothing_and_a_new_visibility_is_an_update(people):
    creator = people["creator"]
    address_labels_import_csv(user=creator, lines=io.StringIO(CSV))
    before = list(AddressLabel.objects.order_by("id").values())
    again = address_labels_import_csv(user=creator, lines=io.StringIO(CSV))
    assert (again.created, again.updated, again.unchanged, len(again.rejected)) == (0, 0, 3, 4)
    assert list(AddressLabel.objects.order_by("id").values()) == before

    changed = address_labels_import_csv(
        user=creator, lines=io.StringIO(f"label,address\nTeam multisig,{A2}\n"), default_visibility="public"
    )
    assert (changed.created, changed.updated) == (0, 1)
    assert AddressLabel.objects.get(address=A2).visibility == "public"


def test_an_import_never_changes_a_label_the_importer_may_not_change(people):
    address_labels_import_csv(user=people["creator"], lines=io.StringIO(f"address,label\n{A1},Shared\n"))
    report = address_labels_import_csv(
        user=people["member"],
        lines=io.StringIO(f"address,label,visibility\n{A1},Shared,public\n{A1},Shared,org\n"),
    )
    assert report.rejected[0].line == 2 and "may not change" in report.rejected[0].reason
    assert AddressLabel.objects.get().visibility == "org"


def test_the_command_reports_rejected_rows_and_exits_non_zero(people, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(CSV)
    out = io.StringIO()
    with pytest.raises(CommandError, match="4 row"):
        call_command("import_address_labels", str(path), "--user", people["creator"].external_id, stdout=out)
    printed = out.getvalue()
    assert "line 4: '0x1234' is not an EVM address" in printed and "3 created" in printed
    assert AddressLabel.objects.count() == 3

    path.write_text(f"address,label\n{A1},Binance hot wallet\n")
    out = io.StringIO()
    call_command("import_address_labels", str(path), "--user", people["creator"].external_id, stdout=out)
    assert "0 created, 1 updated" in out.getvalue()  # visibility public -> org (the default)

    for bad_args, message in [
        ([str(tmp_path / "missing.csv")], "cannot read"),
        ([str(path), "--user", "nobody"], "no active user"),
    ]:
        args = bad_args if "--user" in bad_args else [*bad_args, "--user", people["creator"].external_id]
        with pytest.raises(CommandError, match=message):
            call_command("import_address_labels", *args)
    path.write_text("addr,name\n")
    with pytest.raises(CommandError, match="header must name"):
        call_command("import_address_labels", str(path), "--user", people["creator"].external_id)
    path.write_bytes(b"address,label\n\xff\xfe\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_address_labels", str(path), "--user", people["creator"].external_id)
    with pytest.raises(CommandError, match="may not create"):
        call_command("import_address_labels", str(path), "--user", people["viewer"].external_id)


def test_the_admin_imports_a_csv_and_shows_the_report(client, people):
    staff = people["creator"]
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    url = reverse("admin:labels_addresslabel_import")
    assert client.get(url).status_code == 200
    assert b"Import CSV" in client.get(reverse("admin:labels_addresslabel_changelist")).content
    upload = SimpleUploadedFile("labels.csv", CSV.encode(), content_type="text/csv")
    page = client.post(url, {"file": upload, "default_visibility": "org"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "3 created, 0 updated, 0 unchanged, 4 rejected" in text
    assert "the label is empty" in text and "repeats the address and label of line 3" in text
    assert AddressLabel.objects.count() == 3
    changelist = client.get(reverse("admin:labels_addresslabel_changelist")).content.decode()
    assert to_checksum_address(A1) in changelist

    bad_file = client.post(
        url, {"file": SimpleUploadedFile("x.csv", b"nothing here\n"), "default_visibility": "org"}
    )
    assert bad_file.status_code == 200 and "header must name" in bad_file.content.decode()

    viewer = people["viewer"]
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    assert client.get(url).status_code == 403


# --- enrichment ----------------------------------------------------------------------------------


def test_enrichment_joins_only_the_labels_visible_to_the_jobs_org(people, labels, org_a):
    transfers = pa.table(
        {
            "from_address": [A1, A2, None, A1.upper().replace("0X", "0x")],
            "to_address": [A2, A1, A1, A3],
            "value": [1, 2, 3, 4],
        }
    )
    enriched = enrich(transfers, address_columns=["from_address", "to_address"], org=org_a)
    # Org A's org and public labels, and org B's public one; never a private label, never B's org label.
    expected = "bravo public, everyone's, ours"
    assert enriched["from_address_label"].to_pylist() == [expected, None, None, expected]
    assert enriched["to_address_label"].to_pylist() == [None, expected, expected, None]
    assert enriched["value"].to_pylist() == [1, 2, 3, 4]  # rows keep their order
    other = enrich(transfers, address_columns=["from_address"], org=OrgFactory(slug="charlie"))
    assert other["from_address_label"].to_pylist()[0] == "bravo public, everyone's"


def test_the_query_services_label_table_follows_the_users_visibility(people, labels):
    from labels.selectors import address_labels_table_for_user

    for who, expected in VISIBLE.items():
        table = address_labels_table_for_user(people[who])
        assert set(table["label"].to_pylist()) == {labels[name].label for name in expected}, who
        assert table.column_names == ["address", "label", "visibility", "org"]
