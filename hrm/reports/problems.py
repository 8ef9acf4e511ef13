"""A problem found in a report, and the words that name where it is (shared by the schema's
problems and the receivers' rules)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree


@dataclass
class _Problem:
    key: str  # where: local element names below PatientRecord, e.g. "Demographics/Gender"
    words: str
    details: list[str] = field(default_factory=list)

    def render(self) -> str:
        if not self.details:
            return self.words
        return f"{self.words} [schema: {'; '.join(self.details)}]"


# Plain-words names of the fields, keyed by the end of their element path.
_LABELS = {
    "OmdCds": "the file",
    "PatientRecord": "the patient record",
    "Demographics": "the patient's demographics",
    "Names": "the patient's name",
    "LegalName": "the patient's legal name",
    "LegalName/FirstName": "the patient's legal first name",
    "LegalName/FirstName/Part": "the patient's legal first name",
    "LegalName/LastName": "the patient's legal last name",
    "LegalName/LastName/Part": "the patient's legal last name",
    "PartType": "the name part type",
    "DateOfBirth": "the patient's date of birth",
    "HealthCard": "the patient's health card",
    "HealthCard/Number": "the patient's health card number",
    "HealthCard/Version": "the patient's health card version code",
    "HealthCard/ProvinceCode": "the health card's province",
    "Gender": "the patient's sex",
    "UniqueVendorIdSequence": "the vendor ID sequence",
    "PersonStatusCode": "the patient's status code",
    "ReportsReceived": "the report",
    "ReportsReceived/Media": "the delivery medium (ReportsReceived/Media)",
    "Format": "the report format (Text or Binary)",
    "FileExtensionAndVersion": "the report's file extension",
    "Content": "the report content",
    "Content/TextContent": "the message text",
    "Content/Media": "the attached file",
    "Class": "the report class",
    "SubClass": "the report subclass",
    "EventDateTime": "the report's date and time",
    "AuthorPhysician": "the author's name",
    "AuthorPhysician/FirstName": "the author's first name",
    "AuthorPhysician/LastName": "the author's last name",
    "SendingFacility": "the sending facility ID",
    "SendingFacilityReportNumber": "the sending facility report number",
    "OBRContent": "the observation details (OBRContent)",
    "ObservationDateTime": "the observation date",
    "ResultStatus": "the result status",
    "TransactionInformation": "the transaction information",
    "MessageUniqueID": "the Transaction ID (MessageUniqueID)",
    "DeliverToUserID": "the recipient's Professional ID",
    "Provider": "the recipient's name",
    "Provider/FirstName": "the recipient's first name",
    "Provider/LastName": "the recipient's last name",
}
_TYPE_WORDS = {
    "date": "a valid date (YYYY-MM-DD)",
    "dateTime": "a valid date and time (YYYY-MM-DDThh:mm:ss)",
    "gYear": "a valid year",
    "gYearMonth": "a valid year and month",
    "base64Binary": "valid base64 data",
}
# Values of these fields are patient information: kept out of messages that support may log.
_PATIENT_KEYS = ("Demographics",)


_DATE_FORMS = ("FullDate", "DateTime", "YearOnly", "YearMonth")


def _label(key: str) -> str:
    parts = key.split("/")
    if len(parts) > 1 and parts[-1] in _DATE_FORMS:
        parts = parts[:-1]  # "the patient's date of birth", whichever form it is written in
    for start in range(len(parts)):
        label = _LABELS.get("/".join(parts[start:]))
        if label:
            return label
    return f"the {parts[-1]} element"


def _key(element: etree._Element) -> str:
    names = [etree.QName(node).localname for node in (element, *element.iterancestors())]
    names.reverse()
    if names[:2] == ["OmdCds", "PatientRecord"] and len(names) > 2:
        names = names[2:]
    return "/".join(names)


def _withhold(detail: str) -> str:
    detail = re.sub(r"The value '.*' is not", "The value (withheld) is not", detail)
    return re.sub(
        r"^(Element '[^']*': )'.*' is not a valid", r"\1(withheld) is not a valid", detail
    )
