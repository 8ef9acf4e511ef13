"""Search words the database cannot take: PostgreSQL refuses a NUL in any text, so a search with
one would answer an error page (and a kept search would keep answering it)."""

NUL_MESSAGE = "Search words cannot contain a NUL character (\\0); type them again."


def search_text_refused(text: str) -> str:
    """Why ``text`` cannot be searched for, or ""."""
    return NUL_MESSAGE if "\x00" in text else ""
