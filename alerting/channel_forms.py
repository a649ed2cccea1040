"""An alert definition's channels edited as rows: one form per channel (its type, its URL or email
addresses, a webhook's signing secret, whether it is disabled), read from and written back to the
definition's ``channels`` list, which stays the one place channels are kept.

Secrets stay write-only here as everywhere: a row shows its secret redacted, and a row sent back
with the redacted form, or with the secret left empty, keeps the stored one. A new webhook row
without a pasted secret gets a generated one (as does a row asked to rotate); the admin shows a
generated secret once, after the save.
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from platform_site.admin_components import themed_form

from .channel_secrets import merge_secrets, redact_channels
from .channels import CHANNEL_TYPES, channel_errors

SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes
TARGET_KEYS = {"webhook": "url", "slack": "webhook_url", "email": "to"}
# Keys the rows edit; any other key a channel carries (set through the API) is kept as it is.
MANAGED_KEYS = {"type", "url", "webhook_url", "to", "secret", "disabled", "disabled_reason"}
ROW_FIELD_OF_KEY = {"url": "target", "webhook_url": "target", "to": "target", "secret": "secret"}
CHANNEL_ERROR_KEY = re.compile(r"^channels\[(\d+)\](?:\.(\w+))?$")


def new_webhook_secret() -> str:
    """A signing secret as Standard Webhooks spells it: ``whsec_`` and base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _words(value: str) -> list[str]:
    return [word for word in re.split(r"[\s,;]+", value or "") if word]


def _stored_list(channels: Any) -> list:
    return copy.deepcopy(channels) if isinstance(channels, list) else []


class ChannelForm(forms.Form):
    """One channel. ``index`` is its place in the stored list (empty for a new row): a row's
    stored secret and disabled reason are looked up by it, whatever rows were removed before it."""

    index = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    type = forms.ChoiceField(
        choices=[(kind, kind.capitalize()) for kind in CHANNEL_TYPES], initial="webhook", label="Type"
    )
    target = forms.CharField(
        label="URL or email addresses",
        max_length=4000,
        help_text="Webhook or Slack: the http(s) URL. Email: addresses separated by commas.",
    )
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=4000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Webhooks only. Empty: a new one is generated (a saved one is kept). Shown "
        "redacted once saved.",
    )
    rotate_secret = forms.BooleanField(
        label="Generate a new signing secret", required=False, help_text="The old one stops signing."
    )
    disabled = forms.BooleanField(
        label="Disabled", required=False, help_text="No deliveries while disabled. Untick to re-enable."
    )

    def clean(self):
        data = super().clean()
        kind, target = data.get("type"), data.get("target")
        if not kind or target is None:
            return data
        if kind == "email":
            data["addresses"] = _words(target)
        else:
            data["target"] = target.strip()
        # The row's target is checked by the channels' own rule (the outbound policy and the secret
        # are checked with the whole definition), so a bad one shows here with the same words.
        key = TARGET_KEYS[kind]
        probe = {"type": kind, key: data["addresses"] if kind == "email" else data["target"]}
        problem = channel_errors([probe], check_targets=False).get(f"channels[0].{key}")
        if problem:
            self.add_error("target", problem)
        return data

    def channel(self, stored: dict | None) -> tuple[dict, str | None]:
        """The channel this row saves over ``stored`` (the channel it was drawn from, if any), and
        the secret generated for it (None when none was)."""
        data = self.cleaned_data
        kind = data["type"]
        previous = stored if isinstance(stored, dict) and stored.get("type") == kind else None
        channel = {k: v for k, v in (previous or {}).items() if k not in MANAGED_KEYS}
        channel["type"] = kind
        if kind == "email":
            channel["to"] = data["addresses"]
        else:
            channel[TARGET_KEYS[kind]] = data["target"]
        generated = None
        if kind == "webhook":
            pasted = _words(data.get("secret") or "")
            if pasted:
                channel["secret"] = pasted[0] if len(pasted) == 1 else pasted
            has_stored_secret = previous is not None and "secret" in previous
            if data.get("rotate_secret") or (not pasted and not has_stored_secret):
                generated = channel["secret"] = new_webhook_secret()
        if data.get("disabled"):
            channel["disabled"] = True
            if previous and previous.get("disabled") and previous.get("disabled_reason"):
                channel["disabled_reason"] = previous["disabled_reason"]
        if previous is not None:
            channel = merge_secrets([channel], [previous])[0]
        return channel, generated


def row_initial(index: int, channel: dict) -> dict:
    """What a stored channel's row shows: its secrets redacted."""
    shown = redact_channels([channel])[0]
    kind = shown.get("type")
    target = shown.get(TARGET_KEYS.get(kind, "url"), "")
    if isinstance(target, list):
        target = ", ".join(str(item) for item in target)
    secret = shown.get("secret", "")
    if isinstance(secret, list):
        secret = " ".join(str(item) for item in secret)
    return {
        "index": index,
        "type": kind,
        "target": target,
        "secret": secret,
        "disabled": bool(shown.get("disabled")),
    }


@dataclass
class NewSecret:
    """A secret generated on save, to be shown once."""

    url: str
    secret: str


