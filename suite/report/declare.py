"""A study file's ``[report]`` table -> the study's :class:`~suite.report.layout.TableLayout`.

Why in the study file: the table is part of the experiment's design (which arms are compared, against
what), so it sits where the arms are declared, and a study is defined once. Every key is optional; what a
study leaves out is derived from its axes (:mod:`suite.report.derive`), so a study without ``[report]`` is
reportable too. The paper's tables are declarations of the same keys (``studies/table2.toml`` ...)::

    [report]
    title = "..."                   # default: the study's title
    columns = "dataset"             # the setting whose values are the columns (default: derived)
    rows = ["neuron", "alpha"]      # axes whose combinations are the rows (default: the other varying axes)
    # or hand-written rows: [[report.rows]] label = "...", where = { ... }, paper = "<paper row>"
    row_header = "Neuron"           # default: the row axes' names
    where = { encoder = 3 }         # every cell's runs also match these
    reference = { neuron = "LIF" }  # each row is compared with the row equal to it but for these
    comparisons = [{ a = "KLIF", b = "LIF", label = "..." }]  # or hand-written pairs (not with reference)
    metrics = ["best", "final", "synops"]   # the blocks (suite/report/tables.toml), in this order
    paper = "table3"                # the paper's table printed beside (suite/report/paper.toml)
    cited = true                    # with the paper's cited rows of other methods
    [report.figures.<name>]         # a figure drawn with the table: kind, title, rows, options

Every problem is one line, ``<file>: report.<key>: <problem>; allowed: <values>`` (as for the rest of a
study file, :mod:`suite.study.spec`, which calls :func:`layout` when it loads a study, before any run).
"""

from __future__ import annotations

from typing import Any

from suite import settings
from suite.contract import PROFILE_NAME
from suite.report import derive, figures, paper
from suite.report.layout import Columns, Comparison, Figure, Row, TableLayout, blocks, pairing_ignore
from suite.report.runs import canonical
from suite.study.spec import NOT_HASHED, Check, Study

KEYS = (
    "title", "columns", "rows", "row_header", "where", "reference", "comparisons", "metrics", "paper",
    "cited", "figures",
)  # fmt: skip
ROW_KEYS = ("label", "where", "paper")
COMPARISON_KEYS = ("a", "b", "label")
FIGURE_KEYS = ("kind", "title", "rows")  # required; any other key is an option of the figure's kind
EXPLICIT_HEADER = "Arm"
MAX_ROWS = 100_000  # a derived table larger than this is a typo in the grid, or needs `rows`/`where`


