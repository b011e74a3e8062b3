"""Report files: validated metrics.json, readable PNGs, report.md, stdout table."""

from __future__ import annotations

import json

import matplotlib.image
import pytest

from lanhar_fl.eval.metrics import (
    MetricsValidationError,
    build_metrics_json,
    classification_metrics,
    validate_metrics_json,
)
from lanhar_fl.eval.plots import history_plot
from lanhar_fl.eval.report import format_results_table, write_metrics_json, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ["walk", "still", "upstairs"]


def _metrics(y_pred, **extra) -> dict:
    m = classification_metrics([0, 0, 1, 1, 2, 2], y_pred, NAMES)
    return build_metrics_json(m, setting="cross_user", train_dataset="uci_hapt",
                              test_dataset="uci_hapt", seed=0, wall_seconds=2.0, extra=extra)


def _assert_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert matplotlib.image.imread(path).ndim == 3


def test_write_report_two_models(tmp_path):
    history = [{"round": r, "accuracy": 0.3 + 0.1 * r, "loss": 1.0 / r} for r in (1, 2, 3)]
    lanhar = _metrics([0, 0, 1, 1, 2, 0], num_phones=8, phones_per_round=4, rounds=3,
                      history=history, bytes_uploaded_per_phone_per_round=123456)
    baseline = _metrics([0, 1, 1, 1, 0, 0])
    paths = write_report(tmp_path / "run", {"LanHAR": lanhar, "supervised CNN": baseline},
                         simulate=True)
    run = tmp_path / "run"
    saved = json.loads((run / "metrics.json").read_text())
    validate_metrics_json(saved, setting="cross_user", simulate=True)
    assert saved["accuracy"] == lanhar["accuracy"]
    assert set(saved["comparison"]) == {"LanHAR", "supervised CNN"}
    validate_metrics_json(json.loads((run / "metrics_supervised_cnn.json").read_text()))
    for name in ("confusion.png", "confusion_supervised_cnn.png", "history.png"):
        _assert_png(run / name)
    report = (run / "report.md").read_text()
    assert "| LanHAR | 0.833 |" in report and "| supervised CNN | 0.500 |" in report
    assert "![confusion matrix, LanHAR](confusion.png)" in report
    assert "| upstairs | 1.000 | 0.500 | 0.667 | 2 |" in report
    assert "history.png" in report and "phones: 8" in report
    assert paths["report"] == run / "report.md"


def test_invalid_metrics_are_not_written(tmp_path):
    bad = _metrics([0, 0, 1, 1, 2, 2])
    bad["accuracy"] = 2.0
    with pytest.raises(MetricsValidationError):
        write_metrics_json(tmp_path, bad)
    assert not (tmp_path / "metrics.json").exists()


def test_results_table_and_history_plot(tmp_path):
    table = format_results_table({"LanHAR": _metrics([0, 0, 1, 1, 2, 2]),
                                  "baseline": _metrics([1, 1, 0, 0, 2, 2])})
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["model", "accuracy", "macro", "F1"]
    assert lines[2].startswith("LanHAR") and "1.000" in lines[2] and "0.333" in lines[3]
    _assert_png(history_plot([{"epoch": 1, "accuracy": 0.5}, {"epoch": 2, "accuracy": 0.7}],
                             tmp_path / "h.png"))
    with pytest.raises(ValueError):
        history_plot([{"epoch": 1, "loss": 0.5}], tmp_path / "x.png")
