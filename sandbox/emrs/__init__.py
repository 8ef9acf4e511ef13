"""The EMRs the sandbox stands in for: one module per EMR holding that EMR's rules, read from its
public code (HRM-FORMAT.md sections 9 to 11), and one registration here. Adding an EMR is one
file with an ``Emr`` subclass and one line in ``_MODULES``; filing, the pages and the
``HRM_SANDBOX_EMR_PROFILE`` check pick it up from the registry.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import Emr

# One line per EMR: the dotted path of its ``Emr`` subclass. The first is the default profile.
_MODULES = (
    "sandbox.emrs.open_o.OpenO",
    "sandbox.emrs.oscar.Oscar",
    "sandbox.emrs.juno.Juno",
)


@functools.cache
def emr_registry() -> dict[str, Emr]:
    """Every registered EMR, by its profile name, in registration order."""
    registry: dict[str, Emr] = {}
    for path in _MODULES:
        emr = import_string(path)()
        if emr.name in registry:
            raise ImproperlyConfigured(f"Two sandbox EMRs are named {emr.name!r}.")
        registry[emr.name] = emr
    return registry


def emr_profile_choices() -> list[tuple[str, str]]:
    """The profiles as model and form choices (a callable, so a new EMR needs no migration)."""
    return [(emr.name, emr.label) for emr in emr_registry().values()]


def emr_profile(value: str | None = None) -> str:
    """``value``, or the ``HRM_SANDBOX_EMR_PROFILE`` setting, as a registered profile name; a
    wrong name is a set-up error, said in words."""
    given = settings.HRM_SANDBOX_EMR_PROFILE if value is None else value
    name = str(given).strip().lower()
    if name not in emr_registry():
        choices = ", ".join(emr_registry())
        raise ImproperlyConfigured(
            f"HRM_SANDBOX_EMR_PROFILE is {given!r}; it must be one of {choices}."
        )
    return name


def emr_rules(value: str | None = None) -> Emr:
    """The rules of the EMR ``value`` names (default: the ``HRM_SANDBOX_EMR_PROFILE`` setting)."""
    return emr_registry()[emr_profile(value)]


__all__ = ["Emr", "emr_profile", "emr_profile_choices", "emr_registry", "emr_rules"]
