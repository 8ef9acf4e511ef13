"""Encryption of HRM files, as the receiving EMRs decrypt them.

OSCAR (``SFTPConnector.decryptFile``) and Juno (``HRMReportProcessor``) use Java's
``AES/ECB/PKCS5Padding`` with a key OntarioMD hands out as a hex string: no IV, no header, raw
ciphertext bytes. ECB is weak (equal blocks encrypt equally) but it is the receivers' fixed
format; the file also travels inside SSH. ``openssl enc -d -aes-128-ecb -K <hex> -in <file>``
(or ``-aes-256-ecb``) decrypts what this module writes.
"""

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hrm.error_classes import ErrorClass

_BLOCK_BITS = 128  # AES block; PKCS#5 padding on a 16-byte block is PKCS#7
_BLOCK_BYTES = _BLOCK_BITS // 8


class KeyInvalid(ValueError):
    """The configured HRM encryption key is not one: our configuration, not the report."""

    error_class = ErrorClass.CONFIGURATION


def key_from_hex(key_hex: str) -> bytes:
    """The AES key from OntarioMD's hex string: 32 hex digits (AES-128) or 64 (AES-256)."""
    text = "".join((key_hex or "").split())
    if len(text) not in (32, 64):
        raise KeyInvalid(
            "The HRM encryption key must be 32 hex digits (AES-128) or 64 (AES-256); "
            f"the configured key has {len(text)} characters."
        )
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise KeyInvalid(
            "The HRM encryption key must contain only hex digits (0-9, a-f)."
        ) from None


def _cipher(key_hex: str) -> Cipher:
    # ECB is what the receivers decrypt (see module docstring); not a choice made here.
    return Cipher(algorithms.AES(key_from_hex(key_hex)), modes.ECB())  # noqa: S305


def report_encrypt(plain: bytes | bytearray | memoryview, key_hex: str) -> bytearray:
    """AES-ECB with PKCS#7 padding: the raw ciphertext an EMR expects to download.

    Written straight into one buffer the size of the result: a 13 MB file would otherwise be
    copied once padded and once more encrypted (``bench/report_memory.py``). Only the last,
    partial block goes through the padder; padding depends on nothing else.
    """
    encryptor = _cipher(key_hex).encryptor()
    with memoryview(plain) as view:
        whole = len(view) - len(view) % _BLOCK_BYTES
        padder = padding.PKCS7(_BLOCK_BITS).padder()
        last = padder.update(bytes(view[whole:])) + padder.finalize()
        # update_into wants room for a block more than it writes
        encrypted = bytearray(whole + len(last) + _BLOCK_BYTES - 1)
        with memoryview(encrypted) as into:
            written = encryptor.update_into(view[:whole], into)
            written += encryptor.update_into(last, into[written:])
            encryptor.finalize()  # ECB keeps nothing back
    del encrypted[written:]  # shrinks in place
    return encrypted


def report_decrypt(cipher_bytes: bytes, key_hex: str) -> bytes:
    """The inverse of ``report_encrypt``; ``ValueError`` for a wrong key or a damaged file."""
    if not cipher_bytes or len(cipher_bytes) % 16:
        raise ValueError(
            "The encrypted HRM file is damaged: its length is not a whole number of AES blocks."
        )
    decryptor = _cipher(key_hex).decryptor()
    padded = decryptor.update(cipher_bytes) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise ValueError(
            "Could not decrypt the HRM file: the key is wrong or the file is damaged."
        ) from None
