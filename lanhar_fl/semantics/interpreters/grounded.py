"""Deterministic interpretation written straight from the features: the default and the fallback.

Seven lines, one per section, each opening with its fixed header (``Strength:`` ...); a known
placement opens the Strength line (``device at the wrist``). Two wordings
(``interpreter.style``): ``words`` (the default; graded words per feature, no numbers,
``descriptive.py``) and ``cited`` (below: a word or two, then the numbers, the way LanHAR's LLM
writes; the generative backends' fallback and worked examples). In the cited wording every
number is a feature value (two significant digits) followed by its unit; absent features are not
mentioned (an accelerometer-only window gets no gyroscope numbers). No activity is ever named.

Qualitative words and their thresholds (features as defined in ``semantics.features``):

=================  =====================  ================================================
section            feature                words
=================  =====================  ================================================
Strength           acc_mag_mean (m/s^2)   < 0.15 very weak, < 0.6 weak, < 2 moderate,
                                          < 5 strong, else very strong
Axis dominance     vert_horiz_ratio       > 1.3 vertical-dominant, < 0.77
                                          horizontal-dominant, else balanced
                   gyro_frac_*            max >= 0.5: rotation mostly about that axis,
                                          else spread across axes
Rhythm             ibi_cv                 < 0.1 very regular, < 0.25 regular, else
                                          irregular; no CV: periodic; no peaks: no clear steps
Shape              crest_factor, kurtosis crest >= 4 or kurtosis >= 3 impact-like; crest
                                          <= 2 and kurtosis <= 0 smooth; else mixed
                   rise_fall_ratio        time rising / time falling: < 0.8 fast rise,
                                          slow fall; > 1.25 slow rise, fast fall; else symmetric
Posture/drift      net_rotation (deg)     < 10 steady orientation, < 45 gradual turning,
                                          else large turn
Gyro-acc sync      sync_consistency       >= 0.6 tightly coupled, >= 0.3 loosely coupled,
                                          else uncoupled
Vertical impact    impact_p2v_median      < 3 soft, < 8 moderate, < 14 hard, else very hard
=================  =====================  ================================================
"""

from __future__ import annotations

from ...config import ConfigError
from ..features import FEATURES, GROUPS, SECTION_TITLES, format_number
from . import descriptive
from .base import Interpreter

SIGNIFICANT = 2
UNIT_TEXT = {"m/s^2": " m/s²", "m/s^3": " m/s³", "rad/s": " rad/s", "Hz": " Hz", "s": " s",
             "deg": "°", "1": ""}

STRENGTH_LEVELS = ((0.15, "very weak"), (0.6, "weak"), (2.0, "moderate"), (5.0, "strong"),
                   (float("inf"), "very strong"))
REGULARITY_LEVELS = ((0.1, "very regular"), (0.25, "regular"), (float("inf"), "irregular"))
TURN_LEVELS = ((10.0, "steady orientation"), (45.0, "gradual turning"),
               (float("inf"), "large turn"))
IMPACT_LEVELS = ((3.0, "soft"), (8.0, "moderate"), (14.0, "hard"), (float("inf"), "very hard"))
VERTICAL_RATIO = (0.77, 1.3)
GYRO_AXIS_MAJORITY = 0.5
IMPACT_CREST, IMPACT_KURTOSIS, SMOOTH_CREST, SMOOTH_KURTOSIS = 4.0, 3.0, 2.0, 0.0
RISE_FALL_SYMMETRIC = (0.8, 1.25)
SYNC_LEVELS = ((0.3, "uncoupled"), (0.6, "loosely coupled"), (float("inf"), "tightly coupled"))


def _level(value: float, levels: tuple[tuple[float, str], ...]) -> str:
    return next(word for limit, word in levels if value < limit)


def cite(row: dict[str, float], name: str, unit: bool = True) -> str:
    """Feature ``name`` as text: its value (2 significant digits) and, if asked, its unit."""
    number = format_number(row[name], SIGNIFICANT)
    return number + (UNIT_TEXT[FEATURES[name].unit] if unit else "")


def _has(row: dict[str, float], *names: str) -> bool:
    return all(n in row for n in names)


def _strength(r: dict[str, float]) -> str:
    text = (f"{_level(r['acc_mag_mean'], STRENGTH_LEVELS)}; acc mean {cite(r, 'acc_mag_mean')}, "
            f"jerk rms {cite(r, 'jerk_rms')}")
    if "gyro_mag_rms" in r:
        text += f"; rotation rms {cite(r, 'gyro_mag_rms')}"
    return text


def _axis(r: dict[str, float]) -> str:
    parts = []
    if _has(r, "vert_rms", "horiz_rms"):
        word = "balanced"
        if "vert_horiz_ratio" in r:
            lo, hi = VERTICAL_RATIO
            ratio = r["vert_horiz_ratio"]
            word = "vertical-dominant" if ratio > hi else "horizontal-dominant" if ratio < lo \
                else "balanced"
        parts.append(f"{word}; vertical rms {cite(r, 'vert_rms', False)} vs horizontal "
                     f"{cite(r, 'horiz_rms')}")
    else:
        parts.append("vertical unknown")
    fracs = {a: r[f"gyro_frac_{a}"] for a in "xyz" if f"gyro_frac_{a}" in r}
    if len(fracs) == 3:
        top = max(fracs, key=fracs.__getitem__)
        if fracs[top] >= GYRO_AXIS_MAJORITY:
            parts.append(f"rotation mostly about {top} ({cite(r, f'gyro_frac_{top}')})")
        else:
            parts.append("rotation spread over axes")
    return "; ".join(parts)


