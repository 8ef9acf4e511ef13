"""The sandbox EMR's pages: off unless enabled, signed-in users only, text escaped, files
downloaded with OSCAR's names and types, refused files listed with their error."""

import pytest
from django.contrib import admin
from django.urls import reverse

from hrm.report_xml import ReportText
from hrm.sandbox.models import EmrDocument, EmrPatient, EmrProvider, EmrRetrievalLog
from hrm.sandbox.services import sandbox_file_report

from ..factories import make_user
from .conftest import PDF, xml_for

INDEX = "/sandbox/emr/"


@pytest.fixture
def filed(emr):
    """A text report and a PDF for Dr. Nguyen, an unmatched report in the unassigned inbox, and a
    refused file."""
    text = "Seen today <b>&</b> booked.\nPlan: echo."
    return {
        "text": sandbox_file_report(xml_for(content=ReportText(text)), "t.xml.enc").document,
        "pdf": sandbox_file_report(xml_for(pdf=True), "p.xml.enc").document,
        "unmatched": sandbox_file_report(
            xml_for(recipient="D55555", patient={"sex": "M"}), "u.xml.enc"
        ).document,
        "refused": sandbox_file_report(b"<nope", "r.xml.enc"),
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


def test_signed_out_visitors_are_sent_to_sign_in(filed, client, sandbox_on):
    response = client.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    download = reverse("hrm_sandbox:document_download", args=[filed["pdf"].pk])
    assert client.get(download).status_code == 302


def test_the_index_counts_each_inbox(filed, reader, sandbox_on):
    page = reader.get(INDEX).content.decode()
    nguyen = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    row = page[page.index(nguyen) :].split("</tr>")[0]
    assert "Alice Nguyen" in row and "<td>2</td>" in row and "<td>0</td>" in row
    unassigned = page[page.index("Unassigned inbox") :].split("</tr>")[0]
    assert unassigned.count("<td>1</td>") == 2  # one document, and it is not linked
    assert "1 file refused" in page


def test_a_text_report_is_escaped_with_its_line_breaks_and_a_pdf_is_a_download(
    filed, reader, sandbox_on
):
    url = reverse("hrm_sandbox:provider_inbox", args=[filed["text"].provider_id])
    page = reader.get(url).content.decode()
    # As the EMR received it: the markup guarded by an invisible word joiner, then escaped.
    assert "Seen today &lt;\u2060b&gt;&amp;&lt;\u2060/b&gt; booked.\nPlan: echo." in page
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
        assert client.get(reverse(f"{name}_changelist"), {"q": "Tremblay"}).status_code == 200
        change = reverse(f"{name}_change", args=[model.objects.first().pk])
        assert client.get(change).status_code == 200, change
    document = reverse("admin:hrm_sandbox_emrdocument_change", args=[filed["pdf"].pk])
    assert "XML size" in client.get(document).content.decode()
    assert client.get(reverse("admin:hrm_sandbox_emrdocument_add")).status_code == 403
