"""Rendering with python-liquid: merge tags and their aliases, custom fields,
fallbacks and the legacy shorthand, conditionals, escaping in HTML, filters, and the fallback on errors."""

from __future__ import annotations

import logging

import pytest

from service.worker.render import Renderer, build_context, html_to_text, strip_merge_tags, translate_shorthand

CONTACT = {
    "email": "ann@example.org", "first_name": "Ann", "last_name": "Lee", "company": "Acme", "job_title": "CTO",
    "city": "Lyon", "state": "ARA", "country": "FR", "custom_fields": {"industry": "Retail", "seats": 12},
    "score": 72, "tags": ["vip"], "campaign_name": "Spring", "contact_timezone": None, "campaign_timezone": "UTC",
}


def ctx(**overrides):
    row = {**CONTACT, **overrides}
    return build_context(row, sender_name="Bob Sender", sender_email="bob@example.com",
                         unsubscribe_url="https://x.test/unsubscribe/tok")


@pytest.fixture
def r():
    return Renderer()


@pytest.mark.parametrize("tag, expected", [
    ("{{ first_name }}", "Ann"), ("{{firstName}}", "Ann"), ("{{ last_name }}", "Lee"), ("{{lastName}}", "Lee"),
    ("{{ email }}", "ann@example.org"), ("{{ company }}", "Acme"), ("{{ job_title }}", "CTO"), ("{{jobTitle}}", "CTO"),
    ("{{ city }}", "Lyon"), ("{{ state }}", "ARA"), ("{{ country }}", "FR"),
    ("{{ sender.name }}", "Bob Sender"), ("{{senderName}}", "Bob Sender"), ("{{ sender_email }}", "bob@example.com"),
    ("{{ campaign_name }}", "Spring"), ("{{ contact.first_name }}", "Ann"), ("{{ full_name }}", "Ann Lee"),
    ("{{ unsubscribe_url }}", "https://x.test/unsubscribe/tok"),
])
def test_merge_tags_and_camel_case_aliases(r, tag, expected):
    assert r.render(f"[{tag}]", ctx()) == f"[{expected}]"
    assert r.render(f"[{tag}]", ctx(), html=True) == f"[{expected}]"


def test_custom_fields_under_both_names(r):
    assert r.render("{{ custom.industry }}/{{customField.industry}}/{{ custom.seats }}", ctx()) == "Retail/Retail/12"


@pytest.mark.parametrize("source", [
    '{{ first_name | default: "there" }}', "{{firstName|there}}", "{{ firstName|there }}",
])
@pytest.mark.parametrize("value", [None, ""])
def test_default_and_shorthand_fallbacks(r, source, value):
    # missing or empty → the fallback
    assert r.render(f"Hi {source},", ctx(first_name=value)) == "Hi there,"
    assert r.render(f"Hi {source},", ctx()) == "Hi Ann,"


def test_quoted_shorthand_strips_quotes(r):
    assert r.render('{{company|"Your company"}}', ctx(company=None)) == "Your company"
    assert r.render("{{ company | 'Your company' }}", ctx(company=None)) == "Your company"
    assert r.render('{{company|"Your company"}}', ctx()) == "Acme"


def test_shorthand_keeps_real_filters():
    assert translate_shorthand("{{ name | upcase }}") == "{{ name | upcase }}"
    assert translate_shorthand("{{name|upcase}}") == "{{name|upcase}}"
    assert translate_shorthand('{{ name | default: "x" | upcase }}') == '{{ name | default: "x" | upcase }}'
    assert translate_shorthand("{{ name | truncate: 5 }}") == "{{ name | truncate: 5 }}"
    assert translate_shorthand("{{name|there}}") == '{{ name | default: "there" }}'
    assert translate_shorthand("{{firstName|Hi there}}") == '{{ firstName | default: "Hi there" }}'


