"""Start-up checks of the HRM settings, so a misconfiguration shows at `manage.py check` rather
than as failed deliveries."""

import re
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from directory.text_limits import utf16_length
from hrm.reports.crypto import key_from_hex
from hrm.reports.types import REPORT_CLASSES

# The schema's SendingFacility is a token of at most 4; OntarioMD's IDs are letters and digits.
SENDING_FACILITY = re.compile(r"[A-Za-z0-9]{1,4}")


@register(Tags.compatibility)
def hrm_settings_check(app_configs, **kwargs):
    problems = []
    if settings.HRM_TRANSPORT not in ("folder", "sftp"):
        problems.append(Error("HRM_TRANSPORT must be 'folder' or 'sftp'.", id="hrm.E001"))
    if not SENDING_FACILITY.fullmatch(settings.HRM_SENDING_FACILITY):
        problems.append(
            Error(
                f"HRM_SENDING_FACILITY is {settings.HRM_SENDING_FACILITY!r}; it must be the ID "
                "OntarioMD assigned: 1 to 4 letters or digits (the schema's token of at most 4, "
                "as in 1234 or P100).",
                id="hrm.E002",
            )
        )
    name = settings.HRM_SENDING_FACILITY_NAME
    if not name.strip() or len(name) > 200 or name != name.strip():
        problems.append(
            Error(
                "HRM_SENDING_FACILITY_NAME must be the facility's name as OntarioMD registered "
                "it: 1 to 200 characters, no leading or trailing spaces.",
                id="hrm.E008",
            )
        )
    if settings.HRM_REPORT_CLASS not in REPORT_CLASSES:
        problems.append(
            Error(
                f"HRM_REPORT_CLASS must be one of {', '.join(REPORT_CLASSES)} (spelled exactly, "
                "or every report fails validation).",
                id="hrm.E006",
            )
        )
    subclass = settings.HRM_REPORT_SUBCLASS
    parts = subclass.split("^")
    if utf16_length(subclass) > 60 or len(parts) > 2 or (len(parts) == 2 and not parts[1]):
        problems.append(
            Error(
                "HRM_REPORT_SUBCLASS must be at most 60 characters, plain text or code^description "
                "with a description after the caret (OSCAR shows the part after it).",
                id="hrm.E007",
            )
        )
    if settings.HRM_AES_KEY:
        try:
            key_from_hex(settings.HRM_AES_KEY)
        except ValueError as error:
            problems.append(Error(f"HRM_AES_KEY: {error}", id="hrm.E003"))
    for setting in (
        "HRM_DELIVERY_BATCH_SIZE",
        "HRM_DELIVERY_PIPELINE_REPORTS",
        "HRM_DELIVERY_PIPELINE_BYTES",
        "HRM_DELIVERY_OPEN_FILES",
    ):
        value = getattr(settings, setting)
        if not isinstance(value, int) or value < 1:
            problems.append(
                Error(
                    f"{setting} is {value!r}; it must be a whole number, 1 or more.",
                    id="hrm.E009",
                )
            )
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    limits = [
        ("HRM_SFTP_TIMEOUT_SECONDS", settings.HRM_SFTP_TIMEOUT_SECONDS),
        ("HRM_TASK_SOFT_TIME_LIMIT", settings.HRM_TASK_SOFT_TIME_LIMIT),
        ("HRM_TASK_TIME_LIMIT", settings.HRM_TASK_TIME_LIMIT),
        ("HRM_SENDING_STALE_SECONDS", settings.HRM_SENDING_STALE_SECONDS),
        ("visibility_timeout", visibility),
    ]
    for (low_name, low), (high_name, high) in zip(limits, limits[1:], strict=False):
        if not low < high:
            problems.append(
                Error(
                    f"{low_name} ({low}) must be below {high_name} ({high}), or a late-acked "
                    "delivery could run twice.",
                    id="hrm.E004",
                )
            )
    max_countdown = settings.HRM_RETRY_MAX_COUNTDOWN_SECONDS
    if max_countdown * 2 > visibility:
        problems.append(
            Error(
                "HRM_RETRY_MAX_COUNTDOWN_SECONDS must be at most half the visibility timeout.",
                id="hrm.E005",
            )
        )
    if not Path(settings.HRM_SCHEMA).is_file():
        problems.append(
            Warning(
                f"HRM_SCHEMA {settings.HRM_SCHEMA} is not a file: reports cannot be validated, "
                "so none will be sent.",
                id="hrm.W001",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def hrm_deploy_check(app_configs, **kwargs):
    if not settings.HRM_AES_KEY:
        return [Warning("HRM_AES_KEY is not set: no report can be encrypted.", id="hrm.W002")]
    return []
