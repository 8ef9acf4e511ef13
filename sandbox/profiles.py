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


# What each profile does with a file, for the sandbox's pages.
RULES_IN_WORDS = {
    EmrProfile.OPEN_O: (
        "the v1.1.2 schema and OSCAR's required fields; then Open-O's refusals: a required "
        "element present but empty, a text report whose FileExtensionAndVersion is not 'From OMD "
        "Report Manager', an attachment not in .pdf .tiff .rtf .jpeg .gif .png .html or whose "
        "content is not that format, a date of birth before 1800 or in the future; then OSCAR's "
        "duplicate hashes and similar-report check (a report scoring 45 or more against an "
        "older one of the same patient is hidden)."
    ),
    EmrProfile.OSCAR: (
        "the v1.1.2 schema and OSCAR's required fields; OSCAR's duplicate hashes (the same file "
        "again is counted, the same report for another recipient is routed to them); the "
        "similar-report check (a report scoring 45 or more against an older one of the same "
        "patient is hidden); text reports shown as HTML, without escaping."
    ),
    EmrProfile.JUNO: (
        "the v1.1.2 schema; Format required; a repeated MessageUniqueID is a duplicate; the "
        "routing prefix read in any case; the patient matched on province and health card "
        "version too, and only when exactly one chart fits."
    ),
}
