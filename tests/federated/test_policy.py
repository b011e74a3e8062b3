"""The phone's own policy: loading and validating it, checking received configs against it, and
received configuration read as data (no interpolation on the phone)."""

from __future__ import annotations

import json
import time

import pytest
from flwr.app import ConfigRecord, Context, Metadata, RecordDict
from flwr.app.message.message import make_message

from client import client_app
from client.local_data import localize, node_cache_dir
from client.policy import PhonePolicy, PolicyRefused, phone_policy
from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.federated import schema
from lanhar_fl.federated.grid import Exchange
from lanhar_fl.federated.runconfig import config_from_json, config_to_json
from lanhar_fl.privacy.settings import load_privacy_group

REMOTE = ["interpreter=openai_compatible", "interpreter.allow_remote=true",
          "interpreter.base_url=http://203.0.113.5:8080/v1"]


def _received(*overrides: str, privacy: str | None = None, **privacy_values):
    """A config as a phone receives it: composed, sent as JSON, parsed back."""
    cfg = load_config(["preset=smoke", *overrides])
    if privacy is not None:
        cfg.privacy = load_privacy_group(privacy)
        for key, value in privacy_values.items():
            cfg.privacy[key] = value
    return config_from_json(config_to_json(cfg))


# -- received configuration is data ---------------------------------------------------------------
def test_received_interpolations_are_not_resolved_on_the_phone(monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "s3cret")
    sent = json.dumps({"interpreter": {"model": "${oc.env:SECRET_TOKEN}",
                                       "stop": ["a\\${oc.env:SECRET_TOKEN}", "${seed}"]},
                       "seed": 3, "cache_dir": "${oc.env:SECRET_TOKEN,/tmp}"})
    cfg = config_from_json(sent)
    assert cfg.interpreter.model == "${oc.env:SECRET_TOKEN}"
    assert list(cfg.interpreter.stop) == ["a\\${oc.env:SECRET_TOKEN}", "${seed}"]
    assert cfg.get("cache_dir") == "${oc.env:SECRET_TOKEN,/tmp}"
    copied = cfg.copy()
    assert copied.interpreter.model == "${oc.env:SECRET_TOKEN}"
    # re-serialised (as the phone does for its data key) and parsed again: still literal
    again = config_from_json(config_to_json(cfg))
    assert again.interpreter.model == "${oc.env:SECRET_TOKEN}"
    assert "s3cret" not in config_to_json(again)


@pytest.mark.parametrize("text", ["[1, 2]", "not json", '"a string"'])
def test_received_config_that_is_not_an_object_is_refused(text):
    with pytest.raises(ConfigError, match="received run config"):
        config_from_json(text)


# -- policy files ---------------------------------------------------------------------------------
def test_policy_file_loads_yaml_and_json(tmp_path):
    yml = tmp_path / "policy.yaml"
    yml.write_text("interpreters: [grounded, openai_compatible]\n"
                   "endpoints: ['http://127.0.0.1:8080/v1/']\n"
                   "min_privacy: sample_level\nmax_epsilon: 4\nmax_artifact_files: 10\n")
    policy = PhonePolicy.load(yml)
    assert policy.interpreters == ("grounded", "openai_compatible")
    assert policy.endpoints == ("http://127.0.0.1:8080/v1",)
    assert policy.max_epsilon == 4.0 and policy.min_privacy == "sample_level"
    assert policy.max_artifact_files == 10 and policy.allow_remote is False
    js = tmp_path / "policy.json"
    js.write_text(json.dumps({"allow_remote": True, "min_noise_multiplier": 0.8}))
    assert PhonePolicy.load(js) == PhonePolicy(allow_remote=True, min_noise_multiplier=0.8)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert PhonePolicy.load(empty) == PhonePolicy()


