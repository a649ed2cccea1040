import pytest

from tests.orchestration.conftest import drain


@pytest.fixture(autouse=True)
def lake_in_tmp(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.TASK_RETRY_BASE_SECONDS = 0
    settings.PYTHON_CALLABLE_MODULES = ["tests.orchestration."]
    return tmp_path / "lake"


@pytest.fixture
def run_tasks():
    return drain
