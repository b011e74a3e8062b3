"""Interpreters: features (+ context) -> seven-section text. Chosen by ``interpreter.name``."""

from __future__ import annotations

from ...config import ConfigError
from .base import Interpreter, InterpreterError
from .grounded import GroundedInterpreter, grounded_text

BACKENDS = ("grounded", "hf", "openai_compatible")


def build_interpreter(cfg: object) -> Interpreter:
    """The interpreter the ``interpreter`` config section names (backends imported lazily)."""
    name = str(cfg.get("name", "grounded")) if hasattr(cfg, "get") else "grounded"
    if name == "grounded":
        return GroundedInterpreter(str(cfg.get("style") or "words") if hasattr(cfg, "get")
                                   else "words")
    if name == "hf":
        from .hf import HFInterpreter

        return HFInterpreter.from_config(cfg)
    if name == "openai_compatible":
        from .openai_compatible import OpenAICompatibleInterpreter

        return OpenAICompatibleInterpreter.from_config(cfg)
    raise ConfigError(f"interpreter.name={name!r} is unknown; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "GroundedInterpreter", "Interpreter", "InterpreterError",
           "build_interpreter", "grounded_text"]
