"""The client's address for the metrics allow-list.

``security.client_address.client_address`` (issue 21: the one function every address check uses,
honouring TRUSTED_PROXY_COUNT) when it is there; until it lands, the direct peer's address."""

try:
    from security.client_address import client_address
except ImportError:  # pragma: no cover — replaced by security's function at merge

    def client_address(request) -> str:
        return request.META.get("REMOTE_ADDR", "")


__all__ = ["client_address"]
