"""The grounded interpreter's default wording: seven sections of graded words, no numbers.

A mean-pooled sentence encoder reads words far better than decimals: on UCI HAPT (public users
1-10 -> test users 22-30, 4 classes) the same features written as these words give a
nearest-prototype ceiling of 0.94 after stage 1, where the cited-number wording
(``grounded.grounded_text``, ``interpreter.style=cited``) stays at 0.76 (README, *Text side
ceiling*). Each level word is followed by its feature's own noun (motion, jerks, sway, cadence,
beat, twisting, footfalls), so that pooled words still say which feature they grade.

Levels (a value below a limit takes that word; features as in ``semantics.features``):

==================  ================  ==========================================================
section             feature           words (upper limits)
==================  ================  ==========================================================
Strength            acc_mag_mean      motionless .15, faint .6, light 2, moderate 2.7,
                                      vigorous 3.4, forceful 4.2, violent 6, extreme (m/s²)
                    jerk_rms          no 5, gentle 30, jolting 45, pounding 60, hammering 150,
                                      explosive
Axis dominance      vert_horiz_ratio  mostly sideways .77, slightly sideways 1, even up-down and
                                      sideways 1.2, more up-down than sideways 1.45, strongly
                                      up-down 1.8, almost purely up-down
                    horiz_p2p         no sway 1, narrow 6, moderate 9, wide 12, very wide (m/s²)
Rhythm              step_freq         slow 1.2, leisurely 1.6, unhurried 1.74, brisk 1.9,
                                      quick 2.2, rapid (Hz) cadence; no steps below 1 m/s²
                    ibi_cv            metronomic .05, steady .1, uneven .25, erratic beat
                    periodicity       no repeating cycle .4, loosely repeating cycle .7,
                                      clearly repeating cycle
Shape               rise_fall_ratio   quick rise, slow fall .95; symmetric 1.05; slow rise,
                                      quick fall
Posture/drift       net_rotation      straight heading 10, gentle turn 30, sharp turn 90, U-turn
                                      (deg); a turn says its side from the sign of gyro_mean_z
                    gyro_mag_rms      no .1, slight .5, swaying .85, strong 1.1, rocking rotation
Gyro-acc sync       gyro_step_freq    slow 1.2, moderate 1.7, fast twisting (Hz)
                    sync_consistency  loosely linked .3, linked .45, tightly linked
Vertical impact     impact_p2v_median soft 3, light 7, moderate 8.5, firm 11, hard 14, heavy
                                      footfalls (m/s²); none below 1 m/s²
==================  ================  ==========================================================

The limits are round values between the per-class quartiles of UCI HAPT's public users 1-10
(``lanhar-fl bench bank``), never of a phone or test user. The two top strength levels
(``extreme`` above 6 m/s², ``explosive`` jerks above 150 m/s³) are the running priors of the
label descriptions, beyond anything a waist phone measures while walking. Cadence is the step
rate: on a limb (wrist, arm) one arm swing spans two steps, so the swing rates measured there are
doubled first, and its strength, footfalls, rotation and net rotation are divided by the
limb's own swing gain (``body_rates``, ``LIMB_SCALE``); the periodicity does not depend on the
placement. A known placement opens the Strength line as in the cited wording. Absent features
are never described as zero: a section without them says so (``no steps``, ``no gyroscope``).
"""

from __future__ import annotations

INF = float("inf")
Levels = tuple[tuple[float, str], ...]

INTENSITY: Levels = ((0.15, "motionless"), (0.6, "faint"), (2.0, "light"), (2.7, "moderate"),
                     (3.4, "vigorous"), (4.2, "forceful"), (6.0, "violent"), (INF, "extreme"))
JERK: Levels = ((5.0, "no"), (30.0, "gentle"), (45.0, "jolting"), (60.0, "pounding"),
                (150.0, "hammering"), (INF, "explosive"))
VERTICAL: Levels = ((0.77, "mostly sideways"), (1.0, "slightly sideways"),
                    (1.2, "even up-down and sideways"), (1.45, "more up-down than sideways"),
                    (1.8, "strongly up-down"), (INF, "almost purely up-down"))
SWAY: Levels = ((1.0, "no sway"), (6.0, "narrow sway"), (9.0, "moderate sway"),
                (12.0, "wide sway"), (INF, "very wide sway"))
CADENCE: Levels = ((1.2, "slow"), (1.6, "leisurely"), (1.74, "unhurried"), (1.9, "brisk"),
                   (2.2, "quick"), (INF, "rapid"))
CYCLE: Levels = ((0.4, "no repeating cycle"), (0.7, "loosely repeating cycle"),
                 (INF, "clearly repeating cycle"))
