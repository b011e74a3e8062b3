"""A local OpenAI-compatible server (llama.cpp server, vLLM, Ollama) via /v1/chat/completions.

Standard library only (urllib). Only loopback hosts are allowed: window features leave the
process but not the device. A host is loopback when every address it resolves to is (see
``endpoints``); requests to it use no proxy and connect to the address resolved at that moment.
``interpreter.allow_remote=true`` lifts that, and every run then warns that data leaves the
device. An API key, if the server wants one, is read from the
environment variable named by ``interpreter.api_key_env`` (never from the config itself).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from urllib.parse import urlparse

from ...config import ConfigError
from .base import Interpreter, InterpreterError
from .endpoints import NotLoopback, local_opener, loopback_addresses
from .prompt import build_messages

log = logging.getLogger(__name__)


def check_endpoint(base_url: str, allow_remote: bool) -> bool:
    """True for a loopback ``base_url``; a non-loopback one is refused unless ``allow_remote``
    (then False, with a warning). The host is resolved; no request is made."""
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"interpreter.base_url={base_url!r} is not an http(s) URL, "
                          "e.g. http://127.0.0.1:8080/v1")
    try:
        loopback_addresses(parsed.hostname, parsed.port)
        return True
    except NotLoopback as exc:
        reason = str(exc)
    except ValueError as exc:  # e.g. a port out of range
        raise ConfigError(f"interpreter.base_url={base_url!r}: {exc}") from exc
    if not allow_remote:
        raise ConfigError(f"interpreter.base_url={base_url} is not on this device (loopback "
                          f"only; {reason}): window features would leave the device. Use a "
                          "local server, or set interpreter.allow_remote=true to accept "
                          "sending them")
    log.warning("interpreter.allow_remote=true: window features are sent to %s and leave "
                "this device", parsed.hostname)
    return False


class OpenAICompatibleInterpreter(Interpreter):
    """Asks a local chat-completions endpoint for each interpretation."""

    name = "openai_compatible"

    def __init__(self, base_url: str, model: str, allow_remote: bool = False,
                 timeout_s: float = 120.0, max_tokens: int = 320, temperature: float = 0.2,
                 api_key_env: str | None = None):
        local = check_endpoint(base_url, allow_remote)
        # a local endpoint: no proxy, loopback connections only, re-checked at each connection
        self._opener = local_opener() if local else urllib.request.build_opener()
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.model_id = f"{model}@{urlparse(base_url).netloc}"
        self.timeout_s = float(timeout_s)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.api_key = os.environ.get(api_key_env) if api_key_env else None

    @classmethod
    def from_config(cls, cfg: object) -> OpenAICompatibleInterpreter:
        base_url = cfg.get("base_url")
        if not base_url:
            raise ConfigError("interpreter.base_url is not set, e.g. http://127.0.0.1:8080/v1")
        return cls(str(base_url), str(cfg.get("model") or "local"),
                   allow_remote=bool(cfg.get("allow_remote", False)),
                   timeout_s=float(cfg.get("timeout_s", 120)),
                   max_tokens=int(cfg.get("max_new_tokens", 320)),
                   temperature=float(cfg.get("temperature", 0.2)),
                   api_key_env=cfg.get("api_key_env"))

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode(),
                                         headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise InterpreterError(f"{self.url} answered HTTP {exc.code}: {detail}") from exc
        except TimeoutError as exc:
            raise InterpreterError(f"{self.url} did not answer within {self.timeout_s:g} s "
                                   "(interpreter.timeout_s)") from exc
        except urllib.error.URLError as exc:
            raise InterpreterError(f"cannot reach {self.url}: {exc.reason} (is the server "
                                   "running? setting interpreter.base_url)") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InterpreterError(f"{self.url} answered with invalid JSON: {exc}") from exc

    def generate(self, features_row: dict[str, float], context: dict,
                 feedback: list[str] | None = None) -> str:
        answer = self._post({
            "model": self.model,
            "messages": build_messages(features_row, context, feedback),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": False,
        })
        try:
            return str(answer["choices"][0]["message"]["content"] or "").strip()
        except (KeyError, IndexError, TypeError) as exc:
            raise InterpreterError(f"{self.url} answered without choices[0].message.content: "
                                   f"{str(answer)[:300]}") from exc
