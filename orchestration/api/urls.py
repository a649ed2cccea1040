from platform_site.api.routers import api_router

from .views import ColumnLineageViewSet, JobViewSet, TaskInputViewSet, TaskViewSet

api_router.register("jobs", JobViewSet, basename="job")
api_router.register("tasks", TaskViewSet, basename="task")
api_router.register("task-inputs", TaskInputViewSet, basename="task-input")
api_router.register("column-lineage", ColumnLineageViewSet, basename="column-lineage")
