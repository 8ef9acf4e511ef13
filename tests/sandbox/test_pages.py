"""The sandbox EMR's pages: off unless enabled, signed-in users only, text escaped, files
downloaded with OSCAR's names and types, refused files listed with their error, hidden reports
shown as hidden with why, the author as the EMR shows it, the EMR profile in use."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from directory.models import User
from hrm.delivery.transports import remote_name_for
from hrm.models import HrmReport
from sandbox.models import EmrDocument, EmrPatient, EmrProvider, EmrRetrievalLog
from sandbox.services.filing import sandbox_file_report

from ..admin_pages import admin_search
from ..factories import make_user
from ..support.conftest import post_message
from .conftest import PDF, hrm_xml

INDEX = "/sandbox/emr/"


@pytest.fixture
def filed(emr):
    """For Dr. Nguyen: a text report, a PDF with its own time and an addendum sharing the text's
    time (so Open-O hides it under the text); the same text routed to Nurse Okafor too; an
    unmatched report in the unassigned inbox; two refused files."""
    text = "Seen today <b>&</b> booked.\nPlan: echo."
    at = "2026-03-02T10:04:05"

    def file(name, **changes):
        return sandbox_file_report(hrm_xml(**changes), name)

    return {
        "text": file("t.xml.enc", text=text, event_datetime=at, report_number="T").document,
        "pdf": file(
            "p.xml.enc", media=PDF, extension=".pdf", event_datetime="2026-03-02T10:04:06"
        ).document,
        "hidden": file("h.xml.enc", text="Addendum: echo booked.", event_datetime=at).document,
        "routed": file(
            "o.xml.enc",
            text=text,
            event_datetime=at,
            report_number="T",
            deliver_to="N1234567",
            provider=("Grace", "Okafor"),
        ),
        "unmatched": file(
            "u.xml.enc", deliver_to="D55555", sex="M", event_datetime="2026-03-03T09:00:00"
        ).document,
        "refused": sandbox_file_report(b"<nope", "r.xml.enc"),
        "refused_txt": file("x.xml.enc", extension=".txt"),
    }


@pytest.fixture
def reader(db, client):
    client.force_login(make_user(username="reader"))
    return client


def test_every_page_is_404_unless_the_sandbox_is_enabled(filed, reader, settings):
    settings.HRM_SANDBOX_ENABLED = False
    urls = [
        INDEX,
        reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id]),
        reverse("hrm_sandbox:unassigned_inbox"),
        reverse("hrm_sandbox:document_download", args=[filed["pdf"].pk]),
        reverse("hrm_sandbox:log"),
    ]
    for url in urls:
        assert reader.get(url).status_code == 404, url
    settings.HRM_SANDBOX_ENABLED = True
    for url in urls:
        assert reader.get(url).status_code == 200, url


def test_the_navigation_links_the_inbox_only_while_the_sandbox_is_on(reader, settings):
    link = f'<a href="{INDEX}">Sandbox EMR</a>'
    settings.HRM_SANDBOX_ENABLED = False
    assert link not in reader.get(reverse("referrals:inbox")).content.decode()
    settings.HRM_SANDBOX_ENABLED = True
    assert link in reader.get(reverse("referrals:inbox")).content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(filed, client, sandbox_on):
    response = client.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    download = reverse("hrm_sandbox:document_download", args=[filed["pdf"].pk])
    assert client.get(download).status_code == 302


def row_cells(page: str, marker: str) -> list[str]:
    """The cells' text of the table row holding ``marker``."""
    row = page[page.index(marker) :].split("</tr>")[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.split(r"<td[^>]*>", row)[1:]]


