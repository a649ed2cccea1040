"""Rebuild: up-to-date partitions recomputed and republished on request, through the service, the
API, the admin's confirmation pages and ``manage.py rebuild``; refused cleanly when it cannot be
done, for another org's job (unknown to the caller) and for a role without the right to run it."""

from __future__ import annotations

import io
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from orchestration.models import Job, Task
from orchestration.services import job_plan, job_rebuild, job_run_now, rebuild_plan
from testkit.factories import JobFactory, OrgFactory, UserFactory, sql_job, synthetic_source_job
from versioning.models import PartitionVersion

KEYS = ["blocks_00000000", "blocks_00000100"]


@pytest.fixture
def pipeline(db, run_tasks):
    """chain (platform source) -> evm.blocks -> acme/copy -> acme.copy -> acme/stats, all built."""
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=199, partition_size=100)
    copy = sql_job(org, "copy", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "acme.copy")
    stats = sql_job(
        org,
        "stats",
        "SELECT count(*) AS blocks FROM acme.copy",
        ["acme.copy"],
        "acme.stats",
        execution_strategy="full",
    )
    job_plan(job=source)
    run_tasks()
    assert sorted(versions("acme.copy")) == KEYS and list(versions("acme.stats")) == ["all"]
    return {"org": org, "source": source, "copy": copy, "stats": stats}


def versions(dataset: str) -> dict:
    return dict(PartitionVersion.objects.filter(dataset=dataset).values_list("partition_key", "version"))


def live_tasks(job: Job) -> int:
    """Tasks not yet run: the fixture's pipeline has run every task it created."""
    return Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).count()


def user(org, role: str = "admin", **fields):
    return UserFactory(org=org, role=role, is_staff=True, **fields)


# -- the service ---------------------------------------------------------------------------------


def test_a_rebuild_of_an_up_to_date_job_republishes_it_and_its_readers_rerun(pipeline, run_tasks):
    copy = pipeline["copy"]
    assert job_run_now(job=copy) == 0  # nothing is stale: run now does nothing
    before, stats_before = versions("acme.copy"), versions("acme.stats")

    result = job_rebuild(job=copy)
    assert result.created == 2 and result.partitions == KEYS and len(result.task_ids) == 2
    assert set(Task.objects.filter(id__in=result.task_ids).values_list("job_id", flat=True)) == {copy.pk}
    run_tasks()

    after = versions("acme.copy")
    assert all(after[key] > before[key] for key in KEYS), "each partition has a new version"
    assert versions("acme.stats")["all"] > stats_before["all"], "the reader reran on the new versions"
    assert not Task.objects.filter(status="failed").exists()


def test_a_range_or_keys_rebuild_only_those_partitions(pipeline, run_tasks):
    source, copy = pipeline["source"], pipeline["copy"]
    before = versions("evm.blocks")
    copy_before = versions("acme.copy")
    result = job_rebuild(job=source, first="blocks_00000100", last="blocks_00000199")
    assert result.partitions == ["blocks_00000100"]
    run_tasks()
    after, copy_after = versions("evm.blocks"), versions("acme.copy")
    assert after["blocks_00000100"] > before["blocks_00000100"]
    assert after["blocks_00000000"] == before["blocks_00000000"]
    # Downstream follows the normal publish path: only the republished key is rebuilt.
    assert copy_after["blocks_00000100"] > copy_before["blocks_00000100"]
    assert copy_after["blocks_00000000"] == copy_before["blocks_00000000"]

    assert job_rebuild(job=copy, partition_keys=["blocks_00000000"], dispatch=False).partitions == [
        "blocks_00000000"
    ]


def test_keys_with_a_live_task_are_left_to_it(pipeline):
    copy = pipeline["copy"]
    first = job_rebuild(job=copy, partition_keys=["blocks_00000000"], dispatch=False)
    plan = rebuild_plan(job=copy)
    assert plan.busy == ["blocks_00000000"] and "1 partition of acme/copy" in plan.summary()
    second = job_rebuild(job=copy, dispatch=False)
    assert first.created == 1 and second.partitions == ["blocks_00000100"]


