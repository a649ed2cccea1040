"""What the event and delivery pages show beyond their fields: a delivery's attempts (the receiver's
status and the first bytes of its answer, as text) and its Redeliver page; an event's definition,
producer job and task as links, each only when the viewer may read it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from orchestration.models import Job, Task
from platform_site import tenancy
from platform_site.admin_components import theme_table
from platform_site.admin_display import badge, id_link, preformatted, wrapping
from platform_site.record_logs import line_time

from . import services
from .delivery_attempts import delivery_attempts
from .models import AlertDefinition, AlertDelivery, AlertEvent
from .selectors import can_operate

_OUTCOME_BADGES = {"delivered": "delivered", "failed": "failed", "dead": "dead", "lost": "cancelled"}


# -- a delivery's attempts ------------------------------------------------------------------------
def attempts_table(delivery: AlertDelivery) -> str:
    attempts = delivery_attempts(delivery.pk)
    if not attempts:
        return "No attempt recorded for this delivery (attempts are kept on the machine that sent them)"
    return theme_table(
        ["Attempt", "Time", "Outcome", "HTTP status", "Answer (first bytes)", "Error"],
        [
            (
                line.get("attempt"),
                line_time(line),
                badge(_OUTCOME_BADGES.get(line.get("outcome"), "cancelled"), line.get("outcome")),
                line.get("http_status"),
                preformatted(line.get("answer")),
                wrapping(line.get("error")),
            )
            for line in attempts
        ],
        table_id="delivery-attempts",
    )


# -- redeliver --------------------------------------------------------------------------------------
def may_redeliver(user, delivery: AlertDelivery) -> bool:
    return can_operate(user, delivery.alert_event.alert_definition)


def redeliver_view(model_admin, request, object_id):
    """GET: a small confirmation; POST: queue the delivery again (``services.delivery_redeliver``).
    Another org's delivery (or a malformed id) is a 404; without the right to operate its
    definition, a 403."""
    try:
        delivery = (
            model_admin.get_queryset(request)
            .select_related("alert_event__alert_definition")
            .filter(pk=object_id)
            .first()
        )
    except (ValidationError, ValueError):
        delivery = None
    if delivery is None:
        raise Http404("No alert delivery with this id.")
    if not may_redeliver(request.user, delivery):
        raise PermissionDenied
    page_url = reverse("admin:alerting_alertdelivery_change", args=[delivery.pk])
    if request.method == "POST":
        services.delivery_redeliver(delivery=delivery)
        model_admin.message_user(request, "Delivery queued again: it is sent with the same event id")
        return redirect(page_url)
    return TemplateResponse(
        request,
        "admin/alerting/alertdelivery_redeliver.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": f"Redeliver {delivery}",
            "delivery": delivery,
            "opts": model_admin.model._meta,
            "original": delivery,
            "back_url": page_url,
            "explanation": "Sends this delivery again now, with a fresh attempt budget, to the same "
            f"{delivery.channel} channel; a webhook receiver sees the same webhook-id "
            "(the event id) and can recognise it.",
        },
    )


# -- an event's definition, producer job and task ---------------------------------------------------
def with_readable_links(queryset: QuerySet, user) -> QuerySet:
    """Events annotated with whether ``user`` may read each one's definition, producer job and task
    (one statement for a whole list, by the same tenancy rules as their own pages)."""
    return queryset.annotate(
        definition_readable=Exists(
            tenancy.visible_to(user, AlertDefinition).filter(pk=OuterRef("alert_definition_id"))
        ),
        producer_job_readable=Exists(tenancy.visible_to(user, Job).filter(pk=OuterRef("producer_job_id"))),
        producer_task_readable=Exists(tenancy.visible_to(user, Task).filter(pk=OuterRef("producer_task_id"))),
    )


def definition_link(event: AlertEvent) -> str:
    definition = event.alert_definition
    if not getattr(event, "definition_readable", False):
        return definition.name
    url = reverse("admin:alerting_alertdefinition_change", args=[definition.pk])
    return format_html('<a href="{}">{}</a>', url, definition.name)


def producer_job_link(event: AlertEvent) -> str:
    if event.producer_job_id is None:
        return "—"
    if not getattr(event, "producer_job_readable", False):
        return id_link(event.producer_job_id)  # not even its name: it may be another org's job
    url = reverse("admin:orchestration_job_change", args=[event.producer_job_id])
    return format_html('<a href="{}">{}</a>', url, event.producer_job)


def producer_task_link(event: AlertEvent) -> str:
    if event.producer_task_id is None:
        return "—"
    if not getattr(event, "producer_task_readable", False):
        return id_link(event.producer_task_id)
    return id_link(event.producer_task_id, Task)