@pytest.mark.parametrize(("text", "message"), [
    ("interpreters: [grounded]\nallow_remote_hosts: true\n",
     r"unknown key\(s\) allow_remote_hosts"),
    ("allow_remote: 'yes'\n", r"allow_remote: expected true or false, got 'yes'"),
    ("max_epsilon: four\n", r"max_epsilon: expected a positive number or null"),
    ("max_epsilon: -1\n", r"max_epsilon: expected a positive number or null"),
    ("max_artifact_bytes: 1.5\n", r"max_artifact_bytes: expected a positive integer"),
    ("max_artifact_files: true\n", r"max_artifact_files: expected a positive integer"),
    ("interpreters: grounded\n", r"interpreters: expected a list of strings"),
    ("interpreters: [grounded, gpt]\n", r"interpreters: unknown interpreter\(s\) gpt"),
    ("endpoints: ['127.0.0.1:8080']\n", r"endpoints: '127.0.0.1:8080' is not an http\(s\) URL"),
    ("min_privacy: strong\n", r"min_privacy: expected one of none, client_level"),
    ("- grounded\n", r"expected a mapping of policy settings, got list"),
    ("interpreters: [grounded\n", r"not valid YAML/JSON"),
])
def test_policy_file_errors_name_the_file_and_the_field(tmp_path, text, message):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        PhonePolicy.load(path)
    assert str(path) in str(info.value)


def test_missing_policy_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it"):
        PhonePolicy.load(tmp_path / "absent.yaml")


def test_policy_comes_from_the_node_config_then_the_environment(tmp_path, monkeypatch):
    node_file, env_file = tmp_path / "node.yaml", tmp_path / "env.yaml"
    node_file.write_text("max_epsilon: 2\n")
    env_file.write_text("max_epsilon: 6\n")
    monkeypatch.delenv("LANHAR_FL_PHONE_POLICY", raising=False)
    assert phone_policy({}) == PhonePolicy()
    monkeypatch.setenv("LANHAR_FL_PHONE_POLICY", str(env_file))
    assert phone_policy({}).max_epsilon == 6.0
    assert phone_policy({"policy": str(node_file)}).max_epsilon == 2.0


# -- interpreter settings -------------------------------------------------------------------------
def test_default_policy_refuses_a_remote_interpreter():
    reasons = PhonePolicy().refusals(_received(*REMOTE))
    assert any(r.startswith("interpreter.name=openai_compatible") for r in reasons)
    assert any(r.startswith("interpreter.allow_remote=true") for r in reasons)
    assert any(r.startswith("interpreter.base_url=http://203.0.113.5:8080/v1") for r in reasons)
    assert PhonePolicy().refusals(_received()) == []
    with pytest.raises(PolicyRefused, match="interpreter.name=openai_compatible"):
        PhonePolicy().check(_received(*REMOTE))


def test_a_listed_loopback_endpoint_is_allowed_and_nothing_else():
    policy = PhonePolicy(interpreters=("grounded", "openai_compatible"),
                         endpoints=("http://127.0.0.1:8080/v1",))
    assert policy.refusals(_received("interpreter=openai_compatible")) == []
    other = policy.refusals(_received("interpreter=openai_compatible",
                                      "interpreter.base_url=http://127.0.0.1:9999/v1"))
    assert [r.split(" ")[0] for r in other] == ["interpreter.base_url=http://127.0.0.1:9999/v1"]
    remote = policy.refusals(_received(*REMOTE))
    assert {r.split("=")[0] for r in remote} == {"interpreter.allow_remote",
                                                 "interpreter.base_url"}
    secret = policy.refusals(_received("interpreter=openai_compatible",
                                       "interpreter.api_key_env=AWS_SECRET_ACCESS_KEY"))
    assert [r.split(" ")[0] for r in secret] == ["interpreter.api_key_env=AWS_SECRET_ACCESS_KEY"]


# -- privacy floor --------------------------------------------------------------------------------
FLOOR = PhonePolicy(min_privacy="sample_level", max_epsilon=4.0)


def test_privacy_floor_refuses_no_privacy_and_a_larger_epsilon():
    none = FLOOR.refusals(_received(privacy="none"))
    assert len(none) == 1 and none[0].startswith("privacy.mode=none")
    eight = FLOOR.refusals(_received(privacy="sample_level", target_epsilon=8.0))
    assert len(eight) == 1 and eight[0].startswith("privacy.target_epsilon=8")
    assert FLOOR.refusals(_received(privacy="sample_level", target_epsilon=4.0)) == []
    assert FLOOR.refusals(_received(privacy="sample_level", target_epsilon=2.0)) == []
    # a weaker mode is refused even with a small epsilon
    central = FLOOR.refusals(_received(privacy="client_level", target_epsilon=1.0))
    assert [r.split(" ")[0] for r in central] == ["privacy.mode=client_level"]


