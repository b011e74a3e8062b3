"""Interpreters: grounded text, validators, a tiny local causal LM, a local OpenAI-style server."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from lanhar_fl.config import ConfigError, load_config
from lanhar_fl.data.registry import load_windows
from lanhar_fl.data.windows import Windows
from lanhar_fl.semantics.descriptions import activity_words, mentions_activity
from lanhar_fl.semantics.features import GROUPS, SECTION_TITLES, compute_features
from lanhar_fl.semantics.interpret import interpret_windows
from lanhar_fl.semantics.interpreters import InterpreterError, build_interpreter, grounded_text
from lanhar_fl.semantics.interpreters.endpoints import is_loopback
from lanhar_fl.semantics.interpreters.prompt import PROMPT_VERSION, build_messages
from lanhar_fl.semantics.validation import (
    Validator,
    check_grounding,
    check_leakage,
    check_structure,
    cited_numbers,
    split_sections,
)

WORDS = activity_words()


@pytest.fixture(scope="module")
def synthetic():
    """A few hundred windows of the embedded synthetic dataset (gyro and acc-only phones)."""
    return load_windows(load_config(["data.max_windows=240"]))


def config(tmp_path, backend: str, **settings) -> OmegaConf:
    """The composed config with ``interpreter=backend`` and ``interpreter.KEY=VALUE`` settings."""
    cfg = load_config([f"interpreter={backend}", f"cache_dir={tmp_path / 'cache'}"])
    cfg.interpreter = OmegaConf.merge(cfg.interpreter, settings)
    return cfg


# ----------------------------------------------------------------------------- grounded


@pytest.mark.parametrize("style", ["cited", "words"])
def test_grounded_text_has_seven_sections_and_is_valid(synthetic, style):
    table = compute_features(synthetic)
    validator = Validator()
    for i in range(len(synthetic)):
        text = grounded_text(table.row(i), style=style)
        lines = text.split("\n")
        assert [ln.split(":")[0] for ln in lines] == [SECTION_TITLES[g] for g in GROUPS]
        assert validator.validate(text, table.row(i)) == [], text
        assert not mentions_activity(text, WORDS)
        if style == "words":
            assert not re.search(r"\d", text), text


def test_accelerometer_only_windows_get_no_gyro_statements(synthetic):
    acc_only = synthetic.subset(np.flatnonzero(~synthetic.has_gyro))
    assert len(acc_only) > 0
    table = compute_features(acc_only)
    for i in range(len(acc_only)):
        text = grounded_text(table.row(i))
        sections = split_sections(text)
        assert "rad/s" not in text and "°" not in text and "rotation" not in text
        assert sections["posture"] == sections["sync"] == "not measured (no gyroscope)."


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.001, 30.0),
       freq=st.floats(0.2, 6.0), has_gyro=st.booleans(), removed=st.booleans(),
       aligned=st.booleans())
def test_grounded_text_never_names_an_activity(seed, scale, freq, has_gyro, removed, aligned):
    """Both wordings, any signal: no activity word, and valid."""
    rng = np.random.default_rng(seed)
    t = np.arange(128) / 50.0
    data = rng.normal(0, scale, (3, 128, 6)) * rng.uniform(0, 1, (3, 1, 6))
    data[:, :, 2] += scale * np.sin(2 * np.pi * freq * t)
    if not has_gyro:
        data[:, :, 3:] = np.nan
    w = Windows(data=data.astype(np.float32), labels=np.zeros(3, np.int64),
                class_names=("walk",), subjects=np.zeros(3, np.int64), dataset="random",
                sampling_rate_hz=50.0, has_gyro=np.full(3, has_gyro),
                gravity_removed=np.full(3, removed), gravity_aligned=np.full(3, aligned),
                placements=np.full(3, "pocket"), devices=np.full(3, "x"))
    table = compute_features(w)
    for i in range(3):
        for style in ("cited", "words"):
            text = grounded_text(table.row(i), style=style)
            assert not mentions_activity(text, WORDS), text
            assert Validator().validate(text, table.row(i)) == [], text


def test_word_levels_are_ordered_and_never_name_an_activity():
    """Every value gets exactly one word per feature, and no word is an activity word."""
    from lanhar_fl.semantics.interpreters import descriptive

    tables = [v for v in vars(descriptive).values()
              if isinstance(v, tuple) and v and isinstance(v[0], tuple)]
    assert len(tables) >= 10
    for table in tables:
        limits = [limit for limit, _ in table]
        assert limits == sorted(limits) and len(set(limits)) == len(limits)
        assert limits[-1] == float("inf")
        for _, phrase in table:
            assert not mentions_activity(phrase, WORDS), phrase


def test_words_style_is_the_default_and_cited_is_asked_for(tmp_path):
    assert build_interpreter(config(tmp_path, "grounded").interpreter).style == "words"
    cited = build_interpreter(config(tmp_path, "grounded", style="cited").interpreter)
    assert cited.model_id != build_interpreter(config(tmp_path, "grounded").interpreter).model_id
    with pytest.raises(ConfigError, match="interpreter.style"):
        build_interpreter(config(tmp_path, "grounded", style="poetic").interpreter)


# ----------------------------------------------------------------------------- validators


def test_grounding_catches_a_tampered_number(synthetic):
    table = compute_features(synthetic)
    row = table.row(0)
    text = grounded_text(row)
    assert check_grounding(text, row) == []
    match = re.search(r"jerk rms (\d+(?:\.\d+)?) m/s³", text)
    tampered_value = f"{float(match.group(1)) * 3 + 7.3:.1f}"
    tampered = text.replace(match.group(0), f"jerk rms {tampered_value} m/s³")
    problems = check_grounding(tampered, row)
    assert [p.kind for p in problems] == ["grounding"]
    assert tampered_value in problems[0].message


def test_grounding_is_unit_and_rounding_aware():
    row = {"step_freq": 1.84, "acc_mag_mean": 2.43, "gyro_frac_y": 0.62, "net_rotation": 31.0,
           "sync_lag": -0.04}
    ctx = {"sampling_rate_hz": 50.0, "window_seconds": 2.56}
    ok = ("1. Rhythm: 1.8 Hz (110 steps/min), p95 stays low, 95th percentile too, 2.43 m/s² "
          "= 0.25 g; rotation 62% about y, 31° in 2.56 s at 50 Hz; 7 sections; delay 0.04 s; "
          "2 Hz")
    assert check_grounding(ok, row, ctx) == []
    assert check_grounding("Rhythm: 1.8 m/s²", row, ctx)  # right number, wrong unit
    assert check_grounding("Strength: 2.9 m/s²", row, ctx)  # 19 % off
    assert [c.literal for c in cited_numbers("p95 3D 2nd x2 3-axis 10 samples")] == ["10"]
    assert [(c.value, c.unit) for c in cited_numbers("a 2.56-s window, lag -0.1 s")] == \
        [(2.56, "s"), (-0.1, "s")]


def test_structure_and_leakage_validators():
    full = "\n".join(f"**{SECTION_TITLES[g]}:** something" for g in GROUPS)
    assert check_structure(full) == []
    partial = "Strength: strong\nRhythm: regular"
    problems = check_structure(partial)
    assert problems and "Shape" in problems[0].message and "Strength" not in problems[0].message
    leaked = check_leakage("Rhythm: looks like Walking upstairs", WORDS)
    assert leaked[0].kind == "leakage" and "walking" in leaked[0].message
    assert check_leakage("Rhythm: steady steps", WORDS) == []


# ----------------------------------------------------------------------------- hf backend


def test_hf_gibberish_is_regenerated_then_replaced_by_grounded(tiny_lm, synthetic, tmp_path):
    windows = synthetic.subset([0, 1])
    cfg = config(tmp_path, "hf", model_path=str(tiny_lm), device="cpu", guided=False,
                 max_new_tokens=12, max_attempts=3)
    result = interpret_windows(windows, cfg, progress=False)
    table = compute_features(windows)
    assert result.backend == "hf"
    assert result.attempts == [3, 3]
    assert result.fallback == [True, True] and result.valid == [True, True]
    assert result.texts == [grounded_text(table.row(i)) for i in range(2)]
    assert result.stats["fallbacks"] == 2 and result.stats["attempts"] == 6
    assert result.stats["rejections"]["structure"] == 6


def test_hf_prompt_uses_the_chat_template_and_context(tiny_lm, synthetic):
    interpreter = build_interpreter({"name": "hf", "model_path": str(tiny_lm), "device": "cpu"})
    row = compute_features(synthetic.subset([0])).row(0)
    messages = build_messages(row, {"placement": "wrist", "has_gyro": True}, ["fix Rhythm"])
    prompt = interpreter.prompt(messages)
    assert prompt.startswith("[system]") and prompt.endswith("[assistant]")
    assert "worn at the wrist" in prompt and "fix Rhythm" in prompt
    assert all(f"'{SECTION_TITLES[g]}:'" in prompt for g in GROUPS)
    assert interpreter.model_id.startswith(tiny_lm.name)


def test_hf_needs_a_model_directory(tmp_path):
    with pytest.raises(ConfigError, match="interpreter.model_path"):
        build_interpreter({"name": "hf", "model_path": None})
    with pytest.raises(ConfigError, match="no config.json, no .gguf"):
        build_interpreter({"name": "hf", "model_path": str(tmp_path)})


# ----------------------------------------------------------------------------- openai server


class ScriptedServer:
    """A real HTTP chat-completions server on 127.0.0.1 answering from a script."""

    def __init__(self):
        self.script: list[str | float] = []  # a text, or a delay in seconds before answering
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body,
                                        "host": self.headers.get("Host")})
                answer = server.script.pop(0) if server.script else "nothing left"
                if isinstance(answer, float):
                    time.sleep(answer)
                    answer = "late"
                data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                            "content": answer}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ScriptedServer()
    yield s
    s.close()


def _last_user(request: dict) -> str:
    return request["body"]["messages"][-1]["content"]


def test_openai_bad_answers_are_regenerated_with_reasons(server, synthetic, tmp_path):
    window = synthetic.subset([0])
    row = compute_features(window).row(0)
    good = grounded_text(row)
    wrong_number = re.sub(r"jerk rms \d+(\.\d+)?", "jerk rms 987.6", good)
    leaked = good.replace("Rhythm: ", "Rhythm: clearly walking; ")
    server.script = ["Strength: strong\nRhythm: regular", wrong_number, leaked, good]
    cfg = config(tmp_path, "openai_compatible", base_url=server.url, max_attempts=4)
    result = interpret_windows(window, cfg, progress=False)
    assert result.attempts == [4] and result.valid == [True] and result.fallback == [False]
    assert result.texts == [good]
    assert result.rejections == [["structure", "grounding", "leakage"]]
    assert result.stats["rejections"] == {"structure": 1, "grounding": 1, "leakage": 1,
                                          "outlier": 0}
    assert len(server.requests) == 4
    assert all(r["path"] == "/v1/chat/completions" for r in server.requests)
    assert "rejected" not in _last_user(server.requests[0])
    assert "missing sections: Axis dominance" in _last_user(server.requests[1])
    assert "987.6" in _last_user(server.requests[2])
    assert "walking" in _last_user(server.requests[3])


def test_openai_exhausted_attempts_fall_back(server, synthetic, tmp_path):
    window = synthetic.subset([3])
    server.script = ["no sections at all", "still none"]
    cfg = config(tmp_path, "openai_compatible", base_url=server.url, max_attempts=2)
    result = interpret_windows(window, cfg, progress=False)
    assert result.attempts == [2] and result.fallback == [True] and result.valid == [True]
    assert result.texts == [grounded_text(compute_features(window).row(0))]
    assert result.stats["fallbacks"] == 1


def test_openai_results_are_cached(server, synthetic, tmp_path):
    window = synthetic.subset([5])
    good = grounded_text(compute_features(window).row(0))
    server.script = [good]
    cfg = config(tmp_path, "openai_compatible", base_url=server.url)
    first = interpret_windows(window, cfg, progress=False)
    second = interpret_windows(window, cfg, progress=False)  # a new run: from the disk cache
    assert len(server.requests) == 1
    assert first.texts == second.texts == [good]
    assert first.stats["cache_hits"] == 0 and second.stats["cache_hits"] == 1
    assert second.stats["attempts"] == 0 and second.attempts == [1]
    assert second.stats["prompt_version"] == PROMPT_VERSION


@pytest.fixture
def names(monkeypatch):
    """A resolver table (name -> addresses) in place of DNS; unknown names do not resolve and
    literal addresses resolve to themselves, so no test makes a DNS query."""
    table: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in table:
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (ip, port or 0)) for ip in table[host]]
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket connects to; a connection to a non-loopback address is never
    made (refused here, so no traffic leaves this machine whatever the code under test does)."""
    seen: list[str] = []
    real = socket.socket.connect

    def connect(sock, address):
        seen.append(address[0])
        if address[0] not in ("127.0.0.1", "::1"):
            raise OSError(f"test guard: no connection to {address[0]}")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def test_remote_host_is_refused_without_a_request(server, names, connects):
    names.update({"evil.localhost": ["192.0.2.1"], "mixed.localhost": ["127.0.0.1", "10.255.255.1"],
                  "llm.example.com": ["192.0.2.10"], "localhost.example.com": ["192.0.2.11"]})
    for url in ("http://192.0.2.10:8080/v1", "https://llm.example.com/v1",
                "http://localhost.example.com/v1", "http://evil.localhost:8080/v1",
                "http://mixed.localhost/v1", "http://unknown.localhost/v1",
                "http://[::ffff:10.255.255.1]/v1"):
        with pytest.raises(ConfigError) as err:
            build_interpreter({"name": "openai_compatible", "base_url": url})
        assert "interpreter.base_url" in str(err.value)
        assert "interpreter.allow_remote" in str(err.value)
    assert "192.0.2.1, not a loopback address" in str(
        pytest.raises(ConfigError, build_interpreter,
                      {"name": "openai_compatible", "base_url": "http://evil.localhost/v1"}).value)
    assert server.requests == [] and connects == []


