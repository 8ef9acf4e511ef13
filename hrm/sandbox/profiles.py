"""Which EMR the sandbox stands in for. Each profile applies that EMR's own rules, read from its
public code (HRM-FORMAT.md sections 9 and 11), never our sender's validator:

- ``open-o``: Open-O (openo-beta/Open-O, the maintained OSCAR fork Ontario clinics run in 2026):
  OSCAR's rules plus the refusals of ``HRMXmlValidator`` and ``HRMReportValidator``;
- ``oscar``: the older OSCAR (scoophealth/oscar): schema, required fields, three hashes and the
  similar-report check, no Open-O refusals;
- ``juno``: Juno (junoemr/junoemr): a repeated MessageUniqueID is a duplicate, patients match on
  province and version too, routing ignores the prefix's case, ``Format`` is required.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class EmrProfile(models.TextChoices):
    OPEN_O = "open-o", "Open-O"
    OSCAR = "oscar", "OSCAR"
    JUNO = "juno", "Juno"


# Open-O inherited OSCAR's HRMReportParser: both run the hashes and the similar-report check.
OSCAR_FAMILY = (EmrProfile.OPEN_O, EmrProfile.OSCAR)


def emr_profile(value: str | None = None) -> EmrProfile:
    """``value``, or the ``HRM_SANDBOX_EMR_PROFILE`` setting, as a profile; a wrong name is a
    set-up error, said in words."""
    name = settings.HRM_SANDBOX_EMR_PROFILE if value is None else value
    try:
        return EmrProfile(str(name).strip().lower())
    except ValueError:
        choices = ", ".join(profile.value for profile in EmrProfile)
        raise ImproperlyConfigured(
            f"HRM_SANDBOX_EMR_PROFILE is {name!r}; it must be one of {choices}."
        ) from None
