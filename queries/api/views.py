from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from platform_site.api.schema import error_responses
from platform_site.api.viewsets import OrgScopedModelViewSet, ReadOnlyRecordViewSet
from versioning.models import PartitionVersion
from versioning.storage import result_store

from .. import services
from ..datasets import dataset_readable_by, datasets_readable_by
from ..filtersets import QueryResultFilter, SavedQueryFilter
from ..models import QueryResult, SavedQuery
from ..result_files import CONTENT_TYPES, EXTENSIONS, converted_chunks, download_chunks, read_page
from ..selectors import can_cancel_result, can_run_queries
from .serializers import (
    DatasetSerializer,
    ExecutedSerializer,
    ExecuteSerializer,
    QueryResultSerializer,
    RowsSerializer,
    SavedQuerySerializer,
)

MAX_PAGE_ROWS = 1000
DEFAULT_PAGE_ROWS = 100


def download_name(result: QueryResult, extension: str) -> str:
    """``<saved query>-<when it was asked, UTC>.<ext>`` (``query-...`` for ad-hoc SQL): a name a person
    finds again in a downloads folder, unlike the result's id."""
    name = slugify(result.saved_query.name) if result.saved_query_id else ""
    ran = result.created_at
    return f"{name or 'query'}-{ran:%Y%m%d-%H%M%S}.{extension}"


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This result expired after the org's retention; run the query again."
    default_code = "expired"


class NotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"


