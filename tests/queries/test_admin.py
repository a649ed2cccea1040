"""The admin's SQL console, datasets page and saved query page."""

from queries.services import query_execute
from testkit.factories import SavedQueryFactory, UserFactory
from tests.queries.conftest import blocks_table, publish


def staff(org, role="member"):
    return UserFactory(org=org, role=role, is_staff=True)


def test_console_lists_readable_datasets_with_columns_and_local_scripts(client, org_a, org_b, evm_blocks):
    publish("beta.private", "all", blocks_table(0, 1))
    client.force_login(staff(org_a))
    page = client.get("/admin/queries/savedquery/console/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-name="evm.blocks"' in html
    assert "<code>gas_used</code>" in html
    assert "beta.private" not in html
    assert "/static/queries/console.js" in html and "/static/queries/chart.js" in html
    import re

    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert sources and all(src.startswith("/static/") for src in sources)


def test_console_opens_only_visible_saved_queries(client, org_a, org_b, evm_blocks):
    user = staff(org_a)
    client.force_login(user)
    theirs = SavedQueryFactory(org=org_b, query="SELECT 1 AS secret_query_text", visibility="org")
    mine = SavedQueryFactory(org=org_a, user=user, query="SELECT 2 AS mine")
    assert client.get(f"/admin/queries/savedquery/console/?saved={theirs.pk}").status_code == 404
    assert client.get("/admin/queries/savedquery/console/?saved=not-a-uuid").status_code == 404
    page = client.get(f"/admin/queries/savedquery/console/?saved={mine.pk}&run=1").content.decode()
    assert "SELECT 2 AS mine" in page
    assert 'data-autorun="1"' in page


def test_saved_query_page_runs_it_and_lists_its_history(client, org_a, evm_blocks):
    user = staff(org_a)
    saved = SavedQueryFactory(org=org_a, user=user, query="SELECT count(*) AS n FROM evm.blocks")
    query_execute(user=user, saved_query=saved)
    query_execute(user=user, saved_query=saved, force=True)
    client.force_login(user)
    html = client.get(f"/admin/queries/savedquery/{saved.pk}/change/").content.decode()
    assert f"/admin/queries/savedquery/console/?saved={saved.pk}&amp;run=1" in html
    assert html.count("succeeded") >= 2
    assert 'id="result-history"' in html


def test_datasets_page(client, org_a, evm_blocks):
    client.force_login(staff(org_a))
    html = client.get("/admin/queries/savedquery/datasets/").content.decode()
    assert "evm.blocks" in html and "gas_used" in html