def _text(check: Check, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        check.fail(where, f"expected non-empty text, got {value!r}")
    return value


def _single(check: Check, where: str, table: Any) -> dict[str, Any]:
    """A table of settings with one value each (``{ neuron = "KLIF" }``), type- and range-checked."""
    if not isinstance(table, dict):
        check.fail(where, f"expected a table of settings, got {table!r}", 'e.g. { neuron = "KLIF" }')
    for key, value in table.items():
        if isinstance(value, (list, dict)):
            check.fail(f"{where}.{key}", f"expected one value, got {value!r}", "text, a number or a boolean")
    check.settings(where, table, lists=False)
    return {k: canonical(v) for k, v in table.items()}


def _setting(check: Check, where: str, key: Any, allowed: list[str]) -> str:
    if key not in allowed:
        check.fail(where, f"{key!r} is not a setting a table can vary", ", ".join(allowed))
    return key


def _table_of(check: Check, where: str, value: Any, keys: tuple[str, ...], required: tuple[str, ...]):
    if not isinstance(value, dict):
        check.fail(where, f"expected a table, got {value!r}", ", ".join(keys))
    for key in value:
        if key not in keys:
            check.fail(f"{where}.{key}", "unknown key", ", ".join(keys))
    for key in required:
        if key not in value:
            check.fail(f"{where}.{key}", "missing", ", ".join(required))
    return value


def _axis_rows(check: Check, study: Study, keys: list, column: str, where: dict, axes: list[str]):
    allowed = [k for k in _settings() if k != column]
    for i, key in enumerate(keys):
        if key == column:
            check.fail(f"report.rows[{i}]", f"{key} is the table's column", ", ".join(allowed))
        _setting(check, f"report.rows[{i}]", key, allowed)
        if key in where:
            check.fail(f"report.rows[{i}]", f"{key} is fixed by `where`", ", ".join(allowed))
    if len(set(keys)) != len(keys):
        check.fail("report.rows", f"an axis is named twice in {keys}", "each axis once")
    for key in axes:
        if key not in keys and key != column and key not in where:
            check.fail(
                "report.rows",
                f"{key} varies but is neither a row axis, the column nor in `where` (its runs would pool)",
                ", ".join([*keys, key]),
            )
    if derive.cost(study, keys) > MAX_ROWS:
        check.fail("report.rows", f"more than {MAX_ROWS:,} rows", "fewer row axes, or fix some in `where`")
    return derive.axis_rows(study, keys)


def _explicit_rows(check: Check, specs: list) -> tuple[Row, ...]:
    rows = []
    for i, spec in enumerate(specs):
        at = f"report.rows[{i}]"
        spec = _table_of(check, at, spec, ROW_KEYS, ("label", "where"))
        label = _text(check, f"{at}.label", spec["label"])
        if label in {r.label for r in rows}:
            check.fail(f"{at}.label", f"{label!r} labels two rows", "a unique label per row")
        paper_row = _text(check, f"{at}.paper", spec["paper"]) if "paper" in spec else None
        rows.append(Row(label, _single(check, f"{at}.where", spec["where"]), paper_row))
    return tuple(rows)


def _settings() -> list[str]:
    return [k for k in settings.BY_NAME if k != "seed" and k not in NOT_HASHED]


def _comparisons(check: Check, raw: dict, rows: tuple[Row, ...], keys: list | None, study: Study):
    """Hand-written ``comparisons``, else each row against the ``reference`` (declared, else derived)."""
    labels = [r.label for r in rows]
    if "comparisons" in raw:
        if "reference" in raw:
            check.fail("report.reference", "give a reference or comparisons, not both", "one of them")
        specs = raw["comparisons"]
        if not isinstance(specs, list):
            check.fail("report.comparisons", f"expected an array of tables, got {specs!r}", "a, b, label")
        out = []
        for i, spec in enumerate(specs):
            at = f"report.comparisons[{i}]"
            spec = _table_of(check, at, spec, COMPARISON_KEYS, ("a", "b"))
            for arm in ("a", "b"):
                if spec[arm] not in labels:
                    check.fail(f"{at}.{arm}", f"{spec[arm]!r} is not a row", ", ".join(map(repr, labels)))
            name = _text(check, f"{at}.label", spec["label"]) if "label" in spec else None
            comp = Comparison(spec["a"], spec["b"], name)
            wa, wb = rows[labels.index(comp.a)].where, rows[labels.index(comp.b)].where
            if wa == wb:
                check.fail(f"{at}.b", "compares rows that select the same runs", "rows that differ")
            out.append(comp)
        return tuple(out)
    if "reference" in raw:
        reference = _single(check, "report.reference", raw["reference"])
        row_keys = keys if keys is not None else list(dict.fromkeys(k for r in rows for k in r.where))
        for key, value in reference.items():
            if key not in row_keys:
                check.fail(f"report.reference.{key}", "not a setting of the rows", ", ".join(row_keys))
            present = [canonical(r.where.get(key)) for r in rows]
            if value not in present:
                allowed = ", ".join(map(repr, dict.fromkeys(p for p in present if p is not None)))
                check.fail(f"report.reference.{key}", f"no row runs {key} = {value!r}", allowed)
    elif keys:
        reference = derive.default_reference(study, keys)
    else:
        return ()
    return derive.against(rows, reference, named=keys is not None)


def _metrics(check: Check, raw: dict) -> tuple[str, ...] | None:
    if "metrics" not in raw:
        return None
    known = [b.key for b in blocks()]
    value = raw["metrics"]
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value):
        check.fail("report.metrics", f"expected a list of distinct blocks, got {value!r}", ", ".join(known))
    for i, key in enumerate(value):
        if key not in known:
            check.fail(f"report.metrics[{i}]", f"unknown block {key!r}", ", ".join(known))
    return tuple(value)


