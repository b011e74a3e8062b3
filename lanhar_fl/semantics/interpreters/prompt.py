"""The LanHAR-style prompt for generative interpreters (hf, openai_compatible), versioned.

Change ``PROMPT_VERSION`` whenever the wording changes: it is part of the interpretation cache
key, so old texts are not reused for a new prompt.
"""

from __future__ import annotations

from ..features import FEATURES, GROUPS, SECTION_TITLES, format_number

PROMPT_VERSION = "lanhar-7s-v2"

SYSTEM_PROMPT = (
    "You are an expert in wearable inertial-sensor signal analysis. You describe the motion "
    "pattern in one short IMU window strictly from the measured features you are given. You "
    "never name, guess or hint at the activity or posture of the person."
)

UNITS = {"m/s^2": "m/s²", "m/s^3": "m/s³", "1": ""}


def _sensor_line(context: dict) -> str:
    """Where the phone was and what the features were computed from (always after removing
    gravity: ``features.py`` works on the dynamic acceleration)."""
    placement = context.get("placement")
    device = context.get("device") or "a phone"
    where = (f"worn at the {placement}" if placement and placement != "unknown"
             else "at an unknown placement")
    vertical = ("the vertical axis is known (gravity-aligned)" if context.get("gravity_aligned")
                else "the vertical axis is estimated from gravity"
                if not context.get("gravity_removed") else "the vertical axis is unknown")
    gyro = "present" if context.get("has_gyro", True) else "absent (accelerometer only)"
    rate = format_number(float(context.get("sampling_rate_hz", 50.0)))
    seconds = format_number(float(context.get("window_seconds", 2.56)))
    return (f"Sensor: {device} {where}; a {seconds} s window sampled at {rate} Hz; "
            f"acceleration features are computed after removing gravity, and {vertical}; "
            f"gyroscope {gyro}.")


def feature_block(row: dict[str, float]) -> str:
    """The measured features by section: ``- name = value unit (meaning)``."""
    lines = []
    for group in GROUPS:
        lines.append(f"{SECTION_TITLES[group]}:")
        names = [n for n, spec in FEATURES.items() if spec.group == group and n in row]
        if not names:
            lines.append("- not measured")
        for name in names:
            spec = FEATURES[name]
            unit = UNITS.get(spec.unit, spec.unit)
            value = format_number(row[name]) + (f" {unit}" if unit else "")
            lines.append(f"- {name} = {value} ({spec.description})")
    return "\n".join(lines)


def instructions() -> str:
    headers = ", ".join(f"'{SECTION_TITLES[g]}:'" for g in GROUPS)
    return (
        "Write the interpretation in exactly seven sections, in this order, each on its own "
        f"line starting with its header: {headers}.\n"
        "Rules:\n"
        "- In every section cite the measured numbers you rely on, with their units, exactly as "
        "listed above (no new or recomputed numbers).\n"
        "- Describe the pattern qualitatively: weak or strong, vertical or horizontal, regular or "
        "irregular, smooth or impact-like, steady or turning, coupled or not.\n"
        "- Never name, guess or hint at the activity or posture.\n"
        "- If a section was not measured, say so briefly without numbers.\n"
        "- Keep it compact: 80 to 160 words in total, no preamble."
    )


def build_messages(row: dict[str, float], context: dict,
                   feedback: list[str] | None = None) -> list[dict[str, str]]:
    """Chat messages (system, user) asking for the seven-section interpretation."""
    user = (f"{_sensor_line(context)}\n\nMeasured features, by section:\n{feature_block(row)}"
            f"\n\n{instructions()}")
    if feedback:
        user += ("\n\nYour previous answer was rejected for these reasons:\n" +
                 "\n".join(f"- {reason}" for reason in feedback) +
                 "\nWrite a corrected interpretation.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def render_plain(messages: list[dict[str, str]]) -> str:
    """The messages as one plain prompt, for models without a chat template."""
    body = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)
    return f"{body}\n\nAssistant:"
