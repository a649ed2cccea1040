"""Running a saved query lands on the console with the run it made: that run pinned at the top of
the saved query's result history as "this run", a reload showing the run again (never running the
query again), and nobody seeing a run the result rules hide from them."""

import re

import pytest

from queries.models import QueryResult
from queries.services import query_execute
from testkit.factories import SavedQueryFactory, UserFactory

pytestmark = pytest.mark.django_db
CONSOLE = "/admin/queries/savedquery/console/"


def staff(org, role="member"):
    return UserFactory(org=org, role=role, is_staff=True)


def history_ids(html: str) -> list[str]:
    table = html.split('id="result-history"', 1)[1]
    return re.findall(r'data-result-id="([0-9a-f-]+)"', table)


def marked(html: str) -> list[str]:
    return re.findall(r'data-result-id="([0-9a-f-]+)" data-this-run="1"', html)


@pytest.fixture
def saved(org_a, evm_blocks):
    return SavedQueryFactory(org=org_a, query="SELECT count(*) AS n FROM evm.blocks", visibility="org")


def test_the_console_shows_the_saved_querys_history_with_this_run_on_top(client, org_a, saved):
    user = staff(org_a)
    older = query_execute(user=user, saved_query=saved)
    run = query_execute(user=user, saved_query=saved, force=True)
    newer = query_execute(user=user, saved_query=saved, force=True)
    client.force_login(user)

    landing = client.get(f"{CONSOLE}?saved={saved.pk}&result={run.pk}")
    assert landing.status_code == 200
    html = landing.content.decode()
    assert history_ids(html) == [str(run.pk), str(newer.pk), str(older.pk)]
    assert marked(html) == [str(run.pk)] and "this run" in html
    # The page shows that run, and does not run the query again.
    assert f'data-this-run="{run.pk}"' in html and 'data-autorun=""' in html
    assert QueryResult.objects.filter(saved_query=saved).count() == 3

    # Before any run: the history is there, nothing marked.
    fresh = client.get(f"{CONSOLE}?saved={saved.pk}&run=1").content.decode()
    assert history_ids(fresh) == [str(newer.pk), str(run.pk), str(older.pk)] and not marked(fresh)
    assert 'data-autorun="1"' in fresh
    assert f'data-history-url="/admin/queries/savedquery/{saved.pk}/results/"' in fresh


def test_the_history_fragment_marks_the_run_as_it_progresses(client, org_a, saved):
    user = staff(org_a)
    client.force_login(user)
    queued = query_execute(user=user, saved_query=saved, mode="async")  # no worker: stays queued
    url = f"/admin/queries/savedquery/{saved.pk}/results/"
    html = client.get(f"{url}?this_run={queued.pk}").content.decode()
    assert history_ids('id="result-history"' + html) == [str(queued.pk)]
    assert marked(html) == [str(queued.pk)] and "cl-badge--queued" in html
    QueryResult.objects.filter(pk=queued.pk).update(status="succeeded", row_count=1, duration_ms=5)
    html = client.get(f"{url}?this_run={queued.pk}").content.decode()
    assert "cl-badge--succeeded" in html and marked(html) == [str(queued.pk)]
    assert client.get(f"{url}?this_run=not-a-uuid").status_code == 404


def test_nobody_sees_a_run_the_result_rules_hide_from_them(client, org_a, org_b, saved):
    runner, colleague = staff(org_a), staff(org_a)
    run = query_execute(user=runner, saved_query=saved)
    other_query = SavedQueryFactory(org=org_a, query="SELECT 1 AS one")
    client.force_login(colleague)
    # A member sees only their own results: not the runner's, not even by its id.
    assert client.get(f"{CONSOLE}?saved={saved.pk}&result={run.pk}").status_code == 404
    assert client.get(f"/admin/queries/savedquery/{saved.pk}/results/?this_run={run.pk}").status_code == 404
    listed = client.get(f"/admin/queries/savedquery/{saved.pk}/results/").content.decode()
    assert str(run.pk) not in listed and "Not run yet." in listed
    # A run is only ever this run of its own saved query.
    client.force_login(runner)
    elsewhere = f"/admin/queries/savedquery/{other_query.pk}/results/?this_run={run.pk}"
    assert client.get(elsewhere).status_code == 404
    # Another org knows neither the saved query nor the run.
    client.force_login(staff(org_b, role="admin"))
    assert client.get(f"/admin/queries/savedquery/{saved.pk}/results/").status_code == 404
    assert client.get(f"{CONSOLE}?saved={saved.pk}&result={run.pk}").status_code == 404
    # An org admin sees the org's masked runs, as on the saved query's page.
    client.force_login(staff(org_a, role="admin"))
    html = client.get(f"/admin/queries/savedquery/{saved.pk}/results/?this_run={run.pk}").content.decode()
    assert marked(html) == [str(run.pk)]