def test_the_index_counts_each_inbox(filed, reader, sandbox_on):
    User.objects.filter(username="reader").update(is_staff=True)  # staff see every inbox
    page = reader.get(INDEX).content.decode()
    nguyen = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    okafor = EmrProvider.objects.get(professional_id="N1234567")
    # Documents shown, hidden as prior versions, not linked to a patient.
    assert row_cells(page, nguyen) == ["D12345", "2", "1", "0"]
    okafor_inbox = reverse("hrm_sandbox:provider_inbox", args=[okafor.pk])
    assert row_cells(page, okafor_inbox) == ["N1234567", "1", "0", "0"]  # the routed text
    assert row_cells(page, "Unassigned inbox") == ["—", "1", "0", "1"]
    assert "2 files refused by this EMR" in page and "0 refused by HRM's server" in page
    assert 'class="emr-profile">Open-O</strong>' in page


def test_the_pages_name_the_profile_in_use(filed, reader, sandbox_on):
    sandbox_on.HRM_SANDBOX_EMR_PROFILE = "juno"
    page = reader.get(reverse("hrm_sandbox:log")).content.decode()
    assert 'class="emr-profile">Juno</strong>' in page and "Format required" in page
    # Each row still says whose rules filed it.
    assert row_cells(page, "t.xml.enc")[0] == "Open-O"


def test_a_text_report_is_escaped_with_its_line_breaks_and_a_pdf_is_a_download(
    filed, reader, sandbox_on
):
    url = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    page = reader.get(url).content.decode()
    # A hand-built file, markup unguarded: shown escaped, as typed (and flagged, below).
    assert "Seen today &lt;b&gt;&amp;&lt;/b&gt; booked.\nPlan: echo." in page
    assert "<b>&</b>" not in page
    assert filed["text"].message_unique_id in page
    assert "Linked to chart #" in page and "Not linked to a patient" not in page
    download = reverse("hrm_sandbox:document_download", args=[filed["pdf"].pk])
    assert f'href="{download}"' in page
    assert "Download Tremblay-Hélène-Consultant_Report.pdf" in page
    # Newest first: the PDF was filed after the text.
    assert page.index(f'id="document-{filed["pdf"].pk}"') < page.index(
        f'id="document-{filed["text"].pk}"'
    )


