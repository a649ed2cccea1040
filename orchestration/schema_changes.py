"""What a job does when an input's schema changes (a new ``schema_hash`` in the catalog).

``config.on_schema_change``:

* ``accept`` (default): run on whatever schema the inputs have now.
* ``fail``: the task fails with a message naming the dataset and both hashes; nothing is published
  until someone changes the job (which changes its config_hash) or the input.
* ``rebuild``: run, then backfill every other output partition so the whole output follows the new
  input schema (the task runner does, when ``check`` names a changed dataset).

The schema a job last saw is the one recorded by its last succeeded task (``input_versions.schemas``).
"""

from __future__ import annotations

from orchestration.models import Job, Task
from orchestration.operators.base import InputPartition, OperatorError

POLICIES = ("accept", "fail", "rebuild")


def policy(job: Job) -> str:
    return (job.config or {}).get("on_schema_change", "accept")


def input_schemas(inputs: dict[str, list[InputPartition]]) -> dict[str, list[str]]:
    return {d: sorted({p.schema_hash for p in parts if p.schema_hash}) for d, parts in inputs.items()}


def seen(job: Job) -> dict[str, list[str]]:
    """Every input schema the job has run on so far (kept by its last succeeded task)."""
    last = (
        Task.objects.filter(job=job, status=Task.Status.SUCCEEDED)
        .order_by("-completed_at", "-id")  # ids are time-ordered (uuid7): ties resolve to the newest
        .values_list("input_versions", flat=True)
        .first()
    )
    return (last or {}).get("schemas") or {}


def schemas_after(job: Job, inputs: dict[str, list[InputPartition]]) -> dict[str, list[str]]:
    """What to record at publish: the schemas seen before plus those just read."""
    merged = {d: set(h) for d, h in seen(job).items()}
    for dataset, hashes in input_schemas(inputs).items():
        merged.setdefault(dataset, set()).update(hashes)
    return {d: sorted(h) for d, h in merged.items()}


def check(*, job: Job, inputs: dict[str, list[InputPartition]]) -> list[str]:
    """Datasets with a schema the job has not run on before; raises under ``fail``."""
    if policy(job) == "accept":
        return []
    seen_before = seen(job)
    changed = []
    for dataset, hashes in input_schemas(inputs).items():
        before = set(seen_before.get(dataset) or [])
        if before and hashes and not set(hashes) <= before:
            changed.append(dataset)
            if policy(job) == "fail":
                raise OperatorError(
                    f"schema of {dataset} changed (was {', '.join(h[:12] for h in sorted(before))}, "
                    f"now {', '.join(h[:12] for h in hashes)}); this job fails on schema change"
                )
    return changed