STEP_MIN_MOTION = 1.0  # m/s²: below this (HAPT public still p99 0.8, walk p1 2.1) no gait
# A limb adds its own swing to the body's motion. Graded on the waist's scale a wrist walk reads
# as violent motion with heavy footfalls and a sharp turn, so a limb's strength is divided by
# these gains first: the medians of the synthetic generator's wrist (arm) walk over its waist
# walk (its physics, a 0.45 m forearm lever swinging 0.32 rad a stride; no real wrist data):
# acc 1.5, footfall 1.9, rotation 2.3, net rotation 3.5 (arm: 0.9, 1.1, 2.0, 2.5; within 10%
# taken as 1).
_ARM_SCALE = {"gyro_mag_rms": 2.0, "net_rotation": 2.5}
LIMB_SCALE = {"wrist": {"acc_mag_mean": 1.5, "impact_p2v_median": 1.9, "gyro_mag_rms": 2.3,
                        "net_rotation": 3.5},
              "arm": _ARM_SCALE, "upper_arm": _ARM_SCALE}
LIMB_PLACEMENTS = frozenset(LIMB_SCALE)
BEAT: Levels = ((0.05, "metronomic"), (0.1, "steady"), (0.25, "uneven"), (INF, "erratic"))
RISE_FALL: Levels = ((0.95, "quick rise, slow fall"), (1.05, "symmetric rise and fall"),
                     (INF, "slow rise, quick fall"))
TURN: Levels = ((10.0, "straight heading"), (30.0, "gentle turn"), (90.0, "sharp turn"),
                (INF, "U-turn"))
ROTATION: Levels = ((0.1, "no rotation"), (0.5, "slight rotation"), (0.85, "swaying rotation"),
                    (1.1, "strong rotation"), (INF, "rocking rotation"))
TWIST: Levels = ((1.2, "slow twisting"), (1.7, "moderate twisting"), (INF, "fast twisting"))
LINK: Levels = ((0.3, "loosely linked"), (0.45, "linked"), (INF, "tightly linked"))
FOOTFALL: Levels = ((3.0, "soft"), (7.0, "light"), (8.5, "moderate"), (11.0, "firm"),
                    (14.0, "hard"), (INF, "heavy"))
TURN_SIDE_FROM = 10.0  # degrees: smaller heading changes get no side


def level(value: float, levels: Levels) -> str:
    """The word of the first level whose upper limit exceeds ``value``."""
    return next(word for limit, word in levels if value < limit)


def _strength(r: dict[str, float]) -> str:
    return f"{level(r['acc_mag_mean'], INTENSITY)} motion, {level(r['jerk_rms'], JERK)} jerks"


def _axis(r: dict[str, float]) -> str:
    if "vert_horiz_ratio" not in r:
        return "vertical unknown"
    return f"{level(r['vert_horiz_ratio'], VERTICAL)}, {level(r['horiz_p2p'], SWAY)}"


def body_rates(row: dict[str, float], context: dict | None) -> dict[str, float]:
    """``row`` as the body moves: a limb's swing rates turned into step rates and its
    swing's strength taken out (``LIMB_SCALE``).

    On a wrist or arm the gyroscope's rhythm is the swing (one per stride, two steps), and so
    is the accelerometer's when its vertical is unknown (its peaks are then those of the
    principal axis, the swing); with the vertical known the peaks are the body's steps."""
    placement = str((context or {}).get("placement", "")).casefold()
    if placement not in LIMB_PLACEMENTS:
        return row
    doubled = {"gyro_step_freq"} | ({"step_freq"} if "vert_rms" not in row else set())
    scale = LIMB_SCALE[placement]
    return {k: 2.0 * v if k in doubled else v / scale.get(k, 1.0) for k, v in row.items()}


def _rhythm(r: dict[str, float]) -> str:
    cycle = f", {level(r['periodicity'], CYCLE)}" if "periodicity" in r else ""
    if "step_freq" not in r or r["acc_mag_mean"] < STEP_MIN_MOTION:
        return f"no steps{cycle}"
    text = f"{level(r['step_freq'], CADENCE)} cadence"
    if "ibi_cv" in r:
        text += f", {level(r['ibi_cv'], BEAT)} beat"
    return text + cycle


def _shape(r: dict[str, float]) -> str:
    return level(r["rise_fall_ratio"], RISE_FALL) if "rise_fall_ratio" in r else "flat signal"


def _posture(r: dict[str, float]) -> str:
    if "net_rotation" not in r or "gyro_mag_rms" not in r:
        return "no gyroscope"
    text = level(r["net_rotation"], TURN)
    if r["net_rotation"] >= TURN_SIDE_FROM and "gyro_mean_z" in r:
        text += " to the left" if r["gyro_mean_z"] > 0 else " to the right"
    return f"{text}, {level(r['gyro_mag_rms'], ROTATION)}"


def _sync(r: dict[str, float]) -> str:
    parts = []
    if "gyro_step_freq" in r:
        parts.append(level(r["gyro_step_freq"], TWIST))
    if "sync_consistency" in r:
        parts.append(level(r["sync_consistency"], LINK))
    return ", ".join(parts) or "no joint rhythm"


def _impact(r: dict[str, float]) -> str:
    if "impact_p2v_median" not in r or r["acc_mag_mean"] < STEP_MIN_MOTION:
        return "no footfalls"
    return f"{level(r['impact_p2v_median'], FOOTFALL)} footfalls"


SECTION_WRITERS = {"strength": _strength, "axis": _axis, "rhythm": _rhythm, "shape": _shape,
                   "posture": _posture, "sync": _sync, "impact": _impact}
