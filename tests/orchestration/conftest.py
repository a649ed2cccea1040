import pytest

from orchestration import services
from orchestration.models import Task


@pytest.fixture(autouse=True)
def lake_in_tmp(settings, tmp_path):
    """Each test gets its own lake folder."""
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.TASK_RETRY_BASE_SECONDS = 0
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    return tmp_path / "lake"


def drain(max_rounds: int = 50) -> int:
    """Run every due task in this process (the worker's code path, without the queue)."""
    ran = 0
    for _ in range(max_rounds):
        services.tasks_dispatch(enqueue=False)
        # Publishing dispatches downstream work on commit; in a test transaction that never
        # fires, so queued tasks are run here directly.
        ids = list(Task.objects.filter(status="queued").order_by("created_at").values_list("id", flat=True))
        if not ids:
            due = Task.objects.filter(status="pending", next_retry_at__isnull=True).exists()
            if not due:
                return ran
            continue
        for task_id in ids:
            services.task_execute(task_id=task_id)
            ran += 1
    raise AssertionError(f"tasks kept coming after {max_rounds} rounds")


@pytest.fixture
def run_tasks():
    return drain
