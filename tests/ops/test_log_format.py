"""A production log line names where an error happened and its kind, never its message: a
database error quotes the row it refused, which may be a patient's."""

import json
import logging
import sys

from django.db import IntegrityError

from ops.log_format import WITHHELD, JsonFormatterWithoutExceptionMessages

PATIENT = "Tremblay, Hélène, 1234-567-897"


def _refuse_row():
    raise IntegrityError(f"duplicate key value violates unique constraint: Key (name)=({PATIENT})")


def test_an_exception_logged_in_json_keeps_its_frames_and_kind_but_not_its_message():
    formatter = JsonFormatterWithoutExceptionMessages("%(levelname)s %(name)s %(message)s")
    try:
        try:
            _refuse_row()
        except IntegrityError as error:
            raise RuntimeError(f"could not post for {PATIENT}") from error
    except RuntimeError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
            ("/referrals/1/messages/",), exc_info=sys.exc_info(),
        )  # fmt: skip
    line = formatter.format(record)
    assert "\n" not in line  # one JSON object per line
    logged = json.loads(line)
    assert logged["message"] == "Internal Server Error: /referrals/1/messages/"
    trace = logged["exc_info"]
    assert PATIENT not in line and "Tremblay" not in line
    assert "django.db.utils.IntegrityError: " + WITHHELD in trace
    assert "builtins.RuntimeError: " + WITHHELD in trace
    assert trace.index("IntegrityError") < trace.index("RuntimeError")  # oldest first
    assert "in _refuse_row" in trace  # where it happened is kept
