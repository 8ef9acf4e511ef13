"""The older OSCAR (scoophealth/oscar): the schema, the required fields, the three hashes and
the similar-report check, one document per version chain, no Open-O refusals, and no author on
its report page."""

from .base import Emr


class Oscar(Emr):
    name = "oscar"
    label = "OSCAR"
    rules_in_words = (
        "the v1.1.2 schema and OSCAR's required fields; OSCAR's duplicate hashes (the same file "
        "again is counted, the same report for another recipient is routed to them); the "
        "similar-report check (a report scoring 45 or more against an older one of the same "
        "patient is hidden); one document per version chain; text reports shown as HTML, "
        "without escaping."
    )
    # Its report page shows no author: the stored ``displayHRMReport.jsp`` has no author row,
    # and ``getFirstReportAuthorPhysician`` splits on "^" as a regular expression, which never
    # splits, so it fails for any value. ``Emr.author_shown`` already shows none.