@pytest.mark.parametrize("source", [
    "{{firstName|there}}", '{{company|"Your company"}}', "{{ name | upcase }}", "{{name|upcase}}",
    "{{ name | there }}", "{{ custom.industry|n/a }}", '{{ a | default: "x" }}', "{% if a %}{{a|b}}{% endif %}",
])
def test_renderer_and_save_time_validation_agree_on_the_shorthand(source):
    from service.liquid import translate_shorthand as normalise_legacy_tags

    assert translate_shorthand(source) == normalise_legacy_tags(source)


def test_missing_tag_renders_empty(r):
    assert r.render("[{{ nickname }}][{{ custom.nothing }}][{{ contact.nope }}]", ctx()) == "[][][]"


def test_if_else_on_presence(r):
    source = "{% if company %}A{% else %}B{% endif %}"
    assert r.render(source, ctx()) == "A"
    assert r.render(source, ctx(company=None)) == "B"


@pytest.mark.parametrize("score, expected", [(80, "hot"), (60, "warm"), (10, "cold")])
def test_elsif_with_numeric_comparisons(r, score, expected):
    source = "{% if leadScore > 70 %}hot{% elsif leadScore > 50 %}warm{% else %}cold{% endif %}"
    assert r.render(source, ctx(score=score)) == expected


def test_values_are_escaped_in_html_only(r):
    evil = '<script>alert("x")</script>'
    assert r.render("<p>{{ first_name }}</p>", ctx(first_name=evil), html=True) == \
        "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"
    assert r.render("{{ first_name }}", ctx(first_name=evil)) == evil  # subject and text parts: plain


def test_syntax_error_falls_back_to_stripped_template_and_logs(r, caplog):
    source = "Hello {{ first_name }}, {% if company %}unclosed. Bye {{ last_name }}"
    with caplog.at_level(logging.WARNING, logger="campaigns.worker.render"):
        out = r.render(source, ctx())
    assert out == "Hello , unclosed. Bye "
    assert "template error" in caplog.text
    assert "Ann" not in caplog.text  # the contact's data is never logged
    assert r.errors == 1


def test_unknown_filter_at_render_falls_back(r):
    # Refused at save time (an unknown filter); one saved through SQL still never fails the send.
    assert r.render("Hi {{ first_name | shout }}!", ctx()) == "Hi !"


@pytest.mark.parametrize("source, expected", [
    ("{{ first_name | upcase }}", "ANN"), ("{{ first_name | downcase }}", "ann"),
    ("{{ 'ann lee' | capitalize }}", "Ann lee"), ("{{ 'hello world' | truncate: 8 }}", "hello..."),
    ('{{ "2026-03-02T10:00:00Z" | date: "%Y-%m-%d" }}', "2026-03-02"), ("{{ 'ann lee' | titlecase }}", "Ann Lee"),
    ("{{ 1234.5 | currency }}", "$1,234.50"), ("{{ '5551234567' | phone_format }}", "(555) 123-4567"),
])
def test_filters(r, source, expected):
    assert r.render(source, ctx()) == expected


def test_compiled_templates_are_cached(r):
    source = "Hi {{ first_name }}"
    r.render(source, ctx())
    compiled = r._cache[(False, source)]
    r.render(source, ctx(first_name="Bo"))
    assert r._cache[(False, source)] is compiled


def test_cache_is_bounded():
    r = Renderer(cache_size=3)
    for i in range(10):
        r.render(f"{i} {{{{ first_name }}}}", ctx())
    assert len(r._cache) == 3


def test_strip_merge_tags():
    assert strip_merge_tags("a{{ x }}b{% if y %}c{% endif %}d") == "abcd"


def test_html_to_text_keeps_links_and_structure():
    text = html_to_text('<html><head><style>p{}</style></head><body><h1>Title</h1><p>One &amp; two</p>'
                        '<p><a href="https://x.test/a?b=1&amp;c=2">Read more</a></p><ul><li>i</li></ul></body></html>')
    assert "Title" in text and "One & two" in text
    assert "Read more (https://x.test/a?b=1&c=2)" in text
    assert "- i" in text and "p{}" not in text
