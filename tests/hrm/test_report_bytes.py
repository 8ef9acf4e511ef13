"""The files built and encrypted with fewer copies in memory (issue 22) are, byte for byte, the
files built and encrypted before: the sha256 figures below were taken from the earlier code."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench.report_memory import upload_in_memory
from hrm.reports.build import report_build
from hrm.reports.crypto import report_decrypt, report_encrypt
from hrm.reports.types import (
    Report,
    ReportFile,
    ReportPatient,
    ReportPerson,
    ReportRecipient,
    ReportText,
)

KEY = "000102030405060708090a0b0c0d0e0f"
KEY_256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


def samples() -> dict[str, Report]:
    letter = "\n".join(
        f"Paragraph {n}: Mme Hélène Tremblay was seen today; BP 120/80 & plan <MRI> reviewed."
        for n in range(30)
    )
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 200
    base = Report(
        patient=ReportPatient("Hélène", "Tremblay", date(1980, 2, 3), "F", "1234567890", "AB"),
        author=ReportPerson("Ann", "Lee"),
        recipient=ReportRecipient("D12345", "Raj", "Patel"),
        event_datetime=datetime(2024, 1, 5, 14, 30, tzinfo=UTC),
        sending_facility="1234",
        sending_facility_report_number="MSG-42-1",
        transaction_id="MSG-42-1-D12345",
        content=ReportText(letter),
    )
    return {
        "letter": base,
        "pdf": replace(base, content=ReportFile(pdf, ".pdf")),
        # 1 MB and a few bytes, so the encrypted file ends in a partial block of every kind.
        **{
            f"pdf+{extra}": replace(
                base, content=ReportFile(pdf * 20 + b"%%EOF\n" + b"x" * extra, ".pdf")
            )
            for extra in (0, 1, 2)
        },
    }


BEFORE = {
    # name: (sha256 of the built file, sha256 of it encrypted with KEY)
    "letter": (
        "95b92a26dc1aa54f99538f7bd8032da220f3a2b18050e75de1ce4cb78d27b14e",
        "75b35aca5e0c53db890359cffa6b35d0201eccbc511d932c5e9bcfaf1cc3ff74",
    ),
    "pdf": (
        "f539166ebbca1a6befacc9f8b11031aa3df7ae455da0a4d0a6fecd2a60585c93",
        "dce13a64fdbe85fdee4e15f84a2b493a885dd207fa8b9a1c3fbc3d988c2cb892",
    ),
    "pdf+0": (
        "358a6d3a01c665b6d423c7213dba9a2fd712527ffae3e9f0afb6801b9ea8be48",
        "bfb2e691318729128a3ac42b0db80f15b6a731215234b0597ca6a0e421454f5a",
    ),
    "pdf+1": (
        "a5f079ad66ae1ff101addef0edcd223826e1643772ad264f7dd26146cc782a6d",
        "437d942acbdd72718ab65290fde8b8abf94d9fe135bf3f10fd02b0cca48033fc",
    ),
    "pdf+2": (
        "508aaffcd34ea70e7cf959f9dc7ddc84f3159b05989c7687053b792c9136c220",
        "5d015a8eb06761e662f186c0122968d2ae0f604cfb7577e9ff3010a999e2c4db",
    ),
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_built_and_encrypted_files_are_the_bytes_they_were(name):
    xml = report_build(samples()[name])
    encrypted = report_encrypt(xml, KEY)
    assert (hashlib.sha256(xml).hexdigest(), hashlib.sha256(encrypted).hexdigest()) == BEFORE[name]
    assert report_decrypt(encrypted, KEY) == xml


def _encrypt_before(plain: bytes, key_hex: str) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(bytes.fromhex(key_hex)), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(padded) + encryptor.finalize()


@pytest.mark.parametrize("key", [KEY, KEY_256])
def test_encryption_gives_the_earlier_bytes_for_every_length_and_buffer(key):
    for length in [*range(50), 4095, 4096, 4097, 100_000]:
        plain = bytes((n * 7) % 256 for n in range(length))
        expected = _encrypt_before(plain, key)
        for given in (plain, bytearray(plain), memoryview(plain)):
            assert report_encrypt(given, key) == expected, (length, type(given))


def _peak(step) -> int:
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_report_is_built_encrypted_and_written_without_extra_copies():
    """Issue 22's goal is at most twice the file's size per step (``bench/report_memory.py``
    measures a 10 MB PDF); each step was at twice before the copies were taken out."""
    report = replace(
        samples()["pdf"], content=ReportFile(b"%PDF-1.7\n" + os.urandom(2_000_000), ".pdf")
    )
    xml = report_build(report)
    encrypted = report_encrypt(xml, KEY)

    assert _peak(lambda: report_build(report)) < 1.6 * len(xml)
    assert _peak(lambda: report_encrypt(xml, KEY)) < 1.1 * len(xml)
    # Written with every request in flight, each packed as paramiko packs it.
    assert _peak(lambda: upload_in_memory(encrypted)) < 0.1 * len(xml)
