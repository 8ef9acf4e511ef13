"""Dates typed and shown one way everywhere: year-month-day (``1961-04-18``), as every page and
HRM itself show them.

A browser's date input shows the date in the browser's locale (``04/18/1961`` in en-US) while the
pages show ``1961-04-18``; and ``04/05/1961`` means April or May depending on who reads it. So the
product takes dates in a text input, in the one order it shows them.
"""

from django import forms

DATE_HINT = "Year-month-day, for example 1961-04-18."
# With dashes, slashes, spaces or nothing between the parts; the year always has four digits and
# comes first, so no typed date can be read two ways.
_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y %m %d", "%Y%m%d"]


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs=None):
        attrs = {"placeholder": "yyyy-mm-dd", "autocomplete": "off", "size": 10, **(attrs or {})}
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class IsoDateField(forms.DateField):
    widget = IsoDateInput
    default_error_messages = {
        "invalid": "Enter the date as year-month-day, for example 1961-04-18.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", DATE_HINT)
        kwargs.setdefault("input_formats", _INPUT_FORMATS)
        super().__init__(**kwargs)
