"""Text folded for search: case and accents ignored (``Côté`` and ``cote`` are the same), the
same way in Python, on PostgreSQL and on the demo's SQLite, because the folded form is computed
here and stored beside what it folds."""

import unicodedata


def search_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())
