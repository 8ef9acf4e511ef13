"""Support's list of HRM reports stays fast at a million rows: its count stops at 10,000 rows, it
never counts the whole table, and a search looks up exact values along indexes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hrm.models import HrmReport

from ..admin_pages import admin_search

URL = "/admin/hrm/hrmreport/"


def listed(client, support, q=""):
    client.force_login(support)
    with CaptureQueriesContext(connection) as queries:
        response = admin_search(client, URL, q) if q else client.get(URL)
    assert response.status_code == 200
    statements = [q["sql"] for q in queries if "hrm_hrmreport" in q["sql"]]
    return response.content.decode(), statements


def plan(statement: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        return "\n".join(line for (line,) in cursor.fetchall())


@pytest.mark.parametrize("search", ["CPSO 12345", "d12345 ", "transaction"])
def test_a_search_finds_exact_values_without_a_substring_scan(client, support, message, search):
    reports = list(message.hrm_reports.order_by("pk"))
    if search == "transaction":
        search = f"  {reports[0].transaction_id} "
        wanted = {reports[0].transaction_id}
    else:
        wanted = {r.transaction_id for r in reports if r.deliver_to_user_id == "D12345"}
    html, statements = listed(client, support, q=search)
    shown = {r.transaction_id for r in HrmReport.objects.all() if r.transaction_id in html}
    assert shown == wanted and wanted
    assert not any("LIKE" in s for s in statements), statements
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the plan a million rows would get
        for statement in statements:
            assert "Seq Scan on hrm_hrmreport" not in plan(statement), statement


def test_the_list_counts_at_most_ten_thousand_rows_and_never_the_whole_table(
    client, support, message
):
    _, statements = listed(client, support)
    counts = [s for s in statements if "COUNT(" in s]
    assert counts and all("LIMIT 10000" in s for s in counts), counts
    # Newest first, along the primary key: no sort of the whole table.
    [page] = [s for s in statements if "ORDER BY" in s and "COUNT(" not in s]
    assert 'ORDER BY "hrm_hrmreport"."id" DESC' in page, page


def test_a_referral_number_finds_its_reports(client, support, message):
    html, _ = listed(client, support, q=f"#{message.referral_id}")
    assert all(r.transaction_id in html for r in message.hrm_reports.all())
