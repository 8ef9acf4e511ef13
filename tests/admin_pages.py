"""Using the admin as staff do: searches are posted from the search box (the words are kept in
the session; the list's address carries a token only)."""

from django.test import Client


def admin_search(client: Client, list_url: str, words: str):
    """Post ``words`` in the list's search box and follow to the list it shows."""
    return client.post(list_url, {"_search": "1", "q": words}, follow=True)
