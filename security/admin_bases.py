"""The base of every admin page in the product (``BaseAdmin``; the admin site puts it under any
admin registered without it, a library's included).

- A list takes only the lookups it offers: those of its filters and its date hierarchy. Django's
  default takes any lookup on any field, so ``?xml__contains=…`` would answer, one request at a
  time, whether a stored file holds a string.
- Search words never go in an address, where web servers and proxies would log them: the search
  box posts them, they are kept in the session under a random token, and the list's address
  carries only that token.
- Values that the database cannot take (a NUL) or dates out of range in the address get a clear
  message instead of an error page.
- Pages that show a patient tell the access trail through ``list_shown`` and ``record_shown``,
  which apps whose records name patients fill in.
"""

import secrets
from datetime import datetime, timedelta

from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.filters import FieldListFilter, ListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, SEARCH_VAR, ChangeList
from django.http import HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.response import TemplateResponse

from .search_text import NUL_MESSAGE, search_text_refused

# ?search=<token>: the search kept in the session under that token.
SEARCH_KEY_VAR = "search"
SEARCH_POSTED = "_search"
SEARCHES_SESSION_KEY = "admin_searches"
SEARCHES_KEPT = 20
SEARCH_MAX_LENGTH = 200

SEARCH_IN_ADDRESS_MESSAGE = (
    "Search words are not taken from the address, where they would be logged: use the search box."
)
SEARCH_GONE_MESSAGE = "That search is no longer kept: search again."
DATE_MESSAGE = "The date in the address is not a date this list can show; showing the whole list."
LOOKUP_MESSAGE = "The filters in the address could not be applied; showing the whole list."


class GuardedChangeList(ChangeList):
    """Searches with the words kept under the address's token."""

    def __init__(self, request, *args, **kwargs):
        self.csrf_token = get_token(request)
        super().__init__(request, *args, **kwargs)

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(SEARCH_KEY_VAR, None)
        return lookup_params

    def get_queryset(self, request, exclude_parameters=None):
        self.query = self.model_admin.search_terms(request)
        return super().get_queryset(request, exclude_parameters)


