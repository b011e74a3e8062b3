"""Evaluation: protocols (leakage-free splits), metrics, metrics.json, reports and plots."""

from .metrics import (
    MetricsValidationError,
    build_metrics_json,
    classification_metrics,
    new_activity_metrics,
    validate_metrics_json,
)
from .protocols import (
    Split,
    TargetWindows,
    check_split,
    cross_dataset,
    cross_user,
    hold_out,
    make_split,
    new_activity,
    split_metrics,
    unlabelled,
)
from .report import format_results_table, per_class_table, write_metrics_json, write_report

__all__ = [
    "MetricsValidationError", "Split", "TargetWindows", "build_metrics_json", "check_split",
    "classification_metrics", "cross_dataset", "cross_user", "format_results_table", "hold_out",
    "make_split", "new_activity", "new_activity_metrics", "per_class_table", "split_metrics",
    "unlabelled", "validate_metrics_json", "write_metrics_json", "write_report",
]
