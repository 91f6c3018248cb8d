"""CloudWatch metric math for the twin's alarms: the subset of the expression language feecast's
template uses, evaluated one period bucket at a time (pure: no moto, no clock).

Supported ("Metric math syntax and functions", CloudWatch user guide): numbers, the ids of the
alarm's other queries, unary minus, + - * /, the comparisons > < >= <= == != (1 or 0), AND, OR
and IF(condition, trueValue[, falseValue]). Anything else (FILL, METRICS(), SUM, RATE, SEARCH,
...) is refused with `UnsupportedExpression`, naming what the twin lacks: an alarm the twin
cannot evaluate must fail at PutMetricAlarm, not stay quietly in INSUFFICIENT_DATA.

Time series semantics, per timestamp: an operator between series with no datapoint on either
side gives no datapoint (CloudWatch aligns series by timestamp; FILL is how one fills a gap),
and so does a division by zero. IF without a falseValue gives no datapoint when false.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Expression",
    "MetricQuery",
    "UnsupportedExpression",
    "evaluate",
    "parse",
    "validate_queries",
]

# PutMetricAlarm's MetricDataQuery.Id: "must start with a lowercase letter".
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/()<>,]))"
)
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_LOGICAL = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR"}
_SUPPORTED_FUNCTIONS = ("IF",)


class UnsupportedExpression(ValueError):
    """An expression the twin cannot evaluate (or that CloudWatch would refuse)."""


# -- the syntax tree -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Unary:
    operand: Expression


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / > < >= <= == != AND OR
    left: Expression
    right: Expression


@dataclass(frozen=True)
class If:
    condition: Expression
    then: Expression
    otherwise: Expression | None


Expression = Number | Ref | Unary | Binary | If


def references(node: Expression) -> set[str]:
    """The query ids an expression reads."""
    if isinstance(node, Ref):
        return {node.id}
    if isinstance(node, Unary):
        return references(node.operand)
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    if isinstance(node, If):
        found = references(node.condition) | references(node.then)
        return found | (references(node.otherwise) if node.otherwise is not None else set())
    return set()


# -- parsing --------------------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise UnsupportedExpression(
                f"metric math: cannot read {text[position:].strip()!r} in {text!r}"
            )
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            wanted = f"{value!r}" if value else "more"
            raise UnsupportedExpression(f"metric math: expected {wanted} in {self.text!r}")
        self.at += 1
        return token

    def parse(self) -> Expression:
        node = self.logical()
        if self.peek() is not None:
            raise UnsupportedExpression(
                f"metric math: unexpected {self.peek()[1]!r} in {self.text!r}"  # type: ignore[index]
            )
        return node

    def logical(self) -> Expression:
        node = self.comparison()
        while (token := self.peek()) is not None and token[1].upper() in _LOGICAL:
            self.take()
            node = Binary(_LOGICAL[token[1].upper()], node, self.comparison())
        return node

    def comparison(self) -> Expression:
        node = self.additive()
        token = self.peek()
        if token is not None and token[1] in _COMPARISONS:
            self.take()
            node = Binary(token[1], node, self.additive())
        return node

    def additive(self) -> Expression:
        node = self.multiplicative()
        while (token := self.peek()) is not None and token[1] in ("+", "-"):
            self.take()
            node = Binary(token[1], node, self.multiplicative())
        return node

    def multiplicative(self) -> Expression:
        node = self.unary()
        while (token := self.peek()) is not None and token[1] in ("*", "/"):
            self.take()
            node = Binary(token[1], node, self.unary())
        return node

    def unary(self) -> Expression:
        token = self.peek()
        if token is not None and token[1] == "-":
            self.take()
            return Unary(self.unary())
        return self.primary()

    def primary(self) -> Expression:
        kind, value = self.take()
        if kind == "number":
            return Number(float(value))
        if value == "(":
            node = self.logical()
            self.take(")")
            return node
        if kind == "name":
            following = self.peek()
            if following is not None and following[1] == "(":
                return self.function(value)
            if not _ID.match(value):
                raise UnsupportedExpression(
                    f"metric math: {value!r} is not a query id (ids start with a lower-case "
                    f"letter) in {self.text!r}"
                )
            return Ref(value)
        raise UnsupportedExpression(f"metric math: unexpected {value!r} in {self.text!r}")

    def function(self, name: str) -> Expression:
        if name.upper() not in _SUPPORTED_FUNCTIONS:
            raise UnsupportedExpression(
                f"metric math: the twin does not evaluate {name}() (it supports "
                f"{', '.join(_SUPPORTED_FUNCTIONS)}, arithmetic, comparisons, AND, OR) "
                f"in {self.text!r}"
            )
        self.take("(")
        arguments = [self.logical()]
        while (token := self.peek()) is not None and token[1] == ",":
            self.take()
            arguments.append(self.logical())
        self.take(")")
        if len(arguments) not in (2, 3):
            raise UnsupportedExpression(
                f"metric math: IF takes 2 or 3 arguments, got {len(arguments)} in {self.text!r}"
            )
        return If(arguments[0], arguments[1], arguments[2] if len(arguments) == 3 else None)


def parse(text: str) -> Expression:
    """The syntax tree of a metric math expression (UnsupportedExpression if not supported)."""
    if not text or not text.strip():
        raise UnsupportedExpression("metric math: the expression is empty")
    return _Parser(text).parse()


# -- evaluation ------------------------------------------------------------------------------------
def evaluate(node: Expression, values: Mapping[str, float | None]) -> float | None:
    """The expression's value at one timestamp; None = no datapoint there."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        return values.get(node.id)
    if isinstance(node, Unary):
        operand = evaluate(node.operand, values)
        return None if operand is None else -operand
    if isinstance(node, If):
        condition = evaluate(node.condition, values)
        if condition is None:
            return None
        if condition != 0:
            return evaluate(node.then, values)
        return evaluate(node.otherwise, values) if node.otherwise is not None else None
    left, right = evaluate(node.left, values), evaluate(node.right, values)
    if left is None or right is None:
        return None
    if node.op in _ARITHMETIC:
        return _ARITHMETIC[node.op](left, right)
    if node.op == "/":
        return None if right == 0 else left / right
    if node.op in _COMPARISONS:
        return 1.0 if _COMPARISONS[node.op](left, right) else 0.0
    if node.op == "AND":
        return 1.0 if left != 0 and right != 0 else 0.0
    return 1.0 if left != 0 or right != 0 else 0.0  # OR