def test_epsilon_cap_needs_a_target_and_noise_floor_checks_the_noise():
    noise_only = _received(privacy="sample_level", target_epsilon=None, noise_multiplier=0.5)
    assert [r.split(" ")[0] for r in FLOOR.refusals(noise_only)] == [
        "privacy.target_epsilon=null"]
    noisy = PhonePolicy(min_noise_multiplier=1.0)
    assert [r.split(" ")[0] for r in noisy.refusals(noise_only)] == [
        "privacy.noise_multiplier=0.5"]
    assert noisy.refusals(_received(privacy="client_level", noise_multiplier=1.2)) == []
    assert noisy.refusals(_received(privacy="secagg")) == []  # no DP: the floor decides


def test_unknown_or_malformed_privacy_values_are_refused():
    bad_mode = _received(privacy="none")
    bad_mode.privacy.mode = "weak"
    assert FLOOR.refusals(bad_mode)[0].startswith("privacy.mode: expected one of")
    text = _received(privacy="sample_level")
    text.privacy.target_epsilon = "lots"
    assert "privacy.target_epsilon='lots' is not a number" in FLOOR.refusals(text)


# -- the ClientApp and the server's record --------------------------------------------------------
def test_client_app_replies_with_an_error_naming_the_setting(monkeypatch):
    monkeypatch.delenv("LANHAR_FL_PHONE_POLICY", raising=False)
    config = ConfigRecord({schema.RUN_CONFIG: config_to_json(load_config(["preset=smoke",
                                                                          *REMOTE])),
                           schema.ARTIFACT_VERSION: "0:0"})
    metadata = Metadata(run_id=1, message_id="m1", src_node_id=0, dst_node_id=1,
                        reply_to_message_id="", group_id="1", created_at=time.time(), ttl=60,
                        message_type="query")
    msg = make_message(metadata=metadata, content=RecordDict({schema.CONFIG: config}))
    context = Context(run_id=1, node_id=1, node_config={"partition-id": 0}, state=RecordDict(),
                      run_config={})
    reply = client_app.query(msg, context)
    assert reply.has_error() and not reply.has_content()
    assert reply.error.code == schema.POLICY_REFUSED
    assert "interpreter.name=openai_compatible" in reply.error.reason
    exchange = Exchange("query", "1", [7])
    exchange.record_error(7, reply.error)
    summary = exchange.summary()
    assert summary["phones_refused"] == summary["phones_failed"] == 1
    assert summary["refusal_reasons"] == [reply.error.reason]


def test_deployed_phone_never_uses_the_servers_cache_dir(tmp_path, monkeypatch):
    cfg = _received("cache_dir=/srv/server-cache")
    monkeypatch.setenv("LANHAR_FL_CACHE", str(tmp_path))
    assert node_cache_dir(cfg, {"partition-id": 0}) == "/srv/server-cache"  # simulation
    assert localize(cfg, {"data-path": "/data"}) == str(tmp_path)
    assert cfg.cache_dir == str(tmp_path)
    assert node_cache_dir(cfg, {"data-path": "/data", "cache-dir": "/phone"}) == "/phone"


def test_policy_artifact_limits_reach_the_unpacker(tmp_path):
    from lanhar_fl.federated.artifacts import ArtifactRejected, pack_directory, unpack

    source = tmp_path / "artefact"
    source.mkdir()
    for name in ("a.json", "b.json", "c.json"):
        (source / name).write_text("{}")
    arrays, texts = pack_directory(source, "0" * 16)
    with pytest.raises(ArtifactRejected, match="files"):
        unpack(arrays, texts, tmp_path / "cache",
               PhonePolicy(max_artifact_files=2).artifact_limits())
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.iterdir())  # nothing written
    unpack(arrays, texts, tmp_path / "cache", PhonePolicy(max_artifact_files=3).artifact_limits())


def test_audit_canaries_are_capped_by_the_phone():
    """A hostile server cannot make a phone build millions of canaries: the count is capped by
    the phone's own policy (0 there: no audit at all on this phone)."""
    many = _received(privacy="none")
    many.privacy.audit_canaries = 10**12
    assert [r.split(" ")[0] for r in PhonePolicy().refusals(many)] == [
        "privacy.audit_canaries=1000000000000"]
    many.privacy.audit_canaries = 1000
    assert PhonePolicy().refusals(many) == []
    assert len(PhonePolicy(max_audit_canaries=0).refusals(many)) == 1
    with pytest.raises(ConfigError, match="max_audit_canaries: expected an integer >= 0"):
        PhonePolicy.from_mapping({"max_audit_canaries": -1})
