"""One self-contained HTML page: inline CSS, no script, every value escaped.

The page forbids scripts and remote loads in its own Content-Security-Policy, so even a value
that escaped escaping could not run or call home.
"""

from __future__ import annotations

from html import escape

from corral.audit.model import CATEGORY_TITLES, Finding, Report, sort_findings
from corral.audit.output import printable
from corral.audit.summary import risk_summary

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f;max-width:80rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.4rem;
vertical-align:top;text-align:left}th{background:#f2f2f2}code{white-space:pre-wrap;word-break:break-all}
.sev{font-weight:bold;text-transform:uppercase;font-size:.8rem}.critical{background:#b00020;color:#fff}
.high{color:#b00020}.medium{color:#a86b00}.low{color:#00639b}.info{color:#666}
.summary{border:2px solid #333;padding:1rem;margin-top:2rem}.detail{color:#555}
"""


def _e(text: str) -> str:
    return escape(printable(text), quote=True)


def to_html(report: Report) -> str:
    meta = report.meta
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>corral audit: {_e(meta.hostname)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>corral audit of {_e(meta.hostname)}</h1>",
        f"<p>As <code>{_e(meta.user)}</code> (uid {meta.uid}, gid {meta.gid}), home "
        f"<code>{_e(meta.home)}</code>, policy <code>{_e(meta.policy)}</code>, "
        f"{'inside the fence, ' if meta.inside_sandbox else ''}started {_e(meta.started)}, "
        f"{len(meta.checks)} checks in {meta.duration_s:.2f} s.</p>",
    ]
    for category, title in CATEGORY_TITLES.items():
        findings = sort_findings([f for f in report.findings if f.category == category])
        if findings:
            parts.append(_section(title, findings))
    parts.append(_summary(report))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(title: str, findings: list[Finding]) -> str:
    rows = [
        f"<h2>{_e(title)}</h2><table><thead><tr><th>Severity</th><th>Id</th><th>Finding</th>"
        "<th>Evidence</th><th>ATT&amp;CK</th><th>Fix</th></tr></thead><tbody>"
    ]
    for f in findings:
        evidence = "<br>".join(f"<code>{_e(e)}</code>" for e in f.evidence)
        detail = f'<div class="detail">{_e(f.detail)}</div>' if f.detail else ""
        rows.append(
            f'<tr><td class="sev {f.severity}">{_e(f.severity)}</td><td>{_e(f.id)}</td>'
            f"<td>{_e(f.title)}{detail}</td><td>{evidence}</td>"
            f"<td>{_e(', '.join(f.attack))}</td><td>{_e(f.fix)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _summary(report: Report) -> str:
    summary = risk_summary(report)
    counts = ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n) or "none"
    top = "".join(
        f"<li>{_e(f.id)} {_e(f.title)}: <code>{_e(f.evidence[0] if f.evidence else '')}</code></li>"
        for f in summary.top
    )
    return (
        '<div class="summary"><h2>Risk summary</h2>'
        f'<p><span class="sev {summary.level}">{_e(summary.level)}</span> — '
        f"{_e(summary.verdict)}</p>"
        f"<p>Findings: {_e(counts)}; could not check: {summary.could_not_check}.</p>"
        + (f"<ul>{top}</ul>" if top else "")
        + "</div>"
    )