@pytest.mark.parametrize(
    ("selection", "field", "words"),
    [
        ({"partition_keys": ["blocks_00000000", "nope"]}, "partitions", "has no partition nope"),
        ({"partition_keys": [" "]}, "partitions", "at least one partition key"),
        ({"first": "b", "last": "a"}, "last", "ends (a) before it starts (b)"),
        ({"first": "x", "last": "y"}, "first", "no partition of acme/copy lies between x and y"),
        ({"partition_keys": ["blocks_00000000"], "first": "a"}, "partitions", "not both"),
    ],
)
def test_bad_partitions_are_field_errors(pipeline, selection, field, words):
    copy = pipeline["copy"]
    with pytest.raises(ValidationError) as refused:
        job_rebuild(job=copy, **selection)
    assert words in " ".join(refused.value.message_dict[field])
    assert live_tasks(copy) == 0


def test_a_paused_job_and_an_incremental_source_are_refused(pipeline):
    copy = pipeline["copy"]
    Job.objects.filter(pk=copy.pk).update(active=False)
    with pytest.raises(ValidationError, match="paused: resume it before rebuilding"):
        job_rebuild(job=copy)
    follower = JobFactory(
        org=pipeline["org"],
        name="follower",
        runtime="source",
        operator="evm_rpc",
        source={},
        execution_strategy="incremental",
        output_datasets=["acme.follow"],
    )
    with pytest.raises(ValidationError, match="cannot read a partition of it again"):
        job_rebuild(job=follower)
    assert live_tasks(copy) == 0 and live_tasks(follower) == 0


def test_an_incremental_job_rebuilds_what_it_wrote_without_moving_its_cursor(pipeline, run_tasks):
    inc = sql_job(
        pipeline["org"],
        "daily",
        "SELECT block_number, timestamp FROM evm.blocks",
        ["evm.blocks"],
        "acme.daily",
        execution_strategy="incremental",
        update_strategy="append",
        config={"cursor_column": "block_number", "partition_by": "strftime(timestamp, '%Y-%m-%d')"},
    )
    job_plan(job=inc)
    run_tasks()
    before = versions("acme.daily")
    rows = sum(PartitionVersion.objects.filter(dataset="acme.daily").values_list("row_count", flat=True))
    result = job_rebuild(job=inc)
    assert result.created == 1 and result.partitions == sorted(before)
    run_tasks()
    after = versions("acme.daily")
    assert all(after[key] > before[key] for key in before)
    # Recomputed whole, not appended again; the cursor stays where it was.
    assert (
        sum(PartitionVersion.objects.filter(dataset="acme.daily").values_list("row_count", flat=True)) == rows
    )
    assert inc.cursors.get(dataset="evm.blocks").cursor_value == "199"


# -- the API -------------------------------------------------------------------------------------


def api(actor) -> APIClient:
    client = APIClient()
    client.force_authenticate(actor)
    return client


def test_the_api_rebuilds_with_202_and_names_the_tasks(pipeline):
    copy = pipeline["copy"]
    client = api(user(pipeline["org"]))
    response = client.post(f"/api/v1/jobs/{copy.pk}/rebuild/", format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["created"] == 2 and body["partitions"] == KEYS
    assert sorted(body["tasks"]) == sorted(
        str(t) for t in Task.objects.filter(job=copy).exclude(status="succeeded").values_list("id", flat=True)
    )
    response = client.post(f"/api/v1/jobs/{pipeline['source'].pk}/rebuild/", format="json")
    assert response.status_code == 404  # the platform org's job: not this org's


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"partitions": ["nope"]}, "partitions"),
        ({"partitions": []}, "partitions"),
        ({"partitions": "blocks_00000000"}, "partitions"),
        ({"first": "b", "last": "a"}, "last"),
        ({"first": "x", "last": "y"}, "first"),
        ({"partitions": ["blocks_00000000"], "last": "z"}, "partitions"),
    ],
)
def test_the_api_answers_bad_input_with_a_field_error(pipeline, body, attr):
    copy = pipeline["copy"]
    response = api(user(pipeline["org"])).post(f"/api/v1/jobs/{copy.pk}/rebuild/", body, format="json")
    assert response.status_code == 400, response.content
    assert [e["attr"] for e in response.json()["errors"]] == [attr]
    assert live_tasks(copy) == 0


