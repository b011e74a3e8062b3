"""Run outputs: validated metrics.json, confusion/history PNGs, report.md, stdout tables."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .metrics import validate_metrics_json
from .plots import confusion_matrix_plot, history_plot

_HEADLINE = (("accuracy", "accuracy"), ("macro_f1", "macro F1"), ("weighted_f1", "weighted F1"),
             ("new_activity_accuracy", "new-activity acc"),
             ("seen_activity_weighted_f1", "seen-class weighted F1"),
             ("n_test_windows", "test windows"))


def write_metrics_json(run_dir: str | Path, metrics: dict[str, Any], *,
                       filename: str = "metrics.json", simulate: bool = False,
                       privacy: bool = False) -> Path:
    """Validate ``metrics`` against the contract, then write ``run_dir/filename`` atomically."""
    validate_metrics_json(metrics, simulate=simulate, privacy=privacy)
    path = Path(run_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _result_rows(results: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns = [(k, label) for k, label in _HEADLINE if any(k in m for m in results.values())]
    headers = ["model", *(label for _, label in columns)]
    rows = [[name, *(_fmt(m.get(k)) for k, _ in columns)] for name, m in results.items()]
    return headers, rows


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_results_table(results: dict[str, dict[str, Any]]) -> str:
    """A compact aligned text table (one row per model) for stdout."""
    headers, rows = _result_rows(results)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    first = next(iter(results.values()), {})
    if "chance_accuracy" in first and "majority_accuracy" in first:
        lines.append(f"(reference accuracy: uniform guess {first['chance_accuracy']:.3f}, "
                     f"always the largest class {first['majority_accuracy']:.3f})")
    return "\n".join(lines)


def per_class_table(metrics: dict[str, Any]) -> str:
    """Markdown table: class, precision, recall, F1, support."""
    rows = [[name, *(_fmt(row[k]) for k in ("precision", "recall", "f1", "support"))]
            for name, row in ((c, metrics["per_class"][c]) for c in metrics["classes"])]
    return _markdown_table(["class", "precision", "recall", "F1", "support"], rows)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "model"


def _facts(m: dict[str, Any]) -> list[str]:
    """Optional sections (new activities, federation, privacy) as markdown lines."""
    lines: list[str] = []
    if "new_classes" in m:
        lines += ["## New activities", "",
                  f"- new classes: {', '.join(m['new_classes'])}",
                  f"- accuracy on new-class windows, among all bank classes: "
                  f"{_fmt(m.get('new_activity_accuracy'))}",
                  f"- among the new classes only: {_fmt(m.get('new_activity_accuracy_among_new'))}"]
        if m.get("seen_activity_accuracy") is not None:
            lines.append(f"- accuracy on seen-class windows: {_fmt(m['seen_activity_accuracy'])}")
        lines.append("")
    if "num_phones" in m:
        lines += ["## Federation", "",
                  f"- phones: {m['num_phones']}, per round: {m['phones_per_round']}, "
                  f"rounds: {m['rounds']}",
                  f"- bytes uploaded per phone per round: "
                  f"{m['bytes_uploaded_per_phone_per_round']}", ""]
    if "epsilon" in m:
        lines += ["## Privacy", "",
                  f"- epsilon {_fmt(m['epsilon'])}, delta {m['delta']:g}, mode {m['dp_mode']}",
                  ""]
    return lines


def write_report(run_dir: str | Path, results: dict[str, dict[str, Any]], *,
                 primary: str | None = None, title: str = "lanhar-fl results",
                 simulate: bool = False, privacy: bool = False) -> dict[str, Path]:
    """Write metrics.json (the ``primary`` model, default the first), ``metrics_<model>.json``
    for the others, ``confusion*.png``, ``history.png`` (if the primary has a history) and
    report.md with a comparison table. Returns the written paths by role."""
    if not results:
        raise ValueError("no results to report")
    primary = primary or next(iter(results))
    if primary not in results:
        raise ValueError(f"primary model {primary!r} is not among {list(results)}")
    run_dir = Path(run_dir)
    order = [primary, *(n for n in results if n != primary)]
    main = dict(results[primary])
    if len(results) > 1:
        main.setdefault("comparison", {
            n: {k: results[n].get(k) for k, _ in _HEADLINE if k in results[n]} for n in order})
    paths = {"metrics": write_metrics_json(run_dir, main, simulate=simulate, privacy=privacy)}
    md = [f"# {title}", "",
          f"Setting **{main['setting']}**: train `{main['train_dataset']}`, test "
          f"`{main['test_dataset']}`, seed {main['seed']}, {main['n_test_windows']} test "
          f"windows, {main['wall_seconds']:.1f} s.", "",
          "## Results", "", _markdown_table(*_result_rows({n: results[n] for n in order})), "",
          *_facts(main)]
    history = main.get("history")
    if history and any("accuracy" in h for h in history):
        paths["history"] = history_plot(history, run_dir / "history.png", title=primary)
        md += ["## History", "", "![history](history.png)", ""]
    for name in order:
        m = results[name]
        suffix = "" if name == primary else f"_{_slug(name)}"
        if name != primary:
            paths[f"metrics:{name}"] = write_metrics_json(run_dir, m,
                                                          filename=f"metrics{suffix}.json")
        image = confusion_matrix_plot(m["confusion_matrix"], m["classes"],
                                      run_dir / f"confusion{suffix}.png", title=name)
        paths[f"confusion:{name}"] = image
        md += [f"## Per class: {name}", "", per_class_table(m), "",
               f"![confusion matrix, {name}]({image.name})", ""]
    paths["report"] = run_dir / "report.md"
    paths["report"].write_text("\n".join(md))
    return paths