def _rhythm(r: dict[str, float]) -> str:
    if "dominant_freq" not in r:
        return "none, too little motion"
    if "step_freq" not in r:
        word = "no clear steps"
    elif "ibi_cv" in r:
        word = _level(r["ibi_cv"], REGULARITY_LEVELS)
    else:
        word = "periodic"
    parts = [f"{word}; dominant {cite(r, 'dominant_freq')}"]
    if "step_freq" in r:
        parts.append(f"step rate {cite(r, 'step_freq')}")
    if "ibi_cv" in r:
        parts.append(f"interval CV {cite(r, 'ibi_cv')}")
    return ", ".join(parts)


def _shape(r: dict[str, float]) -> str:
    if not _has(r, "crest_factor", "kurtosis", "rise_fall_ratio"):
        return "none, too little motion"
    crest, kurt = r["crest_factor"], r["kurtosis"]
    if crest >= IMPACT_CREST or kurt >= IMPACT_KURTOSIS:
        word = "impact-like"
    elif crest <= SMOOTH_CREST and kurt <= SMOOTH_KURTOSIS:
        word = "smooth"
    else:
        word = "mixed"
    lo, hi = RISE_FALL_SYMMETRIC
    ratio = r["rise_fall_ratio"]
    sym = "slow rise, fast fall" if ratio > hi else "fast rise, slow fall" if ratio < lo \
        else "symmetric rise/fall"
    return f"{word}, {sym}; crest factor {cite(r, 'crest_factor')}, kurtosis {cite(r, 'kurtosis')}"


def _posture(r: dict[str, float]) -> str:
    if not _has(r, "gyro_mean_x", "gyro_mean_y", "gyro_mean_z", "net_rotation"):
        return "not measured (no gyroscope)"
    return f"{_level(r['net_rotation'], TURN_LEVELS)}; net rotation {cite(r, 'net_rotation')}"


def _sync(r: dict[str, float]) -> str:
    if "gyro_mag_rms" not in r:
        return "not measured (no gyroscope)"
    if not _has(r, "sync_lag", "sync_consistency"):
        return "no joint rhythm, too little motion"
    parts = [_level(r["sync_consistency"], SYNC_LEVELS)]
    if "gyro_step_freq" in r:
        parts.append(f"rotation rhythm {cite(r, 'gyro_step_freq')}")
    parts.append(f"delay {cite(r, 'sync_lag')}, consistency {cite(r, 'sync_consistency')}")
    return "; ".join(parts)


def _impact(r: dict[str, float]) -> str:
    if not _has(r, "impact_p2v_median", "impact_p2v_p95"):
        return "no distinct impacts"
    axis = "" if "vert_rms" in r else " (main axis)"
    return (f"{_level(r['impact_p2v_median'], IMPACT_LEVELS)}{axis}; peak to valley median "
            f"{cite(r, 'impact_p2v_median', False)}, p95 {cite(r, 'impact_p2v_p95')}")


SECTION_WRITERS = {"strength": _strength, "axis": _axis, "rhythm": _rhythm, "shape": _shape,
                   "posture": _posture, "sync": _sync, "impact": _impact}


# Where the device is worn, as the interpretation states it (loaders' placement names).
_WAIST, _POCKET, _ARM = "at the waist", "in a trouser pocket", "on the upper arm"
PLACEMENT_TEXT = {"waist": _WAIST, "belt": _WAIST, "hip": _WAIST, "pocket": _POCKET,
                  "front_pocket": _POCKET, "left_pocket": _POCKET, "right_pocket": _POCKET,
                  "wrist": "on the wrist", "arm": _ARM, "upper_arm": _ARM}


def placement_phrase(context: dict | None) -> str | None:
    """``device at the waist`` etc. when the context names a known placement, else None."""
    where = PLACEMENT_TEXT.get(str((context or {}).get("placement", "")).casefold())
    return None if where is None else f"device {where}"


STYLES = {"cited": SECTION_WRITERS, "words": descriptive.SECTION_WRITERS}


def grounded_text(row: dict[str, float], context: dict | None = None,
                  style: str = "cited") -> str:
    """The seven-section interpretation of one feature row in ``style`` (``cited`` or
    ``words``); a known placement (``context``) opens the Strength line, since the same motion
    reads differently at the wrist and waist."""
    writers = STYLES[style]
    if style == "words":
        row = descriptive.body_rates(row, context)
    lines = {g: writers[g](row) for g in GROUPS}
    where = placement_phrase(context)
    if where:
        lines["strength"] = f"{where}; {lines['strength']}"
    return "\n".join(f"{SECTION_TITLES[g]}: {lines[g]}." for g in GROUPS)


MODEL_IDS = {"cited": "grounded-v2", "words": "grounded-words-v3"}


class GroundedInterpreter(Interpreter):
    """Template text from the features: deterministic, instant, never names an activity."""

    name = "grounded"
    deterministic = True

    def __init__(self, style: str = "words") -> None:
        if style not in STYLES:
            raise ConfigError(f"interpreter.style must be one of {', '.join(STYLES)}, "
                              f"got {style!r}")
        self.style = style
        self.model_id = MODEL_IDS[style]

    def generate(self, features_row: dict[str, float], context: dict,
                 feedback: list[str] | None = None) -> str:
        return grounded_text(features_row, context, self.style)
