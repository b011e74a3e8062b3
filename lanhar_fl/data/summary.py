"""The JSON summary printed by ``lanhar-fl data summary``."""

from __future__ import annotations

from .windows import Windows


def summarize(windows: Windows) -> dict:
    """Counts and facts about a windowed dataset (CONTRACT.md: data summary)."""
    summary = {
        "dataset": windows.dataset,
        "windows": len(windows),
        "subjects": int(len(set(windows.subjects.tolist()))),
        "classes": windows.class_counts(),
        "sampling_rate_hz": windows.sampling_rate_hz,
        "channels": list(windows.channels),
        "source_sampling_rates_hz": list(windows.source_rates_hz),
        "recordings": windows.recordings,
        "window_samples": windows.window_length,
        "acc_only_windows": int((~windows.has_gyro).sum()),
        "gravity_removed_windows": int(windows.gravity_removed.sum()),
        "placements": sorted(set(windows.placements.tolist())),
        "dropped_windows": dict(windows.dropped),
        "masked_samples": dict(windows.masked),
        "synthetic": windows.synthetic,
    }
    return summary