def test_the_api_refuses_a_paused_job_another_org_and_a_role_without_the_right(pipeline):
    copy, org = pipeline["copy"], pipeline["org"]
    url = f"/api/v1/jobs/{copy.pk}/rebuild/"
    assert api(user(OrgFactory(slug="bravo"), "owner")).post(url, format="json").status_code == 404
    for role in ("viewer", "member"):
        response = api(user(org, role)).post(url, format="json")
        assert response.status_code == 403, (role, response.content)
        assert "You may not run this job" in response.json()["errors"][0]["detail"]
    assert live_tasks(copy) == 0
    member = user(org, "member")
    assign_perm("orchestration.change_job", member, copy)  # the right to run this job: may rebuild it
    assert api(member).post(url, format="json").status_code == 202
    Job.objects.filter(pk=copy.pk).update(active=False)
    response = api(user(org)).post(url, format="json")
    assert response.status_code == 400 and "paused" in response.json()["errors"][0]["detail"]


# -- the admin -----------------------------------------------------------------------------------


def browser_for(actor) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(actor)
    return client


def test_the_confirmation_page_does_nothing_until_confirmed(pipeline):
    copy = pipeline["copy"]
    client = browser_for(user(pipeline["org"]))
    url = reverse("admin:orchestration_job_rebuild", args=[copy.pk])
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "2 partitions of acme/copy will be recomputed and republished; downstream jobs will rerun" in text
    assert "acme/stats" in text and 'method="post"' in text and "csrfmiddlewaretoken" in text
    narrowed = client.get(url, {"partitions": "blocks_00000100"}).content.decode()
    assert "1 partition of acme/copy will be recomputed" in narrowed
    assert live_tasks(copy) == 0  # GET never rebuilds

    job_page = client.get(reverse("admin:orchestration_job_change", args=[copy.pk])).content.decode()
    assert f'href="{url}"' in job_page and "Rebuild…" in job_page

    response = client.post(url, {"partitions": "blocks_00000100"})
    assert response.status_code == 302
    assert list(
        Task.objects.filter(job=copy, status__in=Task.LIVE_STATUSES).values_list("partitions", flat=True)
    ) == [["blocks_00000100"]]


def test_the_confirmation_page_shows_bad_input_as_field_errors(pipeline):
    copy = pipeline["copy"]
    client = browser_for(user(pipeline["org"]))
    url = reverse("admin:orchestration_job_rebuild", args=[copy.pk])
    for data, words in (
        ({"partitions": "nope"}, "has no partition nope"),
        ({"first": "b", "last": "a"}, "the range ends before it starts"),
        ({"first": "x" * 500}, "at most 200 characters"),
    ):
        for response in (client.get(url, data), client.post(url, data)):
            assert response.status_code == 200
            text = response.content.decode()
            assert words in text and "will be recomputed" not in text
    Job.objects.filter(pk=copy.pk).update(active=False)
    assert "is paused" in client.get(url).content.decode()
    assert client.post(url).status_code == 200
    assert live_tasks(copy) == 0


def test_another_orgs_job_is_a_404_and_a_role_without_the_right_is_told_why(pipeline):
    copy, org = pipeline["copy"], pipeline["org"]
    url = reverse("admin:orchestration_job_rebuild", args=[copy.pk])
    intruder = browser_for(user(OrgFactory(slug="bravo"), "owner"))
    assert intruder.get(url).status_code == 404 and intruder.post(url).status_code == 404
    assert intruder.get("/admin/orchestration/job/not-a-uuid/rebuild/").status_code == 404
    viewer = browser_for(user(org, "viewer"))
    for response in (viewer.get(url), viewer.post(url)):
        assert response.status_code == 403
        assert "needs the right to run the job" in response.content.decode()
    job_page = viewer.get(reverse("admin:orchestration_job_change", args=[copy.pk])).content.decode()
    assert "Rebuild…" not in job_page
    assert live_tasks(copy) == 0


