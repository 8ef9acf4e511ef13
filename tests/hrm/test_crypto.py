"""AES-ECB/PKCS#7 as OSCAR and Juno decrypt it, proven against the openssl command line
(conformance row 19 of HRM-FORMAT.md section 14)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrm.crypto import key_from_hex, report_decrypt, report_encrypt
from hrm.report_xml import report_build, report_validate
from sandbox.reading import hrm_file_read

KEY_128 = "000102030405060708090a0b0c0d0e0f"
KEY_256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
OPENSSL = shutil.which("openssl")


def openssl(*args: str, data: bytes) -> bytes:
    assert OPENSSL, "the openssl command line is needed for the interoperability tests"
    done = subprocess.run(
        [OPENSSL, "enc", *args], input=data, capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_fips_197_known_answer_proves_plain_aes_ecb():
    # FIPS-197 appendix C.1 (AES-128) and C.3 (AES-256); the second block is a full padding block.
    block = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert report_encrypt(block, KEY_128)[:16].hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    assert report_encrypt(block, KEY_256)[:16].hex() == "8ea2b7ca516745bfeafc49904b496089"
    assert len(report_encrypt(block, KEY_128)) == 32


@pytest.mark.parametrize(("key", "cipher"), [(KEY_128, "-aes-128-ecb"), (KEY_256, "-aes-256-ecb")])
def test_row_19_openssl_decrypts_an_encrypted_report_to_a_valid_file(
    make_pdf_report, hrm_schema, tmp_path, key, cipher
):
    xml = report_build(make_pdf_report())
    encrypted = tmp_path / "report.xml.enc"
    encrypted.write_bytes(report_encrypt(xml, key))
    assert xml not in encrypted.read_bytes()
    decrypted = openssl("-d", cipher, "-K", key, "-in", str(encrypted), data=b"")
    assert decrypted == xml
    report_validate(decrypted, hrm_schema)
    assert hrm_file_read(decrypted).file_data.startswith(b"%PDF")


@pytest.mark.parametrize(("key", "cipher"), [(KEY_128, "-aes-128-ecb"), (KEY_256, "-aes-256-ecb")])
def test_what_openssl_encrypts_decrypts_here(make_report, key, cipher):
    xml = report_build(make_report())
    assert report_decrypt(openssl("-e", cipher, "-K", key, data=xml), key) == xml


@settings(max_examples=50, deadline=None)
@given(plain=st.binary(max_size=2000), key=st.sampled_from([KEY_128, KEY_256.upper()]))
def test_round_trip_for_any_length(plain, key):
    encrypted = report_encrypt(plain, key)
    assert len(encrypted) == (len(plain) // 16 + 1) * 16  # always padded, raw bytes
    assert report_decrypt(encrypted, key) == plain


def test_key_may_be_written_with_spaces_or_in_upper_case():
    assert key_from_hex(" 00010203 04050607 08090A0B 0C0D0E0F\n") == bytes(range(16))


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("00" * 15, "32 hex digits (AES-128) or 64 (AES-256)"),
        ("00" * 24, "32 hex digits (AES-128) or 64 (AES-256)"),  # AES-192: not what HRM uses
        ("", "32 hex digits (AES-128) or 64 (AES-256)"),
        ("zz" * 16, "only hex digits"),
    ],
)
def test_bad_keys_are_refused_in_words(key, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        report_encrypt(b"x", key)


def test_a_wrong_key_or_damaged_file_is_reported():
    encrypted = report_encrypt(b"<OmdCds/>" * 10, KEY_128)
    with pytest.raises(ValueError, match="the key is wrong or the file is damaged"):
        report_decrypt(encrypted, "ff" * 16)
    with pytest.raises(ValueError, match="not a whole number of AES blocks"):
        report_decrypt(encrypted[:-1], KEY_128)
    with pytest.raises(ValueError, match="not a whole number of AES blocks"):
        report_decrypt(b"", KEY_128)
