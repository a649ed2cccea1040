"""A user's API tokens end when their password changes.

A token stands in for the password; whoever changes a password (after a leak, or an admin locking
someone out) expects every credential issued under the old one to stop working, as Django's own
sessions do.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from .services import api_tokens_revoke_all


@receiver(pre_save, sender=get_user_model(), dispatch_uid="access.note_password_change")
def note_password_change(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    instance._password_changed = False
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return  # e.g. the last_login stamp on every login: no read needed
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_changed = stored is not None and stored != instance.password


@receiver(post_save, sender=get_user_model(), dispatch_uid="access.revoke_tokens_on_password_change")
def revoke_tokens_on_password_change(sender, instance, created=False, **kwargs) -> None:
    if not created and getattr(instance, "_password_changed", False):
        api_tokens_revoke_all(user=instance)
        instance._password_changed = False
