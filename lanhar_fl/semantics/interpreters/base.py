"""The one interface every interpreter (grounded, hf, openai_compatible) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod


class InterpreterError(RuntimeError):
    """An interpreter backend failed (unreachable server, bad answer, model load error)."""


class Interpreter(ABC):
    """Turns one window's features (+ context) into a seven-section interpretation.

    ``feedback`` carries the reasons a previous answer was rejected, so that a generative backend
    can correct itself; deterministic backends ignore it.
    """

    name: str = ""
    model_id: str = ""
    deterministic: bool = False  # same input -> same text: re-generation cannot help

    @abstractmethod
    def generate(self, features_row: dict[str, float], context: dict,
                 feedback: list[str] | None = None) -> str:
        """The interpretation text of one window."""

    def close(self) -> None:
        """Release resources (models, connections); the default holds none."""
        return None