EXECUTE_EXAMPLES = [
    OpenApiExample(
        "Ad hoc, sync, with a parameter",
        value={
            "sql": "SELECT block_number, count(*) AS transfers FROM evm.transfers "
            "WHERE block_number >= $from GROUP BY 1 ORDER BY 1",
            "parameters": {"from": 1000},
            "mode": "sync",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Export as CSV, fresh",
        value={"sql": "SELECT * FROM evm.blocks", "mode": "export", "format": "csv", "force": True},
        request_only=True,
    ),
    OpenApiExample(
        "Typed parameter, cache at most 5 minutes old",
        value={
            "sql": "SELECT * FROM evm.blocks WHERE timestamp >= $since LIMIT 10",
            "parameters": {"since": {"type": "timestamp", "value": "2026-11-25T00:00:00+00:00"}},
            "max_age": 300,
        },
        request_only=True,
    ),
]


def _refused(exc: services.QueryRefused) -> exceptions.APIException:
    if exc.code == "permission_denied":
        return exceptions.PermissionDenied("; ".join(exc.errors.values()))
    return exceptions.ValidationError(
        {field: [exceptions.ErrorDetail(message, code=exc.code)] for field, message in exc.errors.items()}
    )


def _executed_response(request, result: QueryResult) -> Response:
    data = ExecutedSerializer(result, context={"request": request}).data
    if result.mode == QueryResult.Mode.SYNC and result.status == QueryResult.Status.SUCCEEDED:
        columns, rows = read_page(
            result_store(),
            result.output_location,
            result.output_format,
            offset=0,
            limit=services.execution.sync_row_cap(result.org),
        )
        data["columns"], data["rows"] = columns, rows
    finished = result.status not in (QueryResult.Status.QUEUED, QueryResult.Status.RUNNING)
    return Response(data, status=status.HTTP_201_CREATED if finished else status.HTTP_202_ACCEPTED)


def _run(request, *, saved_query: SavedQuery | None = None) -> Response:
    if not can_run_queries(request.user):
        raise exceptions.PermissionDenied("only users of an org run queries")
    body = ExecuteSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    values = body.validated_data
    if saved_query is None and not values.get("sql"):
        raise exceptions.ValidationError({"sql": ["the SQL to run (or run a saved query)"]})
    try:
        result = services.query_execute(
            user=request.user,
            sql=values.get("sql"),
            saved_query=saved_query,
            parameters=values.get("parameters"),
            mode=values["mode"],
            output_format=values["format"],
            max_age=values.get("max_age"),
            force=values["force"],
            unmask=values["unmask"],
        )
    except services.QueryRefused as exc:
        raise _refused(exc) from None
    return _executed_response(request, result)


class SavedQueryViewSet(OrgScopedModelViewSet):
    """Named SQL with visibility private / org / public."""

    queryset = SavedQuery.objects.all()
    serializer_class = SavedQuerySerializer
    filterset_class = SavedQueryFilter

    @extend_schema(
        request=ExecuteSerializer,
        responses={201: ExecutedSerializer, 202: ExecutedSerializer},
        examples=[OpenApiExample("Run it now", value={"mode": "sync", "parameters": {}}, request_only=True)],
        summary="Run a saved query",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def execute(self, request, pk=None):
        """Run this saved query (readable by the caller) with parameters, in a mode."""
        return _run(request, saved_query=self.get_object())


class QueryResultViewSet(ReadOnlyRecordViewSet):
    """Executions: a user's own, and every one of the org for org admins (keyset cursor)."""

    queryset = QueryResult.objects.select_related("org")
    serializer_class = QueryResultSerializer
    filterset_class = QueryResultFilter

    def _live_result(self) -> QueryResult:
        result = self.get_object()
        if services.is_expired(result):
            raise Gone()
        return result

    @extend_schema(responses={200: QueryResultSerializer, **error_responses(410)})
    def retrieve(self, request, *args, **kwargs):
        """A result's status; an expired one answers 410."""
        return Response(self.get_serializer(self._live_result()).data)

    @extend_schema(
        request=ExecuteSerializer,
        responses={201: ExecutedSerializer, 202: ExecutedSerializer},
        examples=EXECUTE_EXAMPLES,
        summary="Execute SQL",
    )
    @action(detail=False, methods=["post"], permission_classes=[IsAuthenticated])
    def execute(self, request):
        """Run ad hoc SQL. ``sync`` waits (at most the org's timeout) and returns the rows inline (at
        most the org's ``query_max_sync_rows``, else ``row_limit``); ``async`` and ``export`` answer
        202 with the queued result to poll. Refused SQL is a 400 whose error code is
        ``syntax_error``, ``forbidden_statement`` or ``unknown_dataset``."""
        return _run(request)

    @extend_schema(
        parameters=[
            OpenApiParameter("offset", int, description="First row (0-based)."),
            OpenApiParameter("limit", int, description=f"Rows per page (at most {MAX_PAGE_ROWS})."),
        ],
        responses={200: RowsSerializer, **error_responses(409, 410)},
        summary="Page through a result's rows",
    )
    @action(detail=True, methods=["get"])
    def rows(self, request, pk=None):
        """Rows of a succeeded result, read from its stored file a page at a time."""
        result = self._live_result()
        if result.status != QueryResult.Status.SUCCEEDED:
            raise NotReady(f"the result is {result.status}")
        offset = _int_param(request, "offset", 0, None)
        limit = _int_param(request, "limit", DEFAULT_PAGE_ROWS, MAX_PAGE_ROWS)
        columns, rows = read_page(
            result_store(), result.output_location, result.output_format, offset=offset, limit=limit
        )
        url = request.build_absolute_uri()
        following = offset + limit < (result.row_count or 0)
        return Response(
            {
                "columns": columns,
                "rows": rows,
                "offset": offset,
                "limit": limit,
                "row_count": result.row_count,
                "next": replace_query_param(url, "offset", offset + limit) if following else None,
                "previous": replace_query_param(url, "offset", max(offset - limit, 0)) if offset else None,
            }
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "as", str, enum=list(EXTENSIONS), description="Download format (default: the stored one)."
            )
        ],
        responses={(200, "application/octet-stream"): bytes, **error_responses(409, 410)},
        summary="Download a result",
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The whole result, streamed (Parquet results convert to CSV or JSON lines on the fly)."""
        result = self._live_result()
        if result.status != QueryResult.Status.SUCCEEDED:
            raise NotReady(f"the result is {result.status}")
        wanted = request.query_params.get("as") or result.output_format
        if wanted not in EXTENSIONS:
            raise exceptions.ValidationError({"as": [f"one of {', '.join(EXTENSIONS)}"]})
        storage = result_store()
        if wanted == result.output_format:
            chunks = download_chunks(storage, result.output_location)
        elif result.output_format == QueryResult.OutputFormat.PARQUET:
            chunks = converted_chunks(storage, result.output_location, wanted)
        else:
            raise exceptions.ValidationError({"as": [f"this export is stored as {result.output_format}"]})
        response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[wanted])
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=download_name(result, EXTENSIONS[wanted])
        )
        return response

    @extend_schema(request=None, responses={200: QueryResultSerializer}, summary="Cancel a result")
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def cancel(self, request, pk=None):
        """Cancel a queued or running result (a running query stops within a second)."""
        result = self.get_object()
        if not can_cancel_result(request.user, result):
            raise exceptions.PermissionDenied("only its runner or an org admin cancels a result")
        if not services.query_result_cancel(result=result):
            result.refresh_from_db()
            raise NotReady(f"the result is already {result.status}")
        result.refresh_from_db()
        return Response(self.get_serializer(result).data)


def _int_param(request, name: str, default: int, maximum: int | None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: ["a whole number"]}) from None
    if value < 0 or (maximum is not None and value > maximum) or (name == "limit" and value == 0):
        raise exceptions.ValidationError({name: [f"between {int(name == 'limit')} and {maximum or 'any'}"]})
    return value


class DatasetViewSet(viewsets.ViewSet):
    """Every dataset you may read (your org's namespace and the system ones), described from the
    catalog: producer job, columns and types, partitions, rows, bytes, last publish, open
    invalidations, and column lineage up and down stream."""

    permission_classes = [IsAuthenticated]
    # Datasets are derived from the catalog; no queryset is read through this attribute.
    queryset = PartitionVersion.objects.none()
    lookup_field = "dataset"
    lookup_value_regex = r"[^/]+"

    @extend_schema(responses={200: DatasetSerializer(many=True)})
    def list(self, request):
        return Response(DatasetSerializer(datasets_readable_by(request.user), many=True).data)

    @extend_schema(responses={200: DatasetSerializer})
    def retrieve(self, request, dataset=None):
        info = dataset_readable_by(request.user, dataset or "")
        if info is None:
            raise exceptions.NotFound()
        return Response(DatasetSerializer(info).data)
