"""report.html: one offline file, inline CSS and SVG charts, no scripts and nothing fetched."""

from __future__ import annotations

from html import escape

from assistant.evaluation.dataset import METRICS
from assistant.evaluation.metrics import Summary
from assistant.evaluation.report import Report, fmt, scopes
from assistant.evaluation.runner import CaseResult

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
body{padding:0 1rem}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f5f5f5}
.ok{color:#176b2c;font-weight:600}.bad{color:#b00020;font-weight:600}.num{text-align:right}
details{margin:.2rem 0}pre{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:.5rem}
svg text{font:12px system-ui,sans-serif}.muted{color:#666}
"""
BAR = "#3b6fb6"
BAR_BAD = "#c2453d"


def render_html(report: Report) -> str:
    cols = scopes(report)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Evaluation report {escape(report.created)}</title><style>{CSS}</style></head><body>",
        f"<h1>Evaluation report</h1><p class='muted'>{escape(report.created)}; {len(report.cases)} cases; index of "
        f"{escape(str(report.index.get('documents', '?')))} documents.</p>",
        f"<p>Gate: <span class='{'ok' if report.passed else 'bad'}'>{'PASSED' if report.passed else 'FAILED'}</span>"
        "</p>",
        _failures(report),
        _metrics_table(cols),
        _checks(report),
        _config(report),
    ]
    for name, summary in cols:
        parts += [f"<h2>{escape(name)}</h2>", "<h3>Case pass rate and behaviour accuracy by category</h3>",
                  category_bars(summary), "<h3>Confusion matrix</h3>", _confusion(summary),
                  "<h3>Latency</h3>", _latency_table(summary)]
    parts += ["<h2>Total latency per case</h2>", latency_histogram([c.timings.get("total", 0.0) for c in report.cases]),
              _cases(report), "</body></html>"]
    return "\n".join(parts)


def category_bars(summary: Summary, width: int = 640) -> str:
    """Horizontal bars per category: case pass rate (solid) with behaviour accuracy as a tick."""
    cats = list(summary.categories.items())
    label_w, row_h, bar_w = 190, 22, width - 190 - 70
    height = row_h * len(cats) + 24
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
           "aria-label='pass rate by category'>"]
    for i, (cat, values) in enumerate(cats):
        y = 4 + i * row_h
        rate = values.get("case_pass_rate") or 0.0
        behaviour = values.get("behavior_accuracy") or 0.0
        colour = BAR if rate >= 0.8 else BAR_BAD
        label = f"{escape(cat)} ({int(values['cases'] or 0)})"
        out += [
            f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{label}</text>",
            f"<rect x='{label_w}' y='{y + 3}' width='{bar_w}' height='14' fill='#eee'/>",
            f"<rect x='{label_w}' y='{y + 3}' width='{rate * bar_w:.1f}' height='14' fill='{colour}'>"
            f"<title>{escape(cat)}: pass {fmt(rate)}, behaviour {fmt(behaviour)}</title></rect>",
            f"<line x1='{label_w + behaviour * bar_w:.1f}' x2='{label_w + behaviour * bar_w:.1f}' y1='{y + 1}' "
            f"y2='{y + 19}' stroke='#111' stroke-width='2'/>",
            f"<text x='{label_w + bar_w + 6}' y='{y + 14}'>{fmt(rate)}</text>",
        ]
    out.append(f"<text x='{label_w}' y='{height - 4}' class='muted'>bar: case pass rate; tick: behaviour accuracy"
               "</text></svg>")
    return "".join(out)


def latency_histogram(values: list[float], width: int = 640, height: int = 220, bins: int = 20) -> str:
    if not values:
        return "<p class='muted'>no timings</p>"
    top = max(values) or 1.0
    step = top / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / step))] += 1
    peak = max(counts)
    left, bottom, plot_w, plot_h = 40, 30, width - 60, height - 50
    bw = plot_w / bins
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
           "aria-label='latency histogram'>",
           f"<line x1='{left}' y1='{height - bottom}' x2='{left + plot_w}' y2='{height - bottom}' stroke='#999'/>"]
    for i, n in enumerate(counts):
        h = plot_h * n / peak
        x = left + i * bw
        out.append(f"<rect x='{x + 1:.1f}' y='{height - bottom - h:.1f}' width='{bw - 2:.1f}' height='{h:.1f}' "
                   f"fill='{BAR}'><title>{i * step:.0f}-{(i + 1) * step:.0f} ms: {n} cases</title></rect>")
    for frac in (0, 0.5, 1):
        x = left + frac * plot_w
        out.append(f"<text x='{x:.1f}' y='{height - bottom + 16}' text-anchor='middle'>{frac * top:.0f} ms</text>")
    out.append(f"<text x='{left - 6}' y='{height - bottom - plot_h + 4}' text-anchor='end'>{peak}</text>")
    out.append(f"<text x='{left - 6}' y='{height - bottom}' text-anchor='end'>0</text></svg>")
    return "".join(out)


def _metrics_table(cols: list[tuple[str, Summary]]) -> str:
    head = "".join(f"<th>{escape(n)}</th>" for n, _ in cols)
    rows = "".join(
        f"<tr><td>{m}</td>" + "".join(f"<td class='num'>{fmt(s.metrics.get(m), m != 'mrr')}</td>" for _, s in cols)
        + "</tr>" for m in METRICS
    )
    counts = "".join(
        f"<tr><td class='muted'>{escape(k)}</td>"
        + "".join(f"<td class='num muted'>{s.counts.get(k, 0):g}</td>" for _, s in cols) + "</tr>"
        for k in cols[0][1].counts
    )
    return f"<table><tr><th>metric</th>{head}</tr>{rows}{counts}</table>"


def _failures(report: Report) -> str:
    """Failing cases first: what failed, then the question and reply to open."""
    failed = [c for c in report.cases if not c.passed]
    if not failed:
        return f"<h2 id='failures'>Failing cases (0)</h2><p class='ok'>All {len(report.cases)} cases passed.</p>"
    rows = "".join(
        f"<tr><td>{escape(c.suite)}/{escape(c.id)}</td><td>{escape(c.category)}</td>"
        f"<td><ul>{''.join(f'<li>{escape(r)}</li>' for r in c.reasons)}</ul></td>"
        f"<td><details><summary>{escape(c.question)}</summary><pre>{escape(c.text)}</pre></details></td></tr>"
        for c in failed
    )
    return (f"<h2 id='failures'>Failing cases ({len(failed)})</h2><table><tr><th>case</th><th>category</th>"
            f"<th>what failed</th><th>question and reply</th></tr>{rows}</table>")


def _config(report: Report) -> str:
    if not report.config:
        return "<p class='muted'>The run's configuration was not recorded.</p>"
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape('-' if v is None else str(v))}</td></tr>"
                   for k, v in report.config.items())
    return f"<h2>Configuration</h2><table><tr><th>setting</th><th>value</th></tr>{rows}</table>"


def _checks(report: Report) -> str:
    if not report.checks:
        return "<p class='muted'>No thresholds were set.</p>"
    rows = "".join(
        f"<tr><td>{escape(c.scope)}</td><td>{c.metric}</td><td class='num'>{c.minimum:.2f}</td>"
        f"<td class='num'>{fmt(c.value, False)}</td><td class='{'ok' if c.passed else 'bad'}'>"
        f"{'ok' if c.passed else 'FAILED'}{escape(f' ({c.note})' if c.note else '')}</td></tr>" for c in report.checks
    )
    return ("<h2>Thresholds</h2><table><tr><th>scope</th><th>metric</th><th>minimum</th><th>measured</th>"
            f"<th>result</th></tr>{rows}</table>")


def _confusion(summary: Summary) -> str:
    present = [a for a in next(iter(summary.confusion.values()), {})
               if any(row[a] for row in summary.confusion.values())]
    head = "".join(f"<th>{escape(a)}</th>" for a in present)
    rows = ""
    for expected, row in summary.confusion.items():
        total = sum(row.values()) or 1
        cells = "".join(
            f"<td class='num' style='background:rgba(59,111,182,{row[a] / total * 0.6:.2f})'>{row[a]}</td>"
            for a in present
        )
        rows += f"<tr><th>{escape(expected)}</th>{cells}</tr>"
    return f"<table><tr><th>expected \\ returned</th>{head}</tr>{rows}</table>"


def _latency_table(summary: Summary) -> str:
    rows = "".join(
        f"<tr><td>{escape(stage)}</td><td class='num'>{v['n']:g}</td><td class='num'>{v['p50']:.1f}</td>"
        f"<td class='num'>{v['p95']:.1f}</td><td class='num'>{v['max']:.1f}</td></tr>"
        for stage, v in summary.latency_ms.items()
    )
    return f"<table><tr><th>stage</th><th>n</th><th>p50 ms</th><th>p95 ms</th><th>max ms</th></tr>{rows}</table>"


def _graded(case: CaseResult) -> str:
    """Each key point and rubric item of a case with its verdict and why (similarity, or the judge's reason)."""
    items = []
    kp = case.scores.get("key_points")
    for p in kp.detail.get("points", []) if kp else []:
        items.append(f"<li>{'met' if p['met'] else 'missed'} (similarity {p['similarity']:.2f}, words "
                     f"{p['word_share']:.0%}): {escape(str(p['point']))}</li>")
    rb = case.scores.get("rubric")
    for i in rb.detail.get("items", []) if rb else []:
        items.append(f"<li>{'+' if i['points'] > 0 else ''}{i['points']} {'met' if i['met'] else 'not met'} "
                     f"by {escape(str(i['by']))}{'' if i['met'] == i['offline_met'] else ' (offline disagrees)'}: "
                     f"{escape(str(i['criterion']))} - {escape(str(i['reason']))}</li>")
    return f"<ul class='graded'>{''.join(items)}</ul>" if items else ""


def _cases(report: Report) -> str:
    rows = []
    for c in sorted(report.cases, key=lambda case: case.passed):  # failing cases first, otherwise in run order
        history = "".join(f"<div class='muted'>{escape(role)}: {escape(text)}</div>" for role, text in c.history)
        cites = "".join(f"<li>[{x.n}] {escape(x.doc_id)} - {escape(x.section)}: {escape(x.quote)}</li>"
                        for x in c.citations)
        scores = "".join(f"<li>{escape(k)}: {'-' if s.passed is None else ('ok' if s.passed else 'FAIL')} "
                         f"- {escape(s.reason)}</li>" for k, s in c.scores.items())
        rows.append(
            f"<tr><td>{escape(c.suite)}/{escape(c.id)}</td><td>{escape(c.category)}</td>"
            f"<td>{escape(c.expected_behavior)}</td><td>{escape(c.behavior)}</td>"
            f"<td class='{'ok' if c.passed else 'bad'}'>{'pass' if c.passed else 'fail'}</td>"
            f"<td><details><summary>{escape(c.question)}</summary>{history}<pre>{escape(c.text)}</pre>"
            f"<ul>{cites}</ul><ul>{scores}</ul>{_graded(c)}</details>{escape('; '.join(c.reasons))}</td></tr>"
        )
    return ("<h2>Cases</h2><p class='muted'>Failing cases first.</p><table><tr><th>case</th><th>category</th>"
            "<th>expected</th><th>returned</th><th>result</th>"
            f"<th>question, reply and reasons</th></tr>{''.join(rows)}</table>")
