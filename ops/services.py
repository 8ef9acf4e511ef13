"""Writes of the ops app."""

from django.utils import timezone

from ops.models import Heartbeat

BEAT = "beat"


def heartbeat_record(name: str = BEAT) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})
