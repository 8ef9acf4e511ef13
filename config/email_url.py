"""``EMAIL_URL`` as the settings read it: django-environ's parsing, with file paths put right."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def email_url_config(url: str, base_dir: Path) -> dict:
    """Django's email settings for ``url``. django-environ drops the first character of a file
    URL's path, so ``filemail:///srv/mail`` would write to ``srv/mail`` under whatever folder the
    process runs in, and ``filemail://var/mail`` to ``mail``. Here ``filemail:///srv/mail`` is the
    absolute folder ``/srv/mail``, and ``filemail://var/mail`` is ``var/mail`` in ``base_dir``."""
    config = environ.Env.email_url_config(url)
    if config["EMAIL_BACKEND"] == FILE_BACKEND:
        config["EMAIL_FILE_PATH"] = str(_folder(url, base_dir))
        config["EMAIL_HOST"] = None  # "var" in filemail://var/mail is a folder, not a host
    return config


def _folder(url: str, base_dir: Path) -> Path:
    parts = urlsplit(url)
    written = unquote(parts.netloc + parts.path)
    if not written:
        raise ImproperlyConfigured(
            f"EMAIL_URL {url!r} names no folder for the emails, e.g. filemail:///srv/mail"
        )
    folder = Path(written)
    return folder if folder.is_absolute() else base_dir / folder