def test_allow_remote_warns_that_data_leaves_the_device(caplog, connects):
    with caplog.at_level(logging.WARNING):
        interpreter = build_interpreter({"name": "openai_compatible", "allow_remote": True,
                                         "base_url": "http://192.0.2.10:8080/v1"})
    assert interpreter.name == "openai_compatible"
    assert any(r.levelno == logging.WARNING and "leave" in r.getMessage()
               for r in caplog.records)
    assert connects == []


def test_loopback_detection(names):
    names.update({"evil.localhost": ["192.0.2.1"], "mixed.localhost": ["127.0.0.1", "192.0.2.1"],
                  "box.localhost": ["127.0.0.1"]})
    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost",
                                 "box.localhost", "::ffff:127.0.0.1"]))
    assert not any(map(is_loopback, ["10.0.0.1", "example.com", "localhost.example.com", "",
                                     "evil.localhost", "mixed.localhost", "::ffff:10.0.0.1"]))


def test_local_endpoint_is_re_resolved_and_pinned_at_each_connection(server, synthetic, names,
                                                                      connects):
    """A name checked as loopback and later resolving elsewhere (DNS rebinding) is refused at
    the connection, before any byte is sent; while it is loopback, the resolved address is used
    and the request still names the host."""
    row = compute_features(synthetic.subset([0])).row(0)
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    names["rebind.localhost"] = ["127.0.0.1"]
    interpreter = build_interpreter({"name": "openai_compatible",
                                     "base_url": f"http://rebind.localhost:{port}/v1"})
    server.script = ["first"]
    assert interpreter.generate(row, {}) == "first"
    assert server.requests[0]["host"] == f"rebind.localhost:{port}"
    names["rebind.localhost"] = ["192.0.2.1"]
    with pytest.raises(InterpreterError, match="192.0.2.1, not a loopback address"):
        interpreter.generate(row, {})
    assert connects == ["127.0.0.1"] and len(server.requests) == 1


