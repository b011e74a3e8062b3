"""Interpretation-assisted scores: both paths standardised per window, then mixed."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from lanhar_fl.config import ConfigError
from lanhar_fl.eval.fusion import fuse, reader_encoder, sensor_votes, standardise, text_weight

SENSOR = np.array([[0.30, 0.10, 0.28], [0.2, 0.8, 0.1]])  # a narrow cosine range
TEXT = np.array([[0.60, 0.55, 0.70], [0.6, 0.9, 0.6]])


def test_rows_are_standardised_whatever_their_scale():
    z = standardise(SENSOR * 14.0 + 3.0)
    np.testing.assert_allclose(z, standardise(SENSOR), atol=1e-12)
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), 1.0)
    assert np.isfinite(standardise(np.ones((1, 3)))).all()  # a flat row stays finite


def test_weight_zero_is_the_sensor_path_and_one_the_reading():
    assert fuse(SENSOR, TEXT, 0.0).argmax(axis=1).tolist() == [0, 1]
    assert fuse(SENSOR, TEXT, 1.0).argmax(axis=1).tolist() == [2, 1]
    # both alike: the reading's clear preference for class 2 outweighs a near tie
    assert fuse(SENSOR, TEXT, 0.5).argmax(axis=1).tolist() == [2, 1]


def test_paths_must_score_the_same_bank():
    with pytest.raises(ValueError, match="same bank"):
        fuse(SENSOR, TEXT[:, :2], 0.5)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_a_weight_outside_zero_one_is_refused(value):
    with pytest.raises(ConfigError, match="inference.text_weight"):
        text_weight(OmegaConf.create({"inference": {"text_weight": value}}))
    assert text_weight(OmegaConf.create({})) == 0.0


def test_a_sensor_voting_on_seen_classes_leaves_new_ones_to_the_reading():
    sensor = np.array([[0.2, -0.3, 0.4]])  # happens to land nearest the new class 2
    text = np.array([[0.70, 0.60, 0.69]])
    assert fuse(sensor, text, 0.5).argmax(axis=1).tolist() == [2]
    seen_only = fuse(sensor, text, 0.5, np.array([True, True, False]))
    assert seen_only[0, 2] == pytest.approx(0.5 * standardise(text)[0, 2])
    assert seen_only.argmax(axis=1).tolist() == [0]


def test_sensor_votes_setting_is_checked():
    assert sensor_votes(OmegaConf.create({"inference": {"sensor_votes": "seen"}})) == "seen"
    with pytest.raises(ConfigError, match="inference.sensor_votes"):
        sensor_votes(OmegaConf.create({"inference": {"sensor_votes": "new"}}))


def test_reader_encoder_setting_is_checked():
    assert reader_encoder(OmegaConf.create({})) == "stage1"
    assert reader_encoder(OmegaConf.create({"inference": {"reader_encoder": "pretrained"}})) == (
        "pretrained")
    with pytest.raises(ConfigError, match="inference.reader_encoder"):
        reader_encoder(OmegaConf.create({"inference": {"reader_encoder": "gpt"}}))
