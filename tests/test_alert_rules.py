"""The Prometheus alert rules (ops/prometheus/alerts.yml): every metric a rule names is one the
service exports (kernel/metrics.py), every expression parses (promtool when installed, else a
small PromQL check), and every rule links to a runbook section that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

import kernel.metrics
from tests.test_docs_links import anchors

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp_max",
    "clamp_min", "count_over_time", "delta", "deriv", "floor", "histogram_quantile", "increase",
    "irate", "label_replace", "max_over_time", "min_over_time", "predict_linear", "rate",
    "resets", "round", "scalar", "sum_over_time", "time", "timestamp", "vector",
}  # fmt: skip
AGGREGATIONS = {"avg", "count", "max", "min", "quantile", "stddev", "sum", "topk", "bottomk"}
KEYWORDS = {"and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)
    | (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<range>\[\d+[smhdwy]\])
    | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^><=(){},])
    )""",
    re.X,
)


class PromQLError(ValueError):
    """An expression the small check cannot read."""


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def exported_names() -> set[str]:
    """Every sample name the service's registries can export (kernel/metrics.py)."""
    names: set[str] = set()
    registries: list[CollectorRegistry] = [REGISTRY, kernel.metrics.LEDGER_VERIFY]
    for registry in registries:
        for family in registry.collect():
            suffixes = {
                "counter": ["_total", "_created"],
                "histogram": ["_bucket", "_count", "_sum", "_created"],
                "gauge": [""],
            }.get(family.type, [""])
            names.update(family.name + suffix for suffix in suffixes)
    return names


def tokens(expr: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    at = 0
    while at < len(expr.rstrip()):
        match = TOKEN.match(expr, at)
        if match is None or match.end() == at:
            raise PromQLError(f"cannot read {expr[at:]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def metric_names(expr: str) -> set[str]:
    """The series a PromQL expression selects, checked as it is read: brackets balance, a name
    before `(` is a function or an aggregation, `{...}` holds `label op "value"` matchers, and
    `by`/`without` take a list of labels. Raises PromQLError when it does not parse."""
    found: set[str] = set()
    toks = tokens(expr)
    depth: list[str] = []
    pairs = {")": "(", "}": "{"}
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        following = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "op" and text in "({":
            depth.append(text)
            if text == "{":
                i = _matchers(toks, i + 1)
                depth.pop()
                continue
        elif kind == "op" and text in ")}":
            if not depth or depth.pop() != pairs[text]:
                raise PromQLError(f"unbalanced {text!r} in {expr!r}")
        elif kind == "name" and text in ("by", "without"):
            i = _label_list(toks, i + 1)
            continue
        elif kind == "name" and (following == "(" or text in AGGREGATIONS):
            if text not in FUNCTIONS | AGGREGATIONS:
                raise PromQLError(f"unknown function {text!r}")
        elif kind == "name" and text not in KEYWORDS:
            found.add(text)
        elif kind == "range" and toks[i - 1][1] not in ("}",) and toks[i - 1][0] != "name":
            raise PromQLError(f"a range must follow a selector in {expr!r}")
        i += 1
    if depth:
        raise PromQLError(f"unclosed {depth[-1]!r} in {expr!r}")
    return found


def _matchers(toks: list[tuple[str, str]], i: int) -> int:
    """Past `label op "value"` pairs and the closing brace."""
    while toks[i][1] != "}":
        label, op, value = toks[i : i + 3]
        if label[0] != "name" or op[1] not in ("=", "!=", "=~", "!~") or value[0] != "string":
            raise PromQLError(f"bad matcher {label[1]}{op[1]}{value[1]}")
        i += 3
        if toks[i][1] == ",":
            i += 1
    return i + 1


def _label_list(toks: list[tuple[str, str]], i: int) -> int:
    """Past `(label, ...)`."""
    if toks[i][1] != "(":
        raise PromQLError("by/without must be followed by (labels)")
    i += 1
    while toks[i][1] != ")":
        if toks[i][0] != "name":
            raise PromQLError(f"{toks[i][1]!r} is not a label")
        i += 2 if toks[i + 1][1] == "," else 1
    return i + 1


def test_every_rule_names_only_metrics_the_service_exports() -> None:
    exported = exported_names()
    assert len(rules()) >= 10
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported, (rule["alert"], names - exported)


def test_the_rules_cover_what_the_issue_asks() -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    assert {
        "diamonds_payouts_unknown_oldest_age_seconds",
        "diamonds_payouts_unknown_window_seconds",
        "diamonds_bank_outbox_oldest_age_seconds",
        "diamonds_webhook_verifications_failed_total",
        "diamonds_ledger_verify_violations",
        "diamonds_ledger_verify_completed_timestamp_seconds",
        "diamonds_provider_faults_total",
        "diamonds_provider_retries_total",
        "diamonds_requests_total",
    } <= used


def test_every_rule_has_a_severity_and_a_runbook_that_exists() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert (ROOT / page).is_file(), rule["alert"]
        if anchor:
            assert anchor in anchors(ROOT / page), (rule["alert"], anchor)


def test_the_check_refuses_what_does_not_parse() -> None:
    assert metric_names('sum by (a) (rate(x_total{k="v", j=~"w"}[5m])) > 0') == {"x_total"}
    for broken in (
        "sum(rate(x_total[5m])",
        "rate(x_total[5m]))",
        "sum by a (x)",
        "x{k=v}",
        "frobnicate(x)",
        "x[5q]",
    ):
        with pytest.raises(PromQLError):
            metric_names(broken)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    done = subprocess.run(  # noqa: S603 - promtool from PATH, on our own file
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