def test_the_changelist_action_confirms_then_rebuilds_the_selected_jobs(pipeline):
    copy, stats, org = pipeline["copy"], pipeline["stats"], pipeline["org"]
    client = browser_for(user(org))
    changelist = reverse("admin:orchestration_job_changelist")
    selection = {"action": "rebuild", "_selected_action": [str(copy.pk), str(stats.pk)], "index": "0"}
    page = client.post(changelist, selection)
    text = page.content.decode()
    assert page.status_code == 200
    assert "2 partitions of acme/copy will be recomputed" in text
    assert "1 partition of acme/stats will be recomputed and republished; no job reruns on its output" in text
    assert live_tasks(copy) == 0 and live_tasks(stats) == 0  # the confirmation page changed nothing

    confirm = {"action": "rebuild", "_selected_action": [str(copy.pk), str(stats.pk)], "confirmed": "yes"}
    response = client.post(changelist, confirm, follow=True)
    assert response.status_code == 200
    assert live_tasks(copy) == 2 and live_tasks(stats) == 1
    assert "Rebuilding acme/copy: 2 tasks over 2 partitions" in response.content.decode()

    viewer = browser_for(user(org, "viewer"))
    viewer.post(changelist, {**confirm, "_selected_action": [str(copy.pk)]})
    assert live_tasks(copy) == 2

    # A job that cannot be rebuilt is named with the reason, and left alone when confirmed.
    Job.objects.filter(pk=stats.pk).update(active=False)
    text = client.post(changelist, selection).content.decode()
    assert "acme/stats: acme/stats is paused: resume it before rebuilding it" in text
    response = client.post(changelist, {**confirm, "_selected_action": [str(stats.pk)]}, follow=True)
    assert "acme/stats is paused" in response.content.decode() and live_tasks(stats) == 1


# -- the command ---------------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command("rebuild", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_command_says_what_it_will_do_and_asks_first(pipeline, monkeypatch):
    copy = pipeline["copy"]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="stdin is not a terminal: confirm with --yes"):
        run("acme/copy")
    assert live_tasks(copy) == 0
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    out = run("acme/copy")
    assert "2 partitions of acme/copy will be recomputed" in out and "nothing done" in out
    assert live_tasks(copy) == 0
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert "1 task over 1 partition of acme/copy" in run("acme/copy", "--partition", "blocks_00000000")
    assert "1 task over 1 partition" in run(str(copy.pk), "--first", "blocks_00000100", "--yes")
    assert live_tasks(copy) == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["acme/nope"], "no job 'nope' in org 'acme'"),
        (["nonsense"], "job 'nonsense': give a job id or org_slug/name"),
        (["acme/copy", "--partition", "nope"], "--partition: acme/copy has no partition nope"),
        (["acme/copy", "--first", "b", "--last", "a"], "--last: the range ends (a) before it starts (b)"),
        (["acme/copy", "--partition", "blocks_00000000", "--first", "a"], "not both"),
        (["acme/copy", "--user", "ghost"], "no active user 'ghost'"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(pipeline, args, words):
    with pytest.raises(CommandError) as refused:
        run(*args, "--yes")
    assert words in str(refused.value)
    assert live_tasks(pipeline["copy"]) == 0


def test_the_command_acting_as_a_user_follows_their_org_and_rights(pipeline):
    copy, org = pipeline["copy"], pipeline["org"]
    user(OrgFactory(slug="bravo"), "owner", external_id="intruder")
    user(org, "viewer", external_id="reader")
    user(org, "admin", external_id="boss")
    with pytest.raises(CommandError, match="no job 'copy' in org 'acme'"):
        run("acme/copy", "--user", "intruder", "--yes")
    with pytest.raises(
        CommandError, match="reader may not rebuild acme/copy: that needs the right to run it"
    ):
        run("acme/copy", "--user", "reader", "--yes")
    assert live_tasks(copy) == 0
    assert "2 tasks" in run("acme/copy", "--user", "boss", "--yes")
