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
    assert row["acc_mag_mean"] == WALK["acc_mag_mean"]


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
