"""The markup guard looks up each "&"'s run of letters in a set instead of trying ~2,200 entity
names at every "&" (linear in the text's length, bench/text_steps.py): it must guard exactly what
the alternation guarded, on the tricky inputs and on any text built from their pieces."""

import html.entities
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrm.reports.text import _MARKUP_GUARD, emr_text_prepare, markup_present

# The guard as it was: an alternation of every entity name, longest first, tried at every "&".
_OLD_NAMES = sorted(html.entities.html5, key=len, reverse=True)
_OLD = re.compile(
    r"<(?=[A-Za-z/!?])|&(?=#[0-9]|#[xX][0-9A-Fa-f]|(?:"
    + "|".join(re.escape(name) for name in _OLD_NAMES)
    + r"))"
)


def old_guard(text: str) -> str:
    return _OLD.sub(lambda start: start[0] + _MARKUP_GUARD, text)


def new_guard(text: str) -> str:
    # emr_text_prepare also cleans and trims: compare on text it leaves alone otherwise.
    return emr_text_prepare(text).text


TRICKY = [
    "&",
    "&&",
    "&amp",
    "&amp;",
    "&ampx",
    "&amp;x",
    "&AMP",
    "&Amp;",
    "&lt3",
    "&ltimes;",
    "&lt;b&gt;",
    "&notin;",
    "&notit;",
    "&noti",
    "&not",
    "&no",
    "&copy2024",
    "&CounterClockwiseContourIntegral;",
    "&CounterClockwiseContourIntegra;",
    "&CounterClockwiseContourIntegralX;",
    "&" + "a" * 50 + ";",
    "&#",
    "&#1",
    "&#x",
    "&#xG",
    "&#XaF",
    "&#;",
    "& amp;",
    "&;",
    "&1amp;",
    "<",
    "< b",
    "<b>",
    "</i>",
    "<!-- x -->",
    "<?xml",
    "<1",
    "<<b",
    "&<b",
    "a&b",
    "AT&T",
    "R&D; Q&A",
    "fish&chips",
    "&\u2060amp;",
    "<\u2060b>",
    "&ampamp;amp",
    "&Eacute",
    "&eacute;",
    "&Eacut",
    "&frac12",
    "&frac1",
    "&sup2;",
    "&sup",
    "&su",
]


@pytest.mark.parametrize("text", TRICKY)
def test_the_new_guard_marks_exactly_what_the_old_one_did(text):
    assert new_guard(f"x{text}x") == old_guard(f"x{text}x")
    assert markup_present(f"x{text}x") == bool(_OLD.search(f"x{text}x"))


_PIECES = st.sampled_from(
    [*TRICKY, "a", "Z", "1", ";", "#", "x", " ", "\n", "amp", "lt", "not", "in", "é", "&", "<"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_on_any_text_of_those_pieces_the_guards_agree(pieces):
    text = f"[{pieces}]"
    assert new_guard(text) == old_guard(text)
    assert markup_present(text) == bool(_OLD.search(text))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("&<;#xXaAmMpP0123456789 lotgn"), max_size=30))
def test_on_random_text_the_guards_agree(text):
    text = f"[{text}]"
    assert new_guard(text) == old_guard(text)


def test_guarded_text_has_no_markup_left():
    for text in TRICKY:
        assert not markup_present(new_guard(text))