def test_the_pdf_downloads_with_oscars_name_and_type(filed, reader, sandbox_on):
    response = reader.get(reverse("hrm_sandbox:document_download", args=[filed["pdf"].pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "Tremblay-H%C3%A9l%C3%A8ne-Consultant_Report.pdf" in disposition
    assert response["Cache-Control"] == "private, no-store"


def test_a_text_report_has_no_file_to_download(filed, reader, sandbox_on):
    url = reverse("hrm_sandbox:document_download", args=[filed["text"].pk])
    assert reader.get(url).status_code == 404


def test_an_unmatched_report_is_flagged_in_words_with_its_addressee(filed, reader, sandbox_on):
    page = reader.get(reverse("hrm_sandbox:unassigned_inbox")).content.decode()
    assert (
        "Not linked to a patient:</strong> no chart matches health card, last name, sex and "
        "date of birth." in page
    )
    assert "Alice Nguyen (D55555): no provider of this EMR has that ID" in page
    assert filed["unmatched"].message_unique_id in page


def test_the_log_lists_refused_files_with_their_error(filed, reader, sandbox_on):
    page = reader.get(reverse("hrm_sandbox:log")).content.decode()
    assert "r.xml.enc" in page and "not well-formed XML" in page
    assert "Refused" in page and "In the unassigned inbox" in page


def test_the_sandbox_tables_have_working_admin_pages(filed, client):
    client.force_login(make_user(username="admin", is_staff=True, is_superuser=True))
    for model in (EmrProvider, EmrPatient, EmrDocument, EmrRetrievalLog):
        assert admin.site.is_registered(model)
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert client.get(reverse(f"{name}_changelist")).status_code == 200, name
        assert admin_search(client, reverse(f"{name}_changelist"), "Tremblay").status_code == 200
        change = reverse(f"{name}_change", args=[model.objects.first().pk])
        assert client.get(change).status_code == 200, change
    document = reverse("admin:hrm_sandbox_emrdocument_change", args=[filed["pdf"].pk])
    assert "XML size" in client.get(document).content.decode()
    assert client.get(reverse("admin:hrm_sandbox_emrdocument_add")).status_code == 403


def article(page: str, document) -> str:
    start = page.index(f'id="document-{document.pk}"')
    return page[start : page.index("</article>", start)]


def test_a_hidden_report_is_shown_as_hidden_with_the_report_that_hid_it_and_why(
    filed, reader, sandbox_on
):
    url = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    page = reader.get(url).content.decode()
    hidden = article(page, filed["hidden"])
    assert "Hidden: " in hidden and "emr-hidden" in page
    assert "Hidden as a prior version:</strong> Open-O filed this report under" in hidden
    assert f'href="#document-{filed["text"].pk}">document #{filed["text"].pk}</a>' in hidden
    assert "Scored 45 against document" in hidden
    assert "report date equal +20 = 45" in hidden
    for shown in (filed["text"], filed["pdf"]):
        assert "Hidden as a prior version" not in article(page, shown)


def test_the_author_is_shown_as_the_emr_shows_it(filed, reader, sandbox_on, settings):
    url = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    page = reader.get(url).content.decode()
    assert 'Lee François <span class="muted">(as Open-O shows it)</span>' in article(
        page, filed["text"]
    )
    oscar = sandbox_file_report(
        hrm_xml(report_number="OS", event_datetime="2026-04-01T08:00:00"),
        "os.xml.enc",
        profile="oscar",
    ).document
    page = reader.get(url).content.decode()
    assert 'None shown <span class="muted">(as OSCAR shows it)</span>' in article(page, oscar)


def test_a_text_report_with_markup_is_flagged_and_plain_text_is_not(filed, reader, sandbox_on):
    url = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    page = reader.get(url).content.decode()
    flagged = article(page, filed["text"])
    assert "Markup OSCAR would interpret:" in flagged
    assert "it contains &lt;b, &amp;lt;/b" not in flagged  # escaped once, not twice
    assert "(it contains &lt;b, &lt;/b)" in flagged
    assert "Markup OSCAR would interpret" not in article(page, filed["hidden"])


def test_a_report_routed_to_another_recipient_is_in_their_inbox_too(filed, reader, sandbox_on):
    okafor = EmrProvider.objects.get(professional_id="N1234567")
    page = reader.get(reverse("hrm_sandbox:provider_inbox", args=[okafor.pk])).content.decode()
    routed = article(page, filed["text"])
    assert "Routed here" in routed and "after it was filed for Alice Nguyen (D12345)" in routed
    assert page.count("<article") == 1


def test_the_log_gives_each_refusal_and_what_else_the_emr_did(filed, reader, sandbox_on):
    page = reader.get(reverse("hrm_sandbox:log")).content.decode()
    refused = row_cells(page, "x.xml.enc")
    assert refused[0] == "Open-O" and "Refused" in refused[1]
    assert (
        "Open-O refuses this file: a text report&#x27;s FileExtensionAndVersion must be "
        "&#x27;From OMD Report Manager&#x27;; it is &#x27;.txt&#x27;." in refused[3]
    )
    routed = row_cells(page, "o.xml.enc")
    assert "Same report for another recipient" in routed[1]
    assert "routed to Grace Okafor (N1234567) as well." in routed[3]
    assert "Scored 45 against document" in row_cells(page, "h.xml.enc")[3]


# --- A clinician's own inbox, and the files refused on the way to it --------------------------


def refusal_cells(page: str, transaction_id: str) -> list[str]:
    """The cells' text of the refusals table row for this Transaction ID."""
    at = page.index(f'<td class="transaction-id">{transaction_id}</td>')
    return row_cells(page, page[page.rindex("<tr", 0, at) : at])


RECIPIENT_REFUSED = (
    "HRM SFTP server 127.0.0.1:2222 denied user 'hrm' permission to rename files in folder "
    "'/inbox' (x.xml.enc). HRM takes other files, so it refuses this file only, not the "
    "folder: most often HRM does not know its recipient CPSO 12345; not retrying."
)


@pytest.fixture
def refused_on_the_way(live, emr, sandbox_on):
    """For Dr. Nguyen (D12345): one report HRM's server refused, one this EMR collected and
    refused; for Nurse Okafor, one HRM's server refused."""
    reports = post_message(live, text="Seen today.").hrm_reports.all()
    by_hrm = reports.get(deliver_to_user_id="D12345")
    HrmReport.objects.filter(pk=by_hrm.pk).update(
        status=HrmReport.Status.FAILED, last_error=RECIPIENT_REFUSED
    )
    okafor = reports.get(deliver_to_user_id="N1234567")
    HrmReport.objects.filter(pk=okafor.pk).update(
        status=HrmReport.Status.FAILED, last_error=RECIPIENT_REFUSED.replace("12345", "1234567")
    )
    by_emr = post_message(live, text="Addendum.").hrm_reports.get(deliver_to_user_id="D12345")
    EmrRetrievalLog.objects.create(
        file_name=remote_name_for(by_emr.transaction_id),
        emr_profile="open-o",
        outcome=EmrRetrievalLog.Outcome.REFUSED,
        error="Open-O refuses a date of birth in the future.",
        message_unique_id=by_emr.transaction_id,
    )
    return {"by_hrm": by_hrm, "by_emr": by_emr, "okafor": okafor}


def test_a_clinician_opens_on_their_own_inbox_with_both_kinds_of_refusal(
    refused_on_the_way, live, client_for
):
    page = client_for(live.world.referrer).get(INDEX).content.decode()

    assert "Your inbox in the sandbox EMR" in page and "Alice Nguyen, D12345" in page
    assert "Sandbox EMR inboxes" not in page and "Okafor" not in page
    assert ">My inbox</a>" in page
    by_hrm = refusal_cells(page, refused_on_the_way["by_hrm"].transaction_id)
    assert by_hrm[1] == "HRM's server"
    # The clinician reads the plain words, never the server's details.
    assert "Alice Nguyen" in by_hrm[3] and "127.0.0.1" not in by_hrm[3]
    by_emr = refusal_cells(page, refused_on_the_way["by_emr"].transaction_id)
    assert by_emr[1:] == [
        "This EMR (Open-O rules)",
        refused_on_the_way["by_emr"].transaction_id,
        "Open-O refuses a date of birth in the future.",
    ]
    assert refused_on_the_way["okafor"].transaction_id not in page


def test_staff_still_see_every_inbox_and_every_refusal_by_hrms_server(
    refused_on_the_way, live, client_for
):
    staff = make_user(username="support.kim", is_staff=True)
    index = client_for(staff).get(INDEX).content.decode()
    assert "Sandbox EMR inboxes" in index
    assert "1 file refused by this EMR" in index and "2 refused by HRM's server" in index

    log = client_for(staff).get(reverse("hrm_sandbox:log")).content.decode()
    assert "Refused by HRM's server, never collected" in log
    for report in ("by_hrm", "okafor"):
        row = refusal_cells(log, refused_on_the_way[report].transaction_id)
        assert row[1] == "HRM's server" and "127.0.0.1:2222" in row[3]  # support's details


def test_a_clinician_without_an_inbox_is_told_why(emr, sandbox_on, client_for):
    page = client_for(make_user(username="dr.nobody")).get(INDEX).content.decode()
    assert "No inbox for you in the sandbox EMR" in page
    assert "Your account has no Professional ID" in page


def test_the_banner_says_what_the_sandbox_is_in_plain_words(reader, sandbox_on):
    page = reader.get(INDEX).content.decode()
    banner = re.sub(r"<[^>]+>", "", page[page.index('class="sandbox-banner"') :])
    assert "Practice EMR, for the demo only." in banner
    assert "No real EMR or patient chart is touched." in banner
    assert "HRM_SANDBOX_EMR_PROFILE" in banner.split("How Open-O files or refuses a report")[1]
    first_sentence = banner.split("How Open-O")[0]
    for jargon in ("HRM_SANDBOX_EMR_PROFILE", "schema", "DeliverToUserID", "stand-in"):
        assert jargon not in first_sentence, jargon
