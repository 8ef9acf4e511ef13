"""Small, valid sample documents for the demo data, tests and benchmarks."""


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def consultation_letter_pdf(lines: list[str], *, padding_bytes: int = 0) -> bytes:
    """A one-page PDF showing ``lines`` in Helvetica, with a correct cross-reference table.

    ``padding_bytes`` adds an uncompressed stream of that size, to make letters of a realistic
    size (for example 200 KB) for benchmarks.
    """
    text_ops = ["BT", "/F1 12 Tf", "72 740 Td", "16 TL"]
    for line in lines:
        encoded = line.encode("latin-1", "replace").decode("latin-1")
        text_ops.append(f"({_pdf_escape(encoded)}) Tj T*")
    text_ops.append("ET")
    content = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    if padding_bytes:
        filler = b"%" + b"0" * max(padding_bytes - 1, 0)
        objects.append(b"<< /Length %d >>\nstream\n" % len(filler) + filler + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