class BaseAdmin(admin.ModelAdmin):
    # Exact filters offered by links from other pages (a user's or a referral's entries), beyond
    # the list's own filters.
    offered_exact_lookups: tuple[str, ...] = ()

    # --- Lookups ------------------------------------------------------------------------------

    def offered_lookups(self, request) -> set[str]:
        """The query parameters the list's filters and date hierarchy read."""
        offered = set(self.offered_exact_lookups)
        if self.date_hierarchy:
            offered |= {f"{self.date_hierarchy}__{part}" for part in ("year", "month", "day")}
        for item in self.get_list_filter(request):
            offered |= set(self._filter_for(item, request).expected_parameters())
        return offered

    def _filter_for(self, item, request) -> ListFilter:
        if isinstance(item, type) and issubclass(item, ListFilter):
            return item(request, {}, self.model, self)
        field_path, filter_class = item if isinstance(item, (list, tuple)) else (item, None)
        field = get_fields_from_path(self.model, field_path)[-1]
        filter_class = filter_class or FieldListFilter.create
        return filter_class(field, request, {}, self.model, self, field_path=field_path)

    def lookup_allowed(self, lookup, value, request=None):
        # A raw-ID popup's ``limit_choices_to``, as Django allows it.
        for fk_lookup in self.model._meta.related_fkey_lookups:
            fk_lookup = fk_lookup() if callable(fk_lookup) else fk_lookup
            if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
                return True
        return lookup in self.offered_lookups(request)

    # --- Search by POST -----------------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return GuardedChangeList

    def search_terms(self, request) -> str:
        token = request.GET.get(SEARCH_KEY_VAR, "")
        kept = request.session.get(SEARCHES_SESSION_KEY, {}).get(token)
        if not kept or kept["path"] != request.path:
            return ""
        return kept["q"]

    def _redirect_with(self, request, **changes) -> HttpResponseRedirect:
        params = request.GET.copy()
        for name, value in changes.items():
            params.pop(name, None)
            if value:
                params[name] = value
        query = params.urlencode()
        return HttpResponseRedirect(f"{request.path}?{query}" if query else request.path)

    def _search_posted(self, request) -> HttpResponseRedirect:
        terms = request.POST.get(SEARCH_VAR, "").strip()
        if refused := search_text_refused(terms):
            messages.error(request, refused)
            return self._redirect_with(request)
        token = ""
        if terms:
            token = secrets.token_urlsafe(12)
            kept = dict(request.session.get(SEARCHES_SESSION_KEY, {}))
            kept[token] = {"path": request.path, "q": terms[:SEARCH_MAX_LENGTH]}
            request.session[SEARCHES_SESSION_KEY] = dict(list(kept.items())[-SEARCHES_KEPT:])
        return self._redirect_with(request, **{SEARCH_KEY_VAR: token, PAGE_VAR: "", ERROR_FLAG: ""})

    def _address_problem(self, request) -> tuple[str, dict]:
        """A message, and what to drop from the address, when the list cannot take it."""
        for key, values in request.GET.lists():
            if any(search_text_refused(text) for text in (key, *values)):
                return NUL_MESSAGE, {name: "" for name in request.GET}
        if SEARCH_VAR in request.GET:
            return SEARCH_IN_ADDRESS_MESSAGE, {SEARCH_VAR: ""}
        if SEARCH_KEY_VAR in request.GET and not self.search_terms(request):
            return SEARCH_GONE_MESSAGE, {SEARCH_KEY_VAR: ""}
        if self.date_hierarchy and not self._date_in_range(request):
            return DATE_MESSAGE, {
                f"{self.date_hierarchy}__{part}": "" for part in ("year", "month", "day")
            }
        return "", {}

    def _date_in_range(self, request) -> bool:
        """Django's date hierarchy fails with an error page on a date it cannot step from."""
        parts = [request.GET.get(f"{self.date_hierarchy}__{p}") for p in ("year", "month", "day")]
        if parts[0] is None:
            return True
        try:
            numbers = [int(part) if part is not None else 1 for part in parts]
            start = datetime(*numbers)
            start + timedelta(days=32)
            start.replace(year=start.year + 1)
        except (ValueError, OverflowError):
            return False
        return True

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and SEARCH_POSTED in request.POST:
            return self._search_posted(request)
        problem, drop = self._address_problem(request)
        if problem:
            messages.error(request, problem)
            return self._redirect_with(request, **drop)
        if ERROR_FLAG in request.GET and request.method == "GET":
            messages.error(request, LOOKUP_MESSAGE)
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        if isinstance(response, TemplateResponse) and "cl" in context:
            self.list_shown(request, context["cl"])
        return response

    # --- What pages show, for the trail -------------------------------------------------------

    def list_shown(self, request, changelist) -> None:
        """A list page was shown (``changelist.result_list``, ``changelist.query``)."""

    def record_shown(self, request, obj, page: str) -> None:
        """A record's page ("record") or its history ("history") was shown."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = (getattr(response, "context_data", None) or {}).get("original")
        if response.status_code == 200 and original is not None:
            self.record_shown(request, original, "record")
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        shown = (getattr(response, "context_data", None) or {}).get("object")
        if response.status_code == 200 and shown is not None:
            self.record_shown(request, shown, "history")
        return response


def list_detail(changelist) -> str:
    """What a list page showed, in words for the trail: the search, the filters, the page."""
    parts = [f"search “{changelist.query}”"] if changelist.query else []
    filters = changelist.get_filters_params()
    if filters:
        parts.append(
            "filters "
            + ", ".join(f"{k}={v}" for k, values in sorted(filters.items()) for v in values)
        )
    parts.append(
        f"page {changelist.page_num} of {changelist.paginator.num_pages}: "
        f"{len(changelist.result_list)} of {changelist.result_count} shown"
    )
    return "; ".join(parts)


def guarded(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """``admin_class`` on ``BaseAdmin``: for admins registered by libraries."""
    if issubclass(admin_class, BaseAdmin):
        return admin_class
    return type(admin_class.__name__, (BaseAdmin, admin_class), {"__module__": __name__})
