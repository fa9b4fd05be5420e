"""Renders the report document (campaigns.campaign_report) as a self-contained HTML page: no script,
no external asset, the daily chart as inline SVG."""

from __future__ import annotations

from html import escape

SERIES = (("sent", "#2563eb", "Sent"), ("opens", "#16a34a", "Opens"), ("clicks", "#f59e0b", "Clicks"), ("replies", "#db2777", "Replies"))

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#111;max-width:1100px}
h1{margin-bottom:.2rem} .muted{color:#666} section{margin:1.6rem 0}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e5e7eb}
th{background:#f9fafb} .num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#dbeafe;height:1.1rem;position:relative} .bar span{background:#2563eb;display:block;height:100%}
.chips span{display:inline-block;margin:.2rem .6rem .2rem 0;padding:.2rem .6rem;border-radius:1rem;background:#f3f4f6}
.legend span{margin-right:1rem} .legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}
"""


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


def _chips(counts: dict, test_id: str) -> str:
    if not counts:
        return f'<p class="muted" data-test="{test_id}">none</p>'
    items = "".join(f'<span data-status="{escape(k)}">{escape(k)}: <b>{v:,}</b></span>' for k, v in sorted(counts.items()))
    return f'<div class="chips" data-test="{test_id}">{items}</div>'


def _funnel(steps: list[dict]) -> str:
    if not steps:
        return '<p class="muted">No email step.</p>'
    top = max((s["sent"] for s in steps), default=0) or 1
    rows = []
    for s in steps:
        rows.append(
            f'<tr data-test="funnel-step"><td>{s["step_order"]}. {escape(str(s["name"]))}</td>'
            f'<td style="width:30%"><div class="bar"><span style="width:{100.0 * s["sent"] / top:.1f}%"></span></div></td>'
            f'<td class="num" data-field="sent">{s["sent"]:,}</td><td class="num">{s["delivered"]:,}</td>'
            f'<td class="num" data-field="opens">{s["opens"]:,} ({_pct(s["opens"], s["delivered"])})</td>'
            f'<td class="num">{s["clicks"]:,} ({_pct(s["clicks"], s["delivered"])})</td>'
            f'<td class="num">{s["replies"]:,}</td><td class="num">{s["bounces"]:,}</td><td class="num">{s["unsubscribes"]:,}</td></tr>'
        )
    return ('<table><tr><th>Step</th><th></th><th class="num">Sent</th><th class="num">Delivered</th><th class="num">Opens</th>'
            '<th class="num">Clicks</th><th class="num">Replies</th><th class="num">Bounces</th><th class="num">Unsubscribes</th></tr>'
            + "".join(rows) + "</table>")


def _chart(days: list[dict], width: int = 1000, height: int = 260) -> str:
    pad, n = 36, max(len(days), 1)
    top = max((d[key] for d in days for key, _, _ in SERIES), default=0) or 1
    step = (width - 2 * pad) / max(n - 1, 1)

    def point(i: int, v: float) -> str:
        return f"{pad + i * step:.1f},{height - pad - (height - 2 * pad) * v / top:.1f}"

    lines = "".join(
        f'<polyline data-series="{key}" fill="none" stroke="{color}" stroke-width="2" '
        f'points="{" ".join(point(i, d[key]) for i, d in enumerate(days))}"/>'
        for key, color, _ in SERIES)
    labels = "".join(
        f'<text x="{pad + i * step:.1f}" y="{height - 10}" font-size="10" text-anchor="middle">{escape(d["date"][5:])}</text>'
        for i, d in enumerate(days) if i % max(n // 10, 1) == 0)
    axis = (f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#9ca3af"/>'
            f'<text x="4" y="{pad}" font-size="10">{top:,}</text><text x="4" y="{height - pad}" font-size="10">0</text>')
    legend = "".join(f'<span><i style="background:{color}"></i>{label}</span>' for _, color, label in SERIES)
    totals = " · ".join(f'{label} <b data-total="{key}">{sum(d[key] for d in days):,}</b>' for key, _, label in SERIES)
    return (f'<svg data-test="daily-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="Daily sends, opens, clicks and replies">{axis}{lines}{labels}</svg>'
            f'<div class="legend">{legend}</div><p class="muted">Last {len(days)} days: {totals}</p>')


def _ab_tests(tests: list[dict]) -> str:
    if not tests:
        return '<p class="muted">No A/B test.</p>'
    out = []
    for t in tests:
        rows = "".join(
            f'<tr data-test="ab-variant"><td>{escape(v["variant_name"])}{" (control)" if v["is_control"] else ""}'
            f'{" 🏆" if v["is_winner"] else ""}</td><td class="num">{v["sent"]:,}</td><td class="num">{v["delivered"]:,}</td>'
            f'<td class="num">{v["open_rate"]}%</td><td class="num">{v["click_rate"]}%</td>'
            f'<td class="num">{"" if v["confidence"] is None else str(v["confidence"]) + "%"}</td>'
            f'<td class="num">{"" if v["lift"] is None else str(v["lift"]) + "%"}</td></tr>'
            for v in t["variants"] or [])
        out.append(f'<h3>{escape(t["name"])} <span class="muted">— {escape(t["status"])}, {escape(t["win_metric"])}'
                   f'{", " + escape(t["decision"]) if t["decision"] else ""}</span></h3>'
                   '<table><tr><th>Variant</th><th class="num">Sent</th><th class="num">Delivered</th><th class="num">Open rate</th>'
                   f'<th class="num">Click rate</th><th class="num">Confidence</th><th class="num">Lift</th></tr>{rows}</table>')
    return "".join(out)


def _failures(failures: list[dict]) -> str:
    if not failures:
        return '<p class="muted" data-test="no-failures">No failed message.</p>'
    rows = "".join(f'<tr data-test="failure"><td>{escape(f["to_email"])}</td><td>{escape(f.get("kind") or "")}</td>'
                   f'<td>{escape(f["error"] or "")}</td>'
                   f'<td class="num">{f["attempts"]}</td><td>{escape(str(f["at"]))}</td></tr>' for f in failures)
    return ('<table><tr><th>Recipient</th><th>Reason</th><th>Error</th><th class="num">Attempts</th><th>Queued</th></tr>'
            f'{rows}</table>')


def render_report(doc: dict) -> str:
    c = doc["campaign"]
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(c['name'])} — campaign report</title><style>{STYLE}</style></head><body>"
        f'<h1 data-test="campaign-name">{escape(c["name"])}</h1>'
        f'<p class="muted">Status <b data-test="campaign-status">{escape(c["status"])}</b> · '
        f'{c["total_contacts"]:,} contacts · launched {escape(str(c["launched_at"] or "—"))} · '
        f'generated {escape(str(doc["generated_at"]))}</p>'
        f'<section><h2>Enrollments</h2>{_chips(doc["enrollments"], "enrollments")}'
        f'<h2>Outbox</h2>{_chips(doc["outbox"], "outbox")}</section>'
        f'<section><h2>Step funnel</h2>{_funnel(doc["funnel"])}</section>'
        f'<section><h2>Daily activity (UTC)</h2>{_chart(doc["daily"] or [])}</section>'
        f'<section><h2>A/B tests</h2>{_ab_tests(doc["ab_tests"])}</section>'
        f'<section><h2>Failures</h2><h3>Dead letters by reason</h3>{_chips(doc.get("dead_letters") or {}, "dead-letters")}'
        f'{_failures(doc["failures"])}</section>'
        "</body></html>"
    )
