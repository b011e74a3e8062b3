"""The words wording: limb swing rates read as step rates, gait words need motion."""

from __future__ import annotations

import pytest

from lanhar_fl.semantics.interpreters import descriptive
from lanhar_fl.semantics.interpreters.grounded import grounded_text

WALK = {"acc_mag_mean": 3.0, "jerk_rms": 35.0, "step_freq": 0.85, "ibi_cv": 0.08,
        "gyro_step_freq": 0.85, "periodicity": 0.85}


@pytest.mark.parametrize("placement", ["wrist", "arm", "upper_arm"])
def test_a_limb_swing_with_the_vertical_unknown_counts_two_steps(placement):
    row = descriptive.body_rates(WALK, {"placement": placement})
    assert row["step_freq"] == pytest.approx(1.7)
    assert row["gyro_step_freq"] == pytest.approx(1.7)
    gain = descriptive.LIMB_SCALE[placement].get("acc_mag_mean", 1.0)
    assert row["acc_mag_mean"] == pytest.approx(WALK["acc_mag_mean"] / gain)


def test_a_wrist_walk_reads_as_strong_as_a_waist_walk():
    """The synthetic generator's median wrist and waist walks (``LIMB_SCALE``'s source)."""
    wrist = {**WALK, "acc_mag_mean": 4.9, "jerk_rms": 42.7, "impact_p2v_median": 13.7,
             "gyro_mag_rms": 1.72, "net_rotation": 36.0}
    waist = {**WALK, "acc_mag_mean": 3.35, "jerk_rms": 42.4, "impact_p2v_median": 7.3,
             "gyro_mag_rms": 0.75, "net_rotation": 10.0}
    lines = {where: grounded_text(row, {"placement": where}, style="words").split("\n")
             for where, row in (("wrist", wrist), ("waist", waist))}
    for i in (4, 6):  # posture (rotation), footfalls
        assert lines["wrist"][i] == lines["waist"][i]
    assert lines["wrist"][0].endswith(lines["waist"][0].split("; ", 1)[1])
    assert "violent" in grounded_text(wrist, {"placement": "waist"}, style="words")


def test_with_the_vertical_known_a_limb_device_counts_the_body_steps():
    known = {**WALK, "step_freq": 1.8, "vert_rms": 2.0}
    row = descriptive.body_rates(known, {"placement": "wrist"})
    assert row["step_freq"] == pytest.approx(1.8)  # vertical peaks are steps
    assert row["gyro_step_freq"] == pytest.approx(1.7)  # the arm still swings once a stride


@pytest.mark.parametrize("context", [None, {}, {"placement": "waist"}, {"placement": "pocket"}])
def test_a_trunk_or_unknown_placement_keeps_the_measured_rates(context):
    assert descriptive.body_rates(WALK, context) == WALK


def test_the_wrist_walk_reads_like_a_waist_walk_in_the_rhythm_line():
    wrist = grounded_text(WALK, {"placement": "wrist"}, style="words").split("\n")[2]
    waist = grounded_text({**WALK, "step_freq": 1.7, "vert_rms": 2.0}, {"placement": "waist"},
                          style="words").split("\n")[2]
    assert wrist == waist == "Rhythm: unhurried cadence, steady beat, clearly repeating cycle."


def test_no_gait_words_without_motion_and_no_cycle_in_noise():
    fidget = {**WALK, "acc_mag_mean": 0.5, "impact_p2v_median": 2.0, "periodicity": 0.1}
    lines = grounded_text(fidget, {"placement": "wrist"}, style="words").split("\n")
    assert lines[2] == "Rhythm: no steps, no repeating cycle."
    assert lines[6] == "Vertical impact: no footfalls."


def test_the_strongest_motion_has_words_of_its_own():
    run = {**WALK, "acc_mag_mean": 15.0, "jerk_rms": 160.0}
    assert descriptive.level(run["acc_mag_mean"], descriptive.INTENSITY) == "extreme"
    assert descriptive.level(run["jerk_rms"], descriptive.JERK) == "explosive"
    assert descriptive.level(5.0, descriptive.INTENSITY) == "violent"
