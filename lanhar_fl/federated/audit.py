"""The privacy boundary, checked: what a phone's reply may contain.

A reply may hold the sensor-model arrays (exactly the keys and shapes of the global model) and
scalar metrics with known names. Any other record (text, windows, features, per-window
embeddings, config strings) is a violation.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from flwr.app import ArrayRecord, MetricRecord, RecordDict

from . import schema


def reply_violations(
    content: RecordDict, expected_shapes: Mapping[str, tuple[int, ...]], is_train: bool
) -> list[str]:
    """Every way a phone's reply breaks the privacy boundary (empty list when it holds)."""
    problems: list[str] = []
    allowed = {schema.METRICS} | ({schema.ARRAYS} if is_train else set())
    for key, record in content.items():
        if key not in allowed:
            problems.append(f"unexpected record {key!r} ({type(record).__name__})")
    if is_train:
        arrays = content.get(schema.ARRAYS)
        if not isinstance(arrays, ArrayRecord):
            problems.append("train reply has no ArrayRecord 'arrays'")
        else:
            got = {k: tuple(v.shape) for k, v in arrays.items()}
            if set(got) != set(expected_shapes):
                extra = sorted(set(got) - set(expected_shapes))
                missing = sorted(set(expected_shapes) - set(got))
                problems.append(f"array keys differ from the model: extra {extra}, "
                                f"missing {missing}")
            for k, shape in got.items():
                if k in expected_shapes and shape != tuple(expected_shapes[k]):
                    problems.append(f"array {k!r} has shape {shape}, model has "
                                    f"{tuple(expected_shapes[k])}")
    metrics = content.get(schema.METRICS)
    if not isinstance(metrics, MetricRecord):
        problems.append("reply has no MetricRecord 'metrics'")
    else:
        for k, v in metrics.items():
            if k not in schema.REPLY_METRICS:
                problems.append(f"unknown metric {k!r}")
            if not isinstance(v, int | float) or isinstance(v, bool) or not np.isfinite(v):
                problems.append(f"metric {k!r} is not a finite scalar: {type(v).__name__}")
    return problems
