"""A phone's Opacus accountant history, kept in Flower's ``context.state`` between rounds.

Opacus builds a fresh ``PrivacyEngine`` (and accountant) for every ``make_private``; restoring the
history before training and saving it afterwards makes the reported epsilon cumulative over all
rounds the phone took part in. The history is a list of ``(noise_multiplier, sample_rate,
steps)`` and is stored as one ``ConfigRecord`` of three parallel lists (no pickles, no JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flwr.app import RecordDict

STATE_KEY = "dp-accountant"

History = list[tuple[float, float, int]]


def load_history(state: RecordDict | None, mechanism: str) -> History:
    """The saved history (empty when there is none); refuses one kept by another mechanism."""
    if state is None or STATE_KEY not in state:
        return []
    record = state[STATE_KEY]
    saved = str(record["mechanism"])
    if saved != mechanism:
        raise ValueError(f"this phone's accountant history was kept by {saved!r}, not "
                         f"{mechanism!r}: a run may not switch accountants")
    return [(float(n), float(q), int(s)) for n, q, s in
            zip(record["noise"], record["sample-rate"], record["steps"], strict=True)]


def save_history(state: RecordDict | None, mechanism: str, history: History) -> None:
    """Replace the saved history by ``history`` (no-op without a state or history)."""
    if state is None or not history:
        return
    from flwr.app import ConfigRecord

    state[STATE_KEY] = ConfigRecord({
        "mechanism": mechanism,
        "noise": [float(n) for n, _, _ in history],
        "sample-rate": [float(q) for _, q, _ in history],
        "steps": [int(s) for _, _, s in history],
    })