def _paper(check: Check, raw: dict, columns: Columns, rows: tuple[Row, ...]) -> str | None:
    name = raw.get("paper")
    if name is None:
        if raw.get("cited") or any(r.paper for r in rows):
            check.fail(
                "report.paper", "paper rows or cited rows need the paper's table", ", ".join(paper.names())
            )
        return None
    if name not in paper.names():
        check.fail("report.paper", f"the paper has no table {name!r}", ", ".join(paper.names()))
    table = paper.table(name)
    missing = [v for v in columns.values if v not in table.columns]
    if missing:
        check.fail(
            "report.columns", f"{missing} are not columns of the paper's {name}", ", ".join(table.columns)
        )
    known = [r.label for r in table.rows]
    for i, row in enumerate(rows):
        if row.paper is not None and row.paper not in known:
            check.fail(f"report.rows[{i}].paper", f"{name} has no row {row.paper!r}", ", ".join(known))
    return name


def _figures(check: Check, raw: Any, study: Study, rows: tuple[Row, ...]) -> tuple[Figure, ...]:
    if not isinstance(raw, dict):
        check.fail("report.figures", f"expected a table of figures, got {raw!r}", "[report.figures.<name>]")
    labels = [r.label for r in rows]
    out = []
    for name, spec in raw.items():
        at = f"report.figures.{name}"
        if not PROFILE_NAME.fullmatch(name):
            check.fail(at, "a figure's name is a file name too", PROFILE_NAME.pattern)
        if not isinstance(spec, dict):
            check.fail(at, f"expected a table, got {spec!r}", ", ".join(FIGURE_KEYS))
        for key in FIGURE_KEYS:
            if key not in spec:
                check.fail(f"{at}.{key}", "missing", ", ".join(FIGURE_KEYS))
        if spec["kind"] not in figures.KINDS:
            check.fail(f"{at}.kind", f"unknown kind {spec['kind']!r}", ", ".join(figures.KINDS))
        if not isinstance(spec["rows"], list) or not spec["rows"]:
            check.fail(f"{at}.rows", f"expected a list of rows, got {spec['rows']!r}", ", ".join(labels))
        for i, row in enumerate(spec["rows"]):
            if row not in labels:
                check.fail(f"{at}.rows[{i}]", f"{row!r} is not a row", ", ".join(map(repr, labels)))
        options = {k: v for k, v in spec.items() if k not in FIGURE_KEYS}
        title = _text(check, f"{at}.title", spec["title"])
        out.append(Figure(name, study.name, spec["kind"], title, tuple(spec["rows"]), options))
    return tuple(out)


def layout(study: Study) -> TableLayout:
    """The study's table: its ``[report]`` declarations, and what they leave out derived from its axes."""
    raw = study.report
    check = Check(study.path)
    check.keys("report", raw, set(KEYS))
    title = _text(check, "report.title", raw.get("title", study.title))
    where = _single(check, "report.where", raw.get("where", {}))
    axes = [k for k in derive.varying(study) if k not in where]
    column = raw.get("columns", derive.default_columns(axes))
    _setting(check, "report.columns", column, _settings())
    if column in where:
        check.fail(f"report.where.{column}", f"{column} is the table's column", "a setting that is not")
    values = derive.values(study, column)
    columns = Columns(column, tuple(values), derive.column_labels(column, values))
    spec = raw.get("rows", derive.default_rows(axes, column))
    keys: list[str] | None
    if isinstance(spec, list) and all(isinstance(s, str) for s in spec):
        keys = spec
        rows = _axis_rows(check, study, keys, column, where, axes)
        header = derive.row_header(keys)
    elif isinstance(spec, list) and spec and all(isinstance(s, dict) for s in spec):
        keys, rows, header = None, _explicit_rows(check, spec), EXPLICIT_HEADER
    else:
        check.fail("report.rows", f"expected axis names or [[report.rows]] tables, got {spec!r}")
    header = _text(check, "report.row_header", raw.get("row_header", header))
    cited = raw.get("cited", False)
    if not isinstance(cited, bool):
        check.fail("report.cited", f"expected true or false, got {cited!r}")
    return TableLayout(
        name=study.name,
        title=title,
        columns=columns,
        row_header=header,
        rows=rows,
        where=where,
        paper=_paper(check, raw, columns, rows),
        cited=cited,
        comparisons=_comparisons(check, raw, rows, keys, study),
        figures=_figures(check, raw.get("figures", {}), study, rows),
        pairing_ignore=pairing_ignore(),
        metrics=_metrics(check, raw),
    )