# -- the queries of an alarm -----------------------------------------------------------------------
@dataclass(frozen=True)
class MetricQuery:
    """One MetricDataQuery of a metric-math alarm: a metric (MetricStat) or an expression."""

    id: str
    return_data: bool
    expression: Expression | None = None
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str | None = None
    period: int | None = None
    unit: str | None = None
    label: str | None = None
    source: str | None = None  # the expression's text, for the event and the SNS message


def validate_queries(queries: list[MetricQuery]) -> MetricQuery:
    """Check the alarm's queries as PutMetricAlarm does; the one query that returns data."""
    ids = [query.id for query in queries]
    if not queries:
        raise UnsupportedExpression("Metrics must hold at least one query")
    for query in queries:
        if not _ID.match(query.id):
            raise UnsupportedExpression(
                f"Invalid metrics Id {query.id!r}: it must start with a lower-case letter and "
                "hold only letters, digits and underscores"
            )
        if (query.expression is None) == (query.metric_name is None):
            raise UnsupportedExpression(
                f"Metrics {query.id}: exactly one of Expression and MetricStat is required"
            )
        if query.metric_name is not None and (not query.period or not query.stat):
            raise UnsupportedExpression(f"Metrics {query.id}: MetricStat needs Period and Stat")
    if len(set(ids)) != len(ids):
        raise UnsupportedExpression(f"Metrics ids must be unique, got {ids}")
    returned = [query for query in queries if query.return_data]
    if len(returned) != 1:
        raise UnsupportedExpression(
            "an alarm's Metrics must have exactly one ReturnData true (the alarm's time series), "
            f"got {len(returned)}"
        )
    by_id = {query.id: query for query in queries}
    for query in queries:
        if query.expression is None:
            continue
        unknown = references(query.expression) - set(by_id)
        if unknown:
            raise UnsupportedExpression(
                f"Metrics {query.id}: {query.source!r} reads unknown ids {sorted(unknown)}"
            )
    _check_no_cycle(by_id)
    periods = {query.period for query in queries if query.metric_name is not None}
    if len(periods) != 1:
        raise UnsupportedExpression(
            f"the twin evaluates metric math alarms whose metrics share one Period, got {periods}"
        )
    return returned[0]


def _check_no_cycle(by_id: Mapping[str, MetricQuery]) -> None:
    def visit(query_id: str, path: tuple[str, ...]) -> None:
        if query_id in path:
            raise UnsupportedExpression(f"Metrics: circular reference {' -> '.join(path)}")
        expression = by_id[query_id].expression
        for child in sorted(references(expression) if expression is not None else set()):
            visit(child, (*path, query_id))

    for query_id in by_id:
        visit(query_id, ())


def series_value(
    query_id: str, by_id: Mapping[str, MetricQuery], metric_values: Mapping[str, float | None]
) -> float | None:
    """The value of a query at one timestamp, from its metrics' values at that timestamp."""
    query = by_id[query_id]
    if query.expression is None:
        return metric_values.get(query_id)
    needed = {
        child: series_value(child, by_id, metric_values) for child in references(query.expression)
    }
    return evaluate(query.expression, needed)


def query_of(raw: Any) -> MetricQuery:
    """A MetricQuery from moto's MetricDataQuery (parses the expression)."""
    stat = raw.metric_stat
    text = raw.expression
    return MetricQuery(
        id=str(raw.id),
        return_data=_true(raw.return_data),
        expression=parse(text) if text is not None else None,
        namespace=stat.metric.namespace if stat is not None else None,
        metric_name=stat.metric.metric_name if stat is not None else None,
        dimensions=tuple(sorted((d.name, d.value) for d in stat.metric.dimensions))
        if stat is not None
        else (),
        stat=stat.stat if stat is not None else None,
        period=int(stat.period) if stat is not None and stat.period else None,
        unit=stat.unit if stat is not None else None,
        label=raw.label,
        source=text,
    )


def _true(value: Any) -> bool:
    # PutMetricAlarm's ReturnData defaults to true; moto keeps what the query said (or None).
    if value is None:
        return True
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)