class BaseChannelFormSet(forms.BaseFormSet):
    def __init__(self, *args, stored: list | None = None, definition_id=None, **kwargs):
        self.stored = stored or []
        self.definition_id = definition_id
        if "initial" not in kwargs:
            kwargs["initial"] = [
                row_initial(index, channel)
                for index, channel in enumerate(self.stored)
                if isinstance(channel, dict)
            ]
        super().__init__(*args, **kwargs)
        self.saved_forms: list[ChannelForm] = []  # the rows kept, in the order of the saved list
        self.new_secrets: list[NewSecret] = []

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this channel"
        themed_form(form)  # the DELETE box too, added here

    def _stored_at(self, index) -> dict | None:
        if isinstance(index, int) and 0 <= index < len(self.stored):
            return self.stored[index]
        return None

    def channels(self) -> list[dict]:
        """The channels list these (valid) rows save; remembers the secrets it generated."""
        channels, self.saved_forms, self.new_secrets = [], [], []
        for form in self.forms:
            if not form.has_changed() and form.cleaned_data.get("index") is None:
                continue  # an extra row left empty
            if self.can_delete and self._should_delete_form(form):
                continue
            channel, generated = form.channel(self._stored_at(form.cleaned_data.get("index")))
            channels.append(channel)
            self.saved_forms.append(form)
            if generated:
                self.new_secrets.append(NewSecret(channel["url"], generated))
        return channels

    def show_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """Put each ``channels[i]…`` error on the row that saves channel ``i``; the others back."""
        left = {}
        for key, message in errors.items():
            match = CHANNEL_ERROR_KEY.match(key)
            if not match or int(match[1]) >= len(self.saved_forms):
                left[key] = message
                continue
            form = self.saved_forms[int(match[1])]
            form.add_error(ROW_FIELD_OF_KEY.get(match[2] or ""), message)
        return left

    def rows(self) -> list[dict]:
        """Each row with what it shows besides its fields: the stored disabled reason and, for a
        saved channel, where its test button posts."""
        rows = []
        for form in self.forms:
            index = form.initial.get("index")
            stored = self._stored_at(index) or {}
            saved = bool(stored)
            rows.append(
                {
                    "form": form,
                    "saved": saved,
                    "title": f"Channel {index + 1}: {stored.get('type')}" if saved else "New channel",
                    "disabled_reason": stored.get("disabled_reason", "") if stored.get("disabled") else "",
                    "test_url": (
                        reverse(
                            "admin:alerting_alertdefinition_channel_test", args=[self.definition_id, index]
                        )
                        if self.definition_id and saved
                        else ""
                    ),
                }
            )
        return rows


ChannelFormSet = forms.formset_factory(ChannelForm, formset=BaseChannelFormSet, extra=1, can_delete=True)


class _NoWidgetValue(forms.Widget):
    """The rows post their own fields; the definition form's ``channels`` field reads none."""

    class Media:
        js = ["alerting/channel_rows.js"]

    def value_from_datadict(self, data, files, name):
        return None


class ChannelRowsBoundField(forms.BoundField):
    def as_widget(self, widget=None, attrs=None, only_initial=False):
        rows = self.field.rows
        return render_to_string(
            "admin/alerting/channel_rows.html",
            {"formset": rows, "rows": rows.rows(), "empty_form": rows.empty_form},
        )

    def __str__(self):
        return self.as_widget()


class ChannelRowsField(forms.Field):
    """The definition form's ``channels``: drawn as the rows, cleaned by the form from them."""

    widget = _NoWidgetValue

    def __init__(self, rows: BaseChannelFormSet, **kwargs):
        self.rows = rows
        super().__init__(required=False, label="Channels", **kwargs)

    def get_bound_field(self, form, field_name):
        return ChannelRowsBoundField(form, self, field_name)

    def has_changed(self, initial, data) -> bool:
        return self.rows.is_bound and self.rows.has_changed()


class ChannelRowsFormMixin:
    """For an AlertDefinition model form: its ``channels`` field as rows of a formset, cleaned into
    the list the model stores (secrets merged, new ones generated)."""

    channel_prefix = "channel"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "channels" not in self.fields:
            return
        stored = _stored_list(self.instance.channels) if self.instance.pk else []
        self.channel_rows = ChannelFormSet(
            self.data if self.is_bound else None,
            prefix=self.channel_prefix,
            stored=stored,
            definition_id=self.instance.pk,
        )
        self.fields["channels"] = ChannelRowsField(self.channel_rows)

    def clean_channels(self):
        if not self.channel_rows.is_valid():
            raise ValidationError("Correct the channel rows below.")
        return self.channel_rows.channels()

    def take_channel_errors(self, errors: dict[str, str]) -> dict[str, str]:
        """Show channel errors on their rows (and flag the field); the other errors back."""
        if not hasattr(self, "channel_rows"):
            return errors
        left = self.channel_rows.show_errors(errors)
        if len(left) < len(errors):
            self.add_error("channels", "Correct the channel rows below.")
        return left

    @property
    def new_secrets(self) -> list[NewSecret]:
        rows = getattr(self, "channel_rows", None)
        return rows.new_secrets if rows is not None else []
