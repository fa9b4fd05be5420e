"""Contacts over HTTP: create, list with filters, get, update (and its status rule), delete, the
batch upsert with per-row errors, and the streamed CSV import."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.api import assert_problem, count, digest, ok
from tests.support.factories import make_contact


def test_create_get_update_delete(api, conn, tenant):
    body = ok(api.post("/api/contacts", json={"email": "Ada@Example.com", "first_name": "Ada", "tags": ["vip", "a", "vip"],
                                              "custom_fields": {"industry": "SaaS"}, "timezone": "Europe/London", "score": 7}), 201)
    assert body["email"] == "Ada@Example.com" and body["tags"] == ["a", "vip"] and body["status"] == "active"
    assert body["custom_fields"] == {"industry": "SaaS"} and body["score"] == 7
    url = f"/api/contacts/{body['id']}"
    assert ok(api.get(url)) == body
    updated = ok(api.patch(url, json={"first_name": None, "company": "Engines", "tags": [], "custom_fields": {"plan": "pro"}}))
    assert updated["first_name"] is None and updated["company"] == "Engines" and updated["tags"] == []
    assert updated["custom_fields"] == {"plan": "pro"}
    assert api.delete(url).status_code == 204
    assert_problem(api.get(url), 404, "NOT_FOUND")
    assert_problem(api.delete(url), 404, "NOT_FOUND")
    assert count(conn, "contacts", tenant.tenant_id) == 0


def test_create_refusals(api, conn, tenant):
    ok(api.post("/api/contacts", json={"email": "ada@example.com"}), 201)
    assert_problem(api.post("/api/contacts", json={"email": "ADA@example.com"}), 409, "CONTACT_ALREADY_EXISTS")
    assert_problem(api.post("/api/contacts", json={"email": "x@example.com", "timezone": "Mars/Base"}), 422, "INVALID_TIMEZONE")
    for body in ({"email": "not-an-email"}, {"first_name": "x"}, {"email": "x@example.com", "status": "active"},
                 {"email": "x@example.com", "score": 1.5}, {"email": "x@example.com", "score": 2**31},
                 {"email": "x@example.com", "tags": [""]}, {"email": "x@example.com", "custom_fields": []}):
        assert_problem(api.post("/api/contacts", json=body), 400, "VALIDATION_FAILED")
    assert count(conn, "contacts", tenant.tenant_id) == 1


def test_same_email_in_two_tenants_is_fine(api, other_api):
    ok(api.post("/api/contacts", json={"email": "ada@example.com"}), 201)
    ok(other_api.post("/api/contacts", json={"email": "ada@example.com"}), 201)


def test_list_filters_and_paginates(api, other_api, conn, tenant):
    for i in range(5):
        make_contact(conn, tenant.tenant_id, email=f"user{i}@acme.test", tags=["vip"] if i % 2 == 0 else [],
                     status="unsubscribed" if i == 4 else "active")
    make_contact(conn, tenant.tenant_id, email="someone@other.test")
    ok(other_api.post("/api/contacts", json={"email": "user9@acme.test"}), 201)
    everything = ok(api.get("/api/contacts"))
    assert everything["pagination"]["total"] == 6
    assert ok(api.get("/api/contacts", params={"email": "ACME"}))["pagination"]["total"] == 5
    assert ok(api.get("/api/contacts", params={"tag": "vip"}))["pagination"]["total"] == 3
    assert ok(api.get("/api/contacts", params={"status": "unsubscribed"}))["items"][0]["email"] == "user4@acme.test"
    page = ok(api.get("/api/contacts", params={"limit": 2, "offset": 2}))
    assert len(page["items"]) == 2 and page["pagination"] == {"total": 6, "limit": 2, "offset": 2, "has_more": True}
    # LIKE metacharacters are literal.
    assert ok(api.get("/api/contacts", params={"email": "%"}))["pagination"]["total"] == 0


def test_reactivating_a_suppressed_contact_is_refused(api, conn, tenant):
    contact = ok(api.post("/api/contacts", json={"email": "gone@example.com"}), 201)
    url = f"/api/contacts/{contact['id']}"
    assert ok(api.patch(url, json={"status": "unsubscribed"}))["status"] == "unsubscribed"
    suppression = ok(api.post("/api/suppressions", json={"email": "gone@example.com", "reason": "unsubscribe"}), 201)
    assert_problem(api.patch(url, json={"status": "active"}), 409, "INVALID_STATE_TRANSITION")
    ok(api.delete(f"/api/suppressions/{suppression['id']}", params={"reason": "re-subscribed with double opt-in"}))
    assert ok(api.patch(url, json={"status": "active"}))["status"] == "active"


# -- batch ---------------------------------------------------------------------------------------------


def test_batch_saves_valid_rows_and_reports_the_others(api, conn, tenant):
    make_contact(conn, tenant.tenant_id, email="known@example.com", first_name="Known", company="Old",
                 custom_fields='{"a": 1}', tags=["old"], status="unsubscribed")
    rows = [
        {"email": "new@example.com", "first_name": "New", "score": 5, "tags": ["b", "a"]},
        {"email": "KNOWN@example.com", "company": "New Co", "custom_fields": {"b": 2}, "tags": ["fresh"]},
        {"email": "tz@example.com", "timezone": "Nowhere/City"},
        {"email": "dup@example.com", "first_name": "First"},
        {"email": "DUP@example.com", "first_name": "Second"},
    ]
    body = ok(api.post("/api/contacts/batch", json={"contacts": rows}))
    assert (body["created"], body["updated"], body["rejected"]) == (2, 1, 2)
    assert [(e["index"], e["code"], e["field"]) for e in body["errors"]] == [
        (2, "INVALID_TIMEZONE", "timezone"), (3, "DUPLICATE_IN_BATCH", "email")]
    known = conn.execute("SELECT first_name, company, custom_fields, tags, status FROM campaigns.contacts WHERE tenant_id = %s AND lower(email) = 'known@example.com'", (tenant.tenant_id,)).fetchone()
    # Absent keys keep their values, custom fields merge, tags are replaced, status is never imported.
    assert known == ("Known", "New Co", {"a": 1, "b": 2}, ["fresh"], "unsubscribed")
    assert conn.execute("SELECT first_name FROM campaigns.contacts WHERE tenant_id = %s AND email = 'DUP@example.com'",
                        (tenant.tenant_id,)).fetchone() == ("Second",)
    assert count(conn, "contacts", tenant.tenant_id) == 3


def test_batch_of_10000_and_limit(api, conn, tenant):
    rows = [{"email": f"bulk{i}@example.com", "custom_fields": {"n": i}} for i in range(10_000)]
    body = ok(api.post("/api/contacts/batch", json={"contacts": rows}))
    assert body == {"created": 10_000, "updated": 0, "rejected": 0, "errors": []}
    again = ok(api.post("/api/contacts/batch", json={"contacts": rows}))
    assert again["updated"] == 10_000
    assert_problem(api.post("/api/contacts/batch", json={"contacts": rows + [{"email": "one-more@example.com"}]}), 400, "VALIDATION_FAILED")
    assert count(conn, "contacts", tenant.tenant_id) == 10_000


def test_concurrent_batches_over_the_same_addresses(api_app, tenant, conn):
    """Overlapping batches in opposite orders neither deadlock nor lose updates: locks and inserts
    go in email order. A row whose contact another batch created meanwhile is reported
    (CONCURRENT_UPDATE), never silently overwritten."""
    emails = [f"shared{i}@example.com" for i in range(300)]

    def send(n: int) -> httpx.Response:
        rows = [{"email": e, "custom_fields": {f"k{n}": n}} for e in (emails if n % 2 else emails[::-1])]
        with api_app.client(tenant.api_key) as c:
            return c.post("/api/contacts/batch", json={"contacts": rows})

    # New addresses: each row is created by one batch, updated by another, or reported.
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = [ok(r) for r in pool.map(send, range(6))]
    assert sum(b["created"] for b in first) == 300
    assert {e["code"] for b in first for e in b["errors"]} <= {"CONCURRENT_UPDATE"}
    assert all(b["created"] + b["updated"] + b["rejected"] == 300 for b in first)
    # Existing addresses: every batch's field is merged into every contact.
    with ThreadPoolExecutor(max_workers=6) as pool:
        second = [ok(r) for r in pool.map(send, range(6, 18))]
    assert all(b["updated"] == 300 for b in second)
    assert count(conn, "contacts", tenant.tenant_id) == 300
    keys = conn.execute("SELECT min(k), max(k) FROM (SELECT (SELECT count(*) FROM jsonb_object_keys(custom_fields)"
                        " WHERE jsonb_object_keys ~ '^k([6-9]|1[0-7])$') AS k FROM campaigns.contacts WHERE tenant_id = %s) x",
                        (tenant.tenant_id,)).fetchone()
    assert keys == (12, 12)


@pytest.mark.parametrize("body", [{}, {"contacts": []}, {"contacts": "x"}, {"contacts": [1]}, {"contacts": [{"email": "a@b.co"}], "x": 1}])
def test_batch_shape_errors(api, conn, body):
    before = digest(conn)
    assert_problem(api.post("/api/contacts/batch", json=body), 400, "VALIDATION_FAILED")
    assert digest(conn) == before


@pytest.mark.parametrize(("row", "key"), [
    ({"email": "bad-email"}, "contacts[1].email"),
    ({"email": "x@example.com", "status": "active"}, "contacts[1].status"),
    ({"email": "score@example.com", "score": "high"}, "contacts[1].score"),
    ({"email": "tags@example.com", "tags": "not-a-list"}, "contacts[1].tags"),
    ({"email": "tags@example.com", "tags": [""]}, "contacts[1].tags[0]"),
    ({"email": "cf@example.com", "custom_fields": [1]}, "contacts[1].custom_fields"),
    ({"email": "long@example.com", "first_name": "x" * 256}, "contacts[1].first_name"),
])
def test_batch_row_breaking_the_contact_schema_refuses_the_whole_batch(api, conn, row, key):
    """Rows are decoded as createContact's body: one that breaks it is a 400 naming its index, and
    the valid rows beside it are not saved either."""
    before = digest(conn)
    response = api.post("/api/contacts/batch", json={"contacts": [{"email": "fine@example.com"}, row]})
    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert [(e["source"], e["key"]) for e in body["errors"]] == [("body", key)]
    assert digest(conn) == before


# -- CSV -----------------------------------------------------------------------------------------------


def test_csv_import(api, conn, tenant):
    make_contact(conn, tenant.tenant_id, email="known@example.com", first_name="Known", city="Paris")
    csv = (
        "Email,First Name,company,tags,score,custom.industry,plan,status\r\n"
        'new@example.com,"Lovelace, Ada","Multi\nline Co",vip;newsletter,42,SaaS,pro,unsubscribed\r\n'
        "known@example.com,,Acme,,,,,\r\n"
        "\r\n"
        "bad-email,x,,,,,,\r\n"
        "score@example.com,,,,lots,,,\r\n"
    )
    body = ok(api.post("/api/contacts/import", content=csv.encode(), headers={"content-type": "text/csv; charset=utf-8"}))
    assert (body["rows"], body["created"], body["updated"], body["rejected"]) == (4, 1, 1, 2)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(2, "INVALID_EMAIL"), (3, "INVALID_TYPE")]
    assert body["ignored_columns"] == ["status"]
    new = conn.execute("SELECT first_name, company, tags, score, custom_fields, status FROM campaigns.contacts "
                       "WHERE tenant_id = %s AND email = 'new@example.com'", (tenant.tenant_id,)).fetchone()
    assert new == ("Lovelace, Ada", "Multi\nline Co", ["newsletter", "vip"], 42, {"industry": "SaaS", "plan": "pro"}, "active")
    # Empty cells keep the stored values.
    assert conn.execute("SELECT first_name, city, company FROM campaigns.contacts WHERE tenant_id = %s AND email = 'known@example.com'",
                        (tenant.tenant_id,)).fetchone() == ("Known", "Paris", "Acme")


def test_csv_import_streams_in_chunks(api, conn, tenant):
    def body():
        yield b"email,first_name,custom.n\n"
        for i in range(2_500):
            # Records split across network chunks, including inside a quoted field.
            yield f'c{i}@example.com,"Name\n{i}",{i}\n'.encode()[:7]
            yield f'c{i}@example.com,"Name\n{i}",{i}\n'.encode()[7:]
        yield b"not-an-email,x,1"  # the last record without a newline
    result = ok(api.post("/api/contacts/import", content=body(), headers={"content-type": "text/csv"}))
    assert (result["rows"], result["created"], result["rejected"]) == (2_501, 2_500, 1)
    assert result["errors"] == [{"index": 2_500, "code": "INVALID_EMAIL", "field": "email",
                                 "message": "email is required and must look like name@domain.tld"}]
    assert conn.execute("SELECT first_name FROM campaigns.contacts WHERE tenant_id = %s AND email = 'c1234@example.com'",
                        (tenant.tenant_id,)).fetchone() == ("Name\n1234",)


def test_csv_import_as_json(api, conn, tenant):
    """The same CSV text in {"csv": "…"} (application/json) imports the same way."""
    csv = "email,first_name,tags\nada@example.com,Ada,a;b\nnot-an-email,x,\n"
    result = ok(api.post("/api/contacts/import", json={"csv": csv}))
    assert (result["rows"], result["created"], result["rejected"]) == (2, 1, 1)
    assert result["errors"][0]["index"] == 1
    assert conn.execute("SELECT first_name, tags FROM campaigns.contacts WHERE tenant_id = %s AND email = 'ada@example.com'",
                        (tenant.tenant_id,)).fetchone() == ("Ada", ["a", "b"])


def test_csv_import_refusals(api, conn):
    before = digest(conn)
    assert_problem(api.post("/api/contacts/import", content=b"email\na@example.com\n", headers={"content-type": "text/plain"}), 415, "UNSUPPORTED_MEDIA_TYPE")
    # The JSON form: not JSON, not an object with a `csv` string, or a CSV without an email column.
    assert_problem(api.post("/api/contacts/import", content=b"email\na@example.com\n", headers={"content-type": "application/json"}), 400, "INVALID_JSON")
    for body in ({}, {"csv": 1}, {"csv": ""}, {"csv": "email\n", "x": 1}):
        problem = assert_problem(api.post("/api/contacts/import", json=body), 400, "VALIDATION_FAILED")
        assert problem["errors"][0]["source"] == "body"
    assert_problem(api.post("/api/contacts/import", json={"csv": "name\nx\n"}), 400, "INVALID_CSV")
    assert_problem(api.post("/api/contacts/import", content=b"name,company\nx,y\n", headers={"content-type": "text/csv"}), 400, "INVALID_CSV")
    assert_problem(api.post("/api/contacts/import", content=b"", headers={"content-type": "text/csv"}), 400, "INVALID_CSV")
    assert_problem(api.post("/api/contacts/import", content=b"email\n\xff\xfe@example.com\n", headers={"content-type": "text/csv"}), 400, "INVALID_CSV")
    assert_problem(api.post("/api/contacts/import", content=b'email\n"a@example.com\n', headers={"content-type": "text/csv"}), 400, "INVALID_CSV")
    assert digest(conn) == before
