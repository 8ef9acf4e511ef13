# The error class is decided where an error is raised from now on; the reports that failed or
# wait for a retry before that get theirs once, here, from their stored wording (the rules that
# classified them until then). The only place an error's wording is read.

import re

from django.conf import settings
from django.db import migrations, models

_GAVE_UP = re.compile(r"^Gave up after \d+ attempts? over [\d.]+ hours?\. Last error: ", re.S)

# First match wins: the most specific wording first.
_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("invalid", re.compile(r"^The report was not sent because")),
    ("sender", re.compile(r"^Not sent: ")),
    ("missing_file", re.compile(r"attached file is missing")),
    ("build", re.compile(r"could not be built")),
    ("worker", re.compile(r"worker stopped")),
    # The second wording is the one stored before 2026-12 (kept for the reports written then).
    (
        "recipient",
        re.compile(r"so it refuses this file only|so it is this file it refuses"),
    ),
    ("host_key", re.compile(r"host key", re.I)),
    ("authentication", re.compile(r"refused the key|passphrase|private key", re.I)),
    ("configuration", re.compile(r"known hosts file|not a plain file name", re.I)),
    ("permission", re.compile(r"permission", re.I)),
    ("folder", re.compile(r"does not exist")),
    (
        "unreachable",
        re.compile(
            r"refused the connection|did not answer|did not start SSH|cannot be resolved|"
            r"connection failed|connection to .* dropped|while connecting|could not write|"
            r"could not (stage|promote|rename|write|upload)|was gone when",
            re.I | re.S,
        ),
    ),
]


def _classify(error: str) -> str:
    cause = _GAVE_UP.sub("", error or "")
    if not cause:
        return ""
    for error_class, pattern in _PATTERNS:
        if pattern.search(cause):
            return error_class
    return "unexpected"


def classify_existing(apps, schema_editor):
    HrmReport = apps.get_model("hrm", "HrmReport")
    reports = HrmReport.objects.exclude(last_error="").filter(error_class="")
    by_class: dict[str, list[int]] = {}
    for pk, error in reports.values_list("pk", "last_error").iterator(chunk_size=2000):
        by_class.setdefault(_classify(error), []).append(pk)
    for error_class, ids in by_class.items():
        for start in range(0, len(ids), 5000):
            HrmReport.objects.filter(pk__in=ids[start : start + 5000]).update(
                error_class=error_class
            )


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0004_listing_clinician_changes"),
        ("hrm", "0011_report_versions"),
        ("referrals", "0004_names_one_line"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="hrmreport",
            name="error_class",
            field=models.CharField(
                blank=True,
                choices=[
                    ("unreachable", "HRM unreachable"),
                    ("authentication", "Our key refused"),
                    ("host_key", "HRM's host key not pinned"),
                    ("folder", "HRM folder missing or closed"),
                    ("permission", "Permission refused"),
                    ("recipient", "This file refused"),
                    ("configuration", "Our configuration"),
                    ("invalid", "Report invalid"),
                    ("missing_file", "Attachment missing"),
                    ("build", "Report could not be built"),
                    ("worker", "Worker stopped"),
                    ("sender", "Sender no longer approved"),
                    ("unexpected", "Unexpected error"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="hrmreport",
            index=models.Index(
                condition=models.Q(("status", "failed")),
                fields=["error_class"],
                name="hrm_report_failed_class",
            ),
        ),
        migrations.RunPython(classify_existing, migrations.RunPython.noop),
    ]
