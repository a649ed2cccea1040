"""Alerting services: definitions, evaluation, retraction and deliveries (see each module)."""

from .channel_test import ChannelMissing, ChannelTestOutcome, alert_channel_test
from .definitions import (
    alert_definition_backtest,
    alert_definition_create,
    alert_definition_save,
    alert_definition_set_enabled,
    alert_definition_silence,
    alert_definition_test_fire,
    definition_errors,
    evaluator_job_ensure,
)
from .deliveries import (
    deliveries_lease,
    deliveries_process,
    delivery_record,
    delivery_redeliver,
)
from .retraction import event_retract, reorgs_process

__all__ = [
    "ChannelMissing",
    "ChannelTestOutcome",
    "alert_channel_test",
    "alert_definition_backtest",
    "alert_definition_create",
    "alert_definition_save",
    "alert_definition_set_enabled",
    "alert_definition_silence",
    "alert_definition_test_fire",
    "definition_errors",
    "deliveries_lease",
    "deliveries_process",
    "delivery_record",
    "delivery_redeliver",
    "evaluator_job_ensure",
    "event_retract",
    "reorgs_process",
]
