"""The stand-in EMR's own tables: its providers and patient charts, the HRM documents it filed,
and one log row per file it downloaded (OSCAR's ``HRMDocument``, ``HrmLog`` in miniature).

Nothing here refers to the product's own tables: an EMR knows only what arrives in the files and
what is on its own charts. ``sandbox_charts_sync`` copies the demo's clinicians and patients in,
because a real EMR would already have them.
"""

import re

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .emrs import emr_profile_choices

SEXES = [("M", "Male"), ("F", "Female"), ("O", "Other"), ("U", "Unknown")]

# OSCAR picks a download's MIME type from the exact extension string; anything else is a plain
# byte stream (HRM-FORMAT.md section 9).
CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".tiff": "image/tiff",
    ".rtf": "application/rtf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",  # Open-O's spelling (its data-dictionary list); OSCAR knows only .jpg
    ".gif": "image/gif",
    ".png": "image/png",
    ".html": "text/html",
}
_UNSAFE_IN_FILE_NAME = re.compile(r'[\x00-\x1f\x7f/\\"]')


class EmrProvider(models.Model):
    """A clinician with an account in the EMR. ``professional_id`` is stored the way the EMR
    routes on it: ``D`` + CPSO number or ``N`` + CNO number, exactly as ``DeliverToUserID``."""

    professional_id = models.CharField("Professional ID", max_length=9, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "EMR provider"
        ordering = ["last_name", "first_name", "professional_id"]

    def __str__(self):
        return f"{self.name} ({self.professional_id})"

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or "—"


class EmrPatient(models.Model):
    """A patient chart in the EMR: what a report's demographics are matched against."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    sex = models.CharField(max_length=1, choices=SEXES)
    date_of_birth = models.DateField()
    health_card_number = models.CharField(max_length=20, db_index=True)
    health_card_version = models.CharField(max_length=2, blank=True)
    province = models.CharField(max_length=2, default="ON")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "EMR patient chart"
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            # An EMR may hold two charts with one health card number (matching then takes the
            # first that fits, as OSCAR does), but not two copies of the same person.
            models.UniqueConstraint(
                fields=["health_card_number", "last_name", "first_name", "sex", "date_of_birth"],
                name="emr_patient_one_chart_per_person",
            )
        ]

    def __str__(self):
        return f"{self.last_name}, {self.first_name} ({self.date_of_birth:%Y-%m-%d})"


class EmrDocument(models.Model):
    """One filed HRM report. ``provider`` empty: the unassigned inbox (routing failed, the
    addressee is kept in ``unmatched_provider_*``); ``patient`` empty: not linked to a chart.

    ``emr_profile`` is the EMR whose rules filed it. Under OSCAR's rules (and Open-O's) the same
    report for another recipient is not filed again but routed to them too (``also_routed_to``),
    and a report that scores as similar to an older one is filed under it (``similar_to``) and
    left out of the clinician's document list."""

    class Format(models.TextChoices):
        TEXT = "Text", "Text"
        BINARY = "Binary", "Binary"

    message_unique_id = models.CharField("MessageUniqueID", max_length=250, unique=True)
    emr_profile = models.CharField("EMR rules", max_length=10, choices=emr_profile_choices)
    provider = models.ForeignKey(
        EmrProvider, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    deliver_to_user_id = models.CharField("DeliverToUserID", max_length=50, blank=True)
    unmatched_provider_id = models.CharField(max_length=50, blank=True)
    unmatched_provider_name = models.CharField(max_length=200, blank=True)
    patient = models.ForeignKey(
        EmrPatient, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    # The patient as the report names them, kept whether or not a chart matched (staff link an
    # unmatched report by hand from these).
    patient_first_name = models.CharField(max_length=100, blank=True)
    patient_last_name = models.CharField(max_length=100, blank=True)
    patient_sex = models.CharField(max_length=10, blank=True)
    patient_date_of_birth = models.CharField(max_length=40, blank=True)
    patient_health_card_number = models.CharField(max_length=20, blank=True)
    patient_health_card_version = models.CharField(max_length=10, blank=True)
    report_class = models.CharField("class", max_length=100)
    subclass = models.CharField(max_length=100, blank=True)
    author_name = models.CharField(
        "author as the EMR shows it",
        max_length=400,
        blank=True,
        help_text="Empty when this EMR's report page shows no author.",
    )
    author_as_written = models.CharField("AuthorPhysician in the file", max_length=600, blank=True)
    event_datetime = models.CharField("report date", max_length=40, blank=True)
    sending_facility = models.CharField(max_length=20, blank=True)
    sending_facility_report_number = models.CharField(max_length=100, blank=True)
    result_status = models.CharField(max_length=5, blank=True)
    format = models.CharField(max_length=10, choices=Format.choices)
    text = models.TextField(blank=True)
    text_markup = models.CharField(
        "markup OSCAR would interpret",
        max_length=300,
        blank=True,
        help_text="OSCAR prints a text report as HTML without escaping it.",
    )
    file_data = models.BinaryField(null=True, blank=True)
    file_extension = models.CharField(max_length=50, blank=True)
    remote_name = models.CharField("file name", max_length=255, blank=True)
    raw_xml = models.BinaryField(help_text="The decrypted file, byte for byte.")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    duplicate_count = models.PositiveIntegerField(
        default=0, help_text="How many more times this MessageUniqueID arrived (not filed again)."
    )
    last_duplicate_at = models.DateTimeField(null=True, blank=True)
    also_routed_to = models.ManyToManyField(
        EmrProvider,
        blank=True,
        related_name="routed_documents",
        help_text="The same report arrived for these providers too (OSCAR's hash of the file "
        "without its TransactionInformation): routed to them, not filed again.",
    )
    # OSCAR's MD5 hashes of the raw file (HRM-FORMAT.md 11.3); empty under Juno's rules.
    report_hash = models.CharField(max_length=32, blank=True, db_index=True)
    less_transaction_hash = models.CharField(max_length=32, blank=True, db_index=True)
    less_demographics_hash = models.CharField(max_length=32, blank=True, db_index=True)
    # MD5 of the content as the similar-report check compares it (rules.content_key).
    content_key = models.CharField(max_length=32, blank=True)
    similar_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hidden_versions",
        help_text="Set when the EMR filed this report as another version of an older one: it is "
        "then left out of the clinician's document list.",
    )
    similarity_score = models.PositiveSmallIntegerField(null=True, blank=True)
    hidden_reason = models.TextField(blank=True)
    # The version chain (SendingFacility + SendingFacilityReportNumber + DeliverToUserID): the
    # document lists show the chain's current document and offer the others as its prior
    # versions, as each EMR's ``HRMUtil`` does (``Emr.is_newer``).
    current_version = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prior_versions",
        help_text="Set on a prior version: the document of its chain that the EMR shows.",
    )
    facility_notice = models.TextField(
        blank=True,
        help_text="What the EMR told its administrator about the Sending Facility (Open-O: an "
        "unregistered one).",
    )

    class Meta:
        verbose_name = "EMR document"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="emr_document_text_or_file",
                condition=Q(format="Text", file_data__isnull=True)
                | Q(format="Binary", file_data__isnull=False),
            ),
            models.CheckConstraint(
                name="emr_document_hidden_says_why",
                condition=Q(similar_to__isnull=True, hidden_reason="")
                | (Q(similar_to__isnull=False) & ~Q(hidden_reason="")),
            ),
            models.CheckConstraint(
                name="emr_document_routed_or_unmatched",
                condition=Q(provider__isnull=True)
                | Q(unmatched_provider_id="", unmatched_provider_name=""),
            ),
        ]

    def __str__(self):
        return f"{self.report_class} for {self.patient_display} ({self.message_unique_id})"

    @property
    def patient_display(self) -> str:
        return ", ".join(p for p in (self.patient_last_name, self.patient_first_name) if p) or "—"

    @property
    def is_hidden(self) -> bool:
        return self.similar_to_id is not None

    @property
    def is_prior_version(self) -> bool:
        return self.current_version_id is not None

    @property
    def chain_key(self) -> tuple[str, str, str]:
        return (self.sending_facility, self.sending_facility_report_number, self.deliver_to_user_id)

    @property
    def result_status_shown(self) -> str:
        from .emrs import emr_rules

        return emr_rules(self.emr_profile).result_status_shown(self.result_status)

    @property
    def is_binary(self) -> bool:
        return self.format == self.Format.BINARY

    @property
    def subclass_display(self) -> str:
        """OSCAR's detail view: the part after ``^`` when there are exactly two parts."""
        parts = self.subclass.split("^")
        return parts[1] if len(parts) == 2 else self.subclass

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.file_extension, "application/octet-stream")

    @property
    def download_name(self) -> str:
        """OSCAR's ``Last-First-Class<ext>`` with spaces as ``_`` (and nothing that could break
        out of a file name or a header)."""
        name = f"{self.patient_last_name}-{self.patient_first_name}-{self.report_class}"
        name += self.file_extension
        return _UNSAFE_IN_FILE_NAME.sub("", name.replace(" ", "_")) or "report"


