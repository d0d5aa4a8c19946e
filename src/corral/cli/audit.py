"""``corral audit``: what could an agent started here actually reach?"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from corral.audit import AuditConfig, AuditError, Report, compare, run_audit
from corral.audit.config import Endpoint, endpoint_from_url
from corral.audit.model import SEVERITIES, SEVERITY_RANK
from corral.audit.output.html import to_html
from corral.audit.output.policy import write_policy
from corral.audit.output.sarif import to_sarif
from corral.audit.output.terminal import render, render_comparison
from corral.audit.registry import CHECKS
from corral.audit.summary import report_json
from corral.cli.common import EXIT_CANNOT_RUN

EXIT_FINDINGS = 1


def _fail(message: str) -> None:
    click.echo(f"corral: {message}", err=True)
    sys.exit(EXIT_CANNOT_RUN)


@click.command("audit")
@click.option("--as-user", metavar="USER", help="Look with USER's permissions (needs root).")
@click.option(
    "--inside-sandbox",
    is_flag=True,
    help="Mark the report as taken from inside corral run's fence (compare with --compare).",
)
@click.option(
    "--policy",
    "-p",
    default="default",
    show_default=True,
    metavar="NAME|FILE",
    help="The policy the agent will run under (checked for being readable or writable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--sarif", type=click.Path(dir_okay=False, path_type=Path), help="Write SARIF 2.1.0.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML page.")
@click.option(
    "--write-policy",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a policy (extends default) that fences off what was found.",
)
@click.option("--probe-egress", metavar="HOST", help="Also try TCP handshakes to HOST.")
@click.option(
    "--egress-port",
    type=click.IntRange(1, 65535),
    multiple=True,
    help="Port to try on --probe-egress HOST (repeatable; default 443 80 22 53 25 8080).",
)
@click.option(
    "--cloud-identity",
    is_flag=True,
    help="Ask the cloud CLIs who the found credentials belong to (read-only calls; sends them).",
)
@click.option(
    "--check",
    "only",
    multiple=True,
    type=click.Choice(list(CHECKS)),
    help="Run only this check (repeatable).",
)
@click.option(
    "--metadata-url",
    multiple=True,
    metavar="URL",
    help="Probe this metadata URL instead of the built-in cloud endpoints (repeatable).",
)
@click.option(
    "--service",
    multiple=True,
    metavar="NAME:PORT",
    help="Also probe this loopback port as a local service (repeatable).",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="The agent's home directory (default: $HOME, or USER's with --as-user).",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Look for system files (/etc, /run, /usr, /sys) under this directory.",
)
@click.option(
    "--compare",
    "outside",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON report taken outside the fence: show what the fence removed.",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    help="Exit 1 when a finding of this severity or worse is present.",
)
def audit(  # click passes every option by keyword
    *,
    as_user: str | None,
    inside_sandbox: bool,
    policy: str,
    as_json: bool,
    sarif: Path | None,
    html: Path | None,
    write_policy: Path | None,
    probe_egress: str | None,
    egress_port: tuple[int, ...],
    cloud_identity: bool,
    only: tuple[str, ...],
    metadata_url: tuple[str, ...],
    service: tuple[str, ...],
    home: Path | None,
    root: Path,
    outside: Path | None,
    fail_on: str | None,
) -> None:
    """Report what an agent started here could reach: credentials, services, privilege,
    compute and money, and Corral itself. Secret values are never printed.

    Exit status: 0 audited, 1 a finding at --fail-on severity or worse, 2 could not run.
    """
    cfg = AuditConfig(
        home=home,
        root=root,
        policy=policy,
        probe_egress=probe_egress,
        cloud_identity=cloud_identity,
        inside_sandbox=inside_sandbox,
        as_user=as_user,
        only=only,
    )
    cfg = _with_probes(cfg, metadata_url, service, egress_port)
    before = _load_report(outside) if outside is not None else None
    try:
        report = run_audit(cfg)
    except AuditError as exc:
        _fail(str(exc))
        return
    _write_outputs(report, sarif, html, write_policy)
    if as_json:
        data: dict[str, Any] = report_json(report)
        if before is not None:
            data["comparison"] = compare(before, report).to_dict()
        click.echo(json.dumps(data, indent=2))
    else:
        console = Console(highlight=False)
        render(report, console)
        if before is not None:
            render_comparison(compare(before, report), console)
    if fail_on and any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[fail_on] for f in report.risks):
        sys.exit(EXIT_FINDINGS)


def _with_probes(
    cfg: AuditConfig,
    metadata_url: tuple[str, ...],
    service: tuple[str, ...],
    egress_port: tuple[int, ...],
) -> AuditConfig:
    if metadata_url:
        endpoints: list[Endpoint] = []
        for url in metadata_url:
            try:
                endpoints.append(endpoint_from_url(url))
            except ValueError as exc:
                _fail(f"--metadata-url {url}: {exc}")
        cfg = replace(cfg, metadata_endpoints=tuple(endpoints))
    extra = []
    for item in service:
        name, _, port = item.rpartition(":")
        if not name or not port.isdigit() or not 0 < int(port) < 65536:
            _fail(f"--service {item}: expected NAME:PORT, for example postgres:5432")
        extra.append((name, int(port)))
    if extra:
        cfg = replace(cfg, loopback_services=(*cfg.loopback_services, *extra))
    if egress_port:
        cfg = replace(cfg, egress_ports=egress_port)
    return cfg


def _load_report(path: Path) -> Report:
    try:
        return Report.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        _fail(f"{path}:{exc.lineno}: not a JSON report ({exc.msg}); write one with --json")
    except (KeyError, TypeError, ValueError) as exc:
        _fail(f"{path}: not a corral audit report ({type(exc).__name__}: {exc})")
    raise AssertionError("unreachable")


def _write_outputs(
    report: Report, sarif: Path | None, html: Path | None, policy_file: Path | None
) -> None:
    try:
        if sarif is not None:
            sarif.write_text(json.dumps(to_sarif(report), indent=2), encoding="utf-8")
        if html is not None:
            html.write_text(to_html(report), encoding="utf-8")
        if policy_file is not None:
            write_policy(report, policy_file)
    except OSError as exc:
        _fail(f"cannot write {exc.filename}: {exc.strerror}")
