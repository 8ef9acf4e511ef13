"""Programs must not pass as plain text, and a download is named after its checked content."""

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from referrals.models import Attachment, Message
from referrals.sample_files import consultation_letter_pdf

from ..factories import pdf_upload
from .test_messages import MB, post

PROGRAMS = {
    "run.bat": b"@echo off\r\nstart calc.exe\r\n",
    "run.cmd": b'Set s = CreateObject("WScript.Shell")\r\n',
    "script.vbs": b'Set s = CreateObject("WScript.Shell")\ns.Run "calc"\n',
    "script.js": b'var s = new ActiveXObject("WScript.Shell"); s.Run("calc");\n',
    "notes.sh": b"#!/bin/sh\nrm -rf ~\n",
    "notes.txt.sh": b"echo hello\n",
    "app.hta": b"<html><head><HTA:APPLICATION/><script>alert(1)</script></head></html>",
    "notes": b"Plain words, but no .txt name.\n",
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_text_named_as_a_program_is_refused(world, referral, client_for, name):
    upload = SimpleUploadedFile(name, PROGRAMS[name])
    response = post(client_for(world.referrer), referral, text="See file", files=[upload])
    assert response.status_code == 400
    page = response.content.decode()
    assert f"“{name}”" in page
    assert "Only plain text named .txt" in page or "is not an allowed file type" in page
    assert not Message.objects.exists()


def test_a_shell_script_named_txt_is_refused_by_its_content(world, referral, client_for):
    upload = SimpleUploadedFile("notes.txt", b"#!/bin/sh\nrm -rf ~\n")
    response = post(client_for(world.referrer), referral, files=[upload])
    assert response.status_code == 400
    assert "is not an allowed file type" in response.content.decode()
    assert not Attachment.objects.exists()


def test_plain_text_named_txt_is_accepted_whatever_the_case(world, referral, client_for):
    upload = SimpleUploadedFile("Notes.TXT", "Blood pressure 120/80.\nHélène.\n".encode())
    assert post(client_for(world.referrer), referral, files=[upload]).status_code == 302
    assert Attachment.objects.get().content_type == "text/plain"


def _download(client, referral, attachment):
    return client.get(f"/referrals/{referral.pk}/attachments/{attachment.pk}/")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("run.hta", "run.pdf"), ("letter.PDF", "letter.pdf"), ("report", "report.pdf")],
)
def test_a_download_carries_the_extension_of_its_content(
    world, referral, client_for, name, expected
):
    """A PDF holding HTML and script, named .hta, is stored as a PDF and downloads as one:
    nothing on the reader's computer would run it with mshta."""
    upload = pdf_upload(name, ["<html><script>alert(1)</script></html>"])
    post(client_for(world.referrer), referral, files=[upload])
    attachment = Attachment.objects.get()
    assert attachment.content_type == "application/pdf"
    for reader in (world.referrer, world.specialist, world.colleague, world.intake):
        response = _download(client_for(reader), referral, attachment)
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{expected}"'
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Content-Type-Options"] == "nosniff"
    page = client_for(world.specialist).get(referral.get_absolute_url()).content.decode()
    assert f">{expected}</a>" in page
    for persona in (world.stranger,):
        assert _download(client_for(persona), referral, attachment).status_code == 404


def test_anonymous_download_goes_to_sign_in(world, referral, client_for, client):
    post(client_for(world.referrer), referral, files=[pdf_upload()])
    response = _download(client, referral, Attachment.objects.get())
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def pdf_of_size(size: int) -> bytes:
    """A PDF that opens (as the upload check requires), exactly ``size`` bytes long."""
    padding = size
    for _ in range(5):
        data = consultation_letter_pdf(["Letter"], padding_bytes=padding)
        if len(data) == size:
            return data
        padding += size - len(data)
    raise AssertionError(f"could not make a PDF of {size} bytes")


def test_one_byte_over_the_limit_says_so_truthfully(world, referral, client_for, settings):
    limit = settings.ATTACHMENT_MAX_BYTES
    assert limit == 10 * MB
    client = client_for(world.referrer)
    over = SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (limit + 1 - 9))
    response = post(client, referral, text="See file", files=[over])
    page = response.content.decode()
    assert response.status_code == 400
    # filesizeformat keeps "10.0 MB" on one line with a no-break space.
    assert "“big.pdf” is larger than the 10.0\xa0MB (10,485,760 bytes) allowed" in page
    assert "See file" in page and not Message.objects.exists()
    exact = SimpleUploadedFile("exact.pdf", pdf_of_size(limit))
    assert post(client, referral, files=[exact]).status_code == 302
    assert Attachment.objects.get().size == limit


def test_the_size_check_names_both_sizes_when_they_round_alike(settings):
    from django.core.exceptions import ValidationError

    from referrals.attachments import attachment_inspect

    upload = SimpleUploadedFile(
        "big.pdf", b"%PDF-1.4\n" + b"0" * (settings.ATTACHMENT_MAX_BYTES - 8)
    )
    with pytest.raises(ValidationError) as refused:
        attachment_inspect(upload)
    assert refused.value.messages == [
        "“big.pdf” is 10.0\xa0MB (10,485,761 bytes), larger than the 10.0\xa0MB (10,485,760 "
        "bytes) allowed for each file."
    ]


def test_an_upload_is_read_and_checked_once_for_the_form_and_the_service():
    from referrals.attachments import attachment_inspect

    class CountedReads(io.BytesIO):
        reads = 0

        def read(self, *args):
            self.reads += 1
            return super().read(*args)

    letter, other = pdf_upload().read(), pdf_upload(lines=["Another letter"]).read()
    upload = SimpleUploadedFile("letter.pdf", b"")
    upload.file, upload.size = CountedReads(letter), len(letter)
    checked = attachment_inspect(upload)
    reads = upload.file.reads
    assert reads and checked == ("application/pdf", hashlib.sha256(letter).hexdigest())
    assert attachment_inspect(upload) == checked and upload.file.reads == reads
    assert upload.tell() == 0
    # Another file in its place is checked afresh.
    upload.file, upload.size = CountedReads(other), len(other)
    assert attachment_inspect(upload)[1] == hashlib.sha256(other).hexdigest()


def test_a_pdf_that_does_not_open_is_refused_at_upload(world, referral, client_for):
    # libmagic calls it a PDF from its first bytes; Open-O opens it with PDFBox and refuses it.
    damaged = SimpleUploadedFile("letter.pdf", b"%PDF-1.7\n" + b"\x00 not really a PDF " * 50)
    response = post(client_for(world.referrer), referral, text="Letter", files=[damaged])
    assert response.status_code == 400
    assert "starts like a PDF but cannot be opened as one" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Letter %22final%22.pdf", 'Letter "final".pdf'),
        ("two%0Alines.pdf", "two lines.pdf"),
        ("100% sure.pdf", "100% sure.pdf"),
    ],
)
def test_a_file_name_arrives_as_the_user_chose_it(world, referral, client_for, sent, stored):
    """Browsers send a quote in a file name as %22 and a line break as %0A."""
    response = post(client_for(world.referrer), referral, files=[pdf_upload(sent)])
    assert response.status_code == 302
    assert Attachment.objects.get().original_name == stored