def test_proxies_are_not_used_for_local_endpoints(server, synthetic, monkeypatch):
    proxy = ScriptedServer()  # a second real server on 127.0.0.1, standing in for a proxy
    try:
        for var in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(var, raising=False)
        for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                    "ALL_PROXY"):
            monkeypatch.setenv(var, proxy.url.removesuffix("/v1"))
        # the environment is effective: plain urllib hands a loopback request to the proxy
        plain = urllib.request.Request(server.url + "/chat/completions", data=b"{}",
                                       method="POST")
        # (a fresh opener: urlopen's global one read the environment when first used)
        with urllib.request.build_opener().open(plain, timeout=10) as response:
            response.read()
        assert len(proxy.requests) == 1 and server.requests == []
        server.script = ["direct"]
        interpreter = build_interpreter({"name": "openai_compatible", "base_url": server.url})
        row = compute_features(synthetic.subset([0])).row(0)
        assert interpreter.generate(row, {}) == "direct"
        assert len(server.requests) == 1 and len(proxy.requests) == 1
    finally:
        proxy.close()


def test_unreachable_server_and_timeout_name_the_url(server, synthetic):
    row = compute_features(synthetic.subset([0])).row(0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = build_interpreter({"name": "openai_compatible",
                                "base_url": f"http://127.0.0.1:{port}/v1"})
    with pytest.raises(InterpreterError, match=f"127.0.0.1:{port}/v1/chat/completions"):
        closed.generate(row, {})
    server.script = [2.0]
    slow = build_interpreter({"name": "openai_compatible", "base_url": server.url,
                              "timeout_s": 0.3})
    with pytest.raises(InterpreterError, match=r"did not answer within 0\.3 s"):
        slow.generate(row, {})
