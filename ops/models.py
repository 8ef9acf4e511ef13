"""What the operator's checks read that no other table holds."""

from django.db import models


class Heartbeat(models.Model):
    """The last time a periodic process showed it is alive, one row per process: beat's
    heartbeat task writes ``beat`` every minute, and readiness reads its age."""

    name = models.CharField(max_length=40, primary_key=True)
    beat_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
