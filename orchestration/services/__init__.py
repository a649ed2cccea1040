"""Every state change of orchestration, as ``<entity>_<verb>`` functions.

Jobs (``jobs``), planning and task creation (``scheduler``), running tasks: ``dispatch`` to the
broker, the fenced lease (``leases``), the run itself (``runner``, watched by ``watchdog``),
``publish``, and ``failure`` (retry, reap, cancel); ``rebuild`` recomputes up-to-date partitions.
"""

from .dispatch import job_run_now, tasks_dispatch
from .failure import backoff_delay, task_cancel, task_fail, task_retry, tasks_reap
from .jobs import (
    compute_config_hash,
    job_create,
    job_save,
    job_set_active,
    job_update,
    job_validate,
    parse_duration,
)
from .leases import LeaseLost, task_claim, task_claim_next, task_heartbeat
from .publish import task_complete, task_publish
from .rebuild import REBUILD_OPERATION, RebuildPlan, RebuildResult, job_rebuild, rebuild_plan
from .runner import task_execute
from .scheduler import job_backfill, job_plan, plan_active_jobs, plan_downstream, tasks_create

__all__ = [
    "REBUILD_OPERATION",
    "LeaseLost",
    "RebuildPlan",
    "RebuildResult",
    "backoff_delay",
    "compute_config_hash",
    "job_backfill",
    "job_create",
    "job_plan",
    "job_rebuild",
    "job_run_now",
    "job_save",
    "job_set_active",
    "job_update",
    "job_validate",
    "parse_duration",
    "plan_active_jobs",
    "plan_downstream",
    "rebuild_plan",
    "task_cancel",
    "task_claim",
    "task_claim_next",
    "task_complete",
    "task_execute",
    "task_fail",
    "task_heartbeat",
    "task_publish",
    "task_retry",
    "tasks_create",
    "tasks_dispatch",
    "tasks_reap",
]
