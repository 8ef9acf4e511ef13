"""The addendum letter (Ocean's "Download Addendum Letter"): one message of the thread as a
printable PDF, with the referral's basic details, the author and a signature line. Made with
ReportLab; the font is the Bitstream Vera that ReportLab ships, embedded in the file, so accented
names (Hélène, François) print whatever fonts the server or the reader has."""

import io
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from django.utils import timezone
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer, Table
from reportlab.platypus.flowables import HRFlowable

from .models import Message

_FONTS = Path(reportlab.__file__).parent / "fonts"
_REGULAR, _BOLD = "AddendumVera", "AddendumVera-Bold"


def _fonts_register() -> None:
    if _REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_REGULAR, str(_FONTS / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont(_BOLD, str(_FONTS / "VeraBd.ttf")))


def _text(value: str) -> str:
    # Paragraphs read a little markup: what people typed is escaped, its line breaks kept.
    return escape(value).replace("\n", "<br/>")


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def addendum_letter_name(message: Message) -> str:
    return f"addendum-referral-{message.referral_id}-message-{message.pk}.pdf"


def addendum_letter_pdf(message: Message) -> bytes:
    """The letter for ``message`` (its attachments listed by name, not included); the same
    message always gives the same bytes."""
    _fonts_register()
    referral = message.referral
    body = ParagraphStyle("body", fontName=_REGULAR, fontSize=10, leading=14)
    heading = ParagraphStyle("heading", parent=body, fontName=_BOLD, fontSize=15, leading=20)
    label = ParagraphStyle("label", parent=body, fontName=_BOLD)
    subheading = ParagraphStyle(
        "subheading", parent=body, fontName=_BOLD, fontSize=11, spaceBefore=10
    )
    author = message.author
    author_line = str(author)
    if author.professional_id:
        author_line += f", Professional ID {author.professional_id_display}"
    details = [
        ("Patient", referral.patient_name),
        ("Date of birth", referral.patient_birth_date.strftime("%Y-%m-%d")),
        ("Health card", f"{referral.health_card_display} ({referral.patient_province})"),
        ("Referrer", referral.referrer_display),
        ("Referred to", f"{referral.target_listing} ({referral.target_listing.site})"),
        ("Referral sent", _when(referral.created_at)),
        ("Status", referral.get_status_display()),
        ("Reference", f"Referral #{referral.pk} · {referral.reference}"),
    ]
    story = [
        Paragraph("Addendum to referral", heading),
        Spacer(1, 6),
        Table(
            [[Paragraph(name, label), Paragraph(_text(value), body)] for name, value in details],
            colWidths=[1.4 * inch, 5.1 * inch],
            hAlign="LEFT",
            style=[("VALIGN", (0, 0), (-1, -1), "TOP")],
        ),
        HRFlowable(width="100%", spaceBefore=8, spaceAfter=4),
        Paragraph("Message", subheading),
        Paragraph(
            _text(
                f"From {author_line}"
                + (f" for {message.author_listing}" if message.author_listing else "")
                + f", {_when(message.created_at)}"
            ),
            body,
        ),
        Spacer(1, 6),
        Paragraph(_text(message.text) if message.text else "(no text)", body),
    ]
    attachments = list(message.attachments.all())
    if attachments:
        story += [
            Paragraph("Attachments", subheading),
            ListFlowable(
                [
                    ListItem(
                        Paragraph(
                            _text(f"{item.original_name} ({item.get_content_type_display()})"),
                            body,
                        )
                    )
                    for item in attachments
                ],
                bulletType="bullet",
                bulletFontName=_REGULAR,
            ),
        ]
    story += [
        Spacer(1, 36),
        Paragraph("Signature: ________________________________", body),
        Paragraph(_text(author_line), body),
        Spacer(1, 6),
        Paragraph("Date: ____________________", body),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        title=f"Addendum to referral #{referral.pk}",
        author=str(author),
        leftMargin=inch,
        rightMargin=inch,
        topMargin=inch,
        bottomMargin=inch,
        # The same bytes every time (no creation time, no random file ID): the copies HRM carries
        # to each recipient must be identical, or OSCAR and Open-O, seeing two contents for one
        # report date, hide one as a changed version of the other.
        invariant=True,
    ).build(story)
    return buffer.getvalue()