class EmrSendingFacility(models.Model):
    """Open-O's registry of HRM Sending Facilities: a report from a facility not in it is filed,
    with its raw ID shown and an "Unregistered HRM Sending Facility" notice for the clinic's
    administrator, who registers it here."""

    facility_id = models.CharField("SendingFacility", max_length=20, unique=True)
    name = models.CharField(max_length=200)
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "EMR registered HRM Sending Facility"
        ordering = ["facility_id"]

    def __str__(self):
        return f"{self.name} ({self.facility_id})"


class EmrRetrievalLog(models.Model):
    """One row per file downloaded from the HRM folder, like OSCAR's ``HrmLog``: what became of
    it and, for a refused file, why in plain words. Refused files are not filed anywhere."""

    class Outcome(models.TextChoices):
        FILED = "filed", "Filed"
        DUPLICATE = "duplicate", "Duplicate (counted, not filed again)"
        ROUTED = "routed", "Same report for another recipient (routed to them, not filed again)"
        REFUSED = "refused", "Refused"

    file_name = models.CharField(max_length=255)
    emr_profile = models.CharField("EMR rules", max_length=10, choices=emr_profile_choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True)
    detail = models.TextField(
        blank=True, help_text="What else the EMR did with it, e.g. hid it or routed it on."
    )
    message_unique_id = models.CharField("MessageUniqueID", max_length=250, blank=True)
    document = models.ForeignKey(
        EmrDocument, null=True, blank=True, on_delete=models.SET_NULL, related_name="retrievals"
    )
    retrieved_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "EMR retrieval log entry"
        verbose_name_plural = "EMR retrieval log"
        ordering = ["-retrieved_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="emr_retrieval_refused_says_why",
                condition=(Q(outcome="refused") & ~Q(error="") & Q(document__isnull=True))
                | (Q(outcome__in=["filed", "duplicate", "routed"]) & Q(error="")),
            ),
        ]

    def __str__(self):
        return f"{self.file_name}: {self.get_outcome_display()}"
