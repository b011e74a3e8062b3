"""A local causal LM (``interpreter.model_path``: a transformers folder or a GGUF file).

Nothing is downloaded (``local_files_only``); the model is loaded once per process
(``loading.load``) and reused across windows, rounds and interpreter instances. By default
generation is guided section by section (``guided.py``: we write the headers, the model
completes one line each), which small models (0.1-3 B) can do; ``interpreter.guided=false``
sends the whole seven-section request as one chat prompt instead (``prompt.py``), for larger
models. Greedy decoding unless ``interpreter.temperature`` > 0 (one-request mode).
"""

from __future__ import annotations

from pathlib import Path

from ...config import ConfigError
from .base import Interpreter, InterpreterError
from .guided import GUIDED_VERSION, GuidedGenerator, assemble, row_key
from .loading import load
from .prompt import build_messages, render_plain

MAX_REMEMBERED = 4096  # previous answers kept for section-level re-generation


class HFInterpreter(Interpreter):
    """Generates interpretations with a local causal LM."""

    name = "hf"

    def __init__(self, model_path: str | Path, device: str = "auto", max_new_tokens: int = 320,
                 temperature: float = 0.0, seed: int = 0, guided: bool = True,
                 batch_windows: int = 8, max_line_tokens: int = 48,
                 repetition_penalty: float = 1.3, retry_temperature: float = 0.7,
                 rel_tol: float = 0.05):
        loaded = load(model_path, device)
        self.model, self.tokenizer, self.device = loaded.model, loaded.tokenizer, loaded.device
        self.max_new_tokens = int(max_new_tokens)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.guided = bool(guided)
        self.batch_windows = max(1, int(batch_windows)) if self.guided else 1
        self.model_id = loaded.model_id + (f"+{GUIDED_VERSION}" if self.guided else "")
        self.max_positions = (getattr(self.model.config, "max_position_embeddings", None)
                              or getattr(self.model.config, "n_positions", None))
        self.guide = GuidedGenerator(self.model, self.tokenizer, self.device,
                                     max_line_tokens=max_line_tokens,
                                     repetition_penalty=repetition_penalty,
                                     retry_temperature=retry_temperature, seed=seed,
                                     rel_tol=rel_tol) if self.guided else None
        self._pending: dict[str, list[str]] = {}  # prefetched first answers
        self._last: dict[str, list[str]] = {}  # the latest lines per window
        self._attempts: dict[str, int] = {}

    @classmethod
    def from_config(cls, cfg: object) -> HFInterpreter:
        path = cfg.get("model_path")
        if not path:
            raise ConfigError("interpreter.model_path is not set: give a local transformers "
                              "causal LM folder or a .gguf file (interpreter=hf "
                              "interpreter.model_path=PATH)")
        return cls(path, device=str(cfg.get("device", "auto")),
                   max_new_tokens=int(cfg.get("max_new_tokens", 320)),
                   temperature=float(cfg.get("temperature", 0.0)), seed=int(cfg.get("seed", 0)),
                   guided=bool(cfg.get("guided", True)),
                   batch_windows=int(cfg.get("batch_windows", 8)),
                   max_line_tokens=int(cfg.get("max_line_tokens", 48)),
                   repetition_penalty=float(cfg.get("repetition_penalty", 1.3)),
                   retry_temperature=float(cfg.get("retry_temperature", 0.7)),
                   rel_tol=float(cfg.get("grounding_rel_tol", 0.05)))

    # ---------------------------------------------------------------- guided

    def _remember(self, key: str, lines: list[str]) -> None:
        if len(self._last) >= MAX_REMEMBERED:
            self._last.clear()
            self._attempts.clear()
        self._last[key] = lines

    def prefetch(self, rows: list[dict[str, float]], contexts: list[dict]) -> None:
        """Generate the first answers of these windows together (batched, guided mode)."""
        if not self.guided or not rows:
            return
        keys = [row_key(r, c) for r, c in zip(rows, contexts, strict=True)]
        todo = [i for i, k in enumerate(keys) if k not in self._pending]
        for start in range(0, len(todo), self.batch_windows):
            block = todo[start:start + self.batch_windows]
            for i, lines in zip(block, self.guide.run([rows[i] for i in block]), strict=True):
                self._pending[keys[i]] = lines

    def _guided(self, row: dict[str, float], context: dict, feedback: list[str] | None) -> str:
        key = row_key(row, context)
        previous = self._last.get(key)
        if feedback and previous is not None:
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
            plans = self.guide.retry_plans(row, context, previous)
            lines = self.guide.run([row], [plans], attempt=attempt)[0]
        else:
            lines = self._pending.pop(key, None) or self.guide.run([row])[0]
        self._remember(key, lines)
        return assemble(lines)

    def warm(self) -> None:
        """Encode the guided prompt's fixed prefix now (otherwise the first window pays it)."""
        if self.guide is not None:
            self.guide.warm()

    @property
    def usage(self) -> dict[str, float]:
        """Guided generation so far: windows generated, tokens, seconds."""
        g = self.guide
        return {} if g is None else {"generations": g.calls, "tokens": g.tokens_generated,
                                     "seconds": round(g.seconds, 3)}

    # ---------------------------------------------------------------- one request

    def prompt(self, messages: list[dict[str, str]]) -> str:
        """The prompt string: the chat template when there is one, else a plain prompt."""
        if not getattr(self.tokenizer, "chat_template", None):
            return render_plain(messages)
        try:
            return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=True)
        except Exception:  # templates without a system role: fold it into the user turn
            merged = [{"role": "user",
                       "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return self.tokenizer.apply_chat_template(merged, tokenize=False,
                                                      add_generation_prompt=True)

    def generate(self, features_row: dict[str, float], context: dict,
                 feedback: list[str] | None = None) -> str:
        if self.guided:
            return self._guided(features_row, context, feedback)
        import torch

        text = self.prompt(build_messages(features_row, context, feedback))
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        inputs = {k: inputs[k].to(self.device) for k in ("input_ids", "attention_mask")
                  if k in inputs}
        n_in = int(inputs["input_ids"].shape[1])
        new_tokens = self.max_new_tokens
        if self.max_positions:
            new_tokens = min(new_tokens, int(self.max_positions) - n_in)
            if new_tokens < 1:
                raise InterpreterError(f"the prompt ({n_in} tokens) does not fit the context of "
                                       f"{self.model_id} ({self.max_positions} tokens)")
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        sample = self.temperature > 0
        if sample:
            torch.manual_seed(self.seed)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=new_tokens, do_sample=sample,
                                      temperature=self.temperature if sample else None,
                                      top_p=None, top_k=None, pad_token_id=pad)
        return self.tokenizer.decode(out[0, n_in:], skip_special_tokens=True).strip()

    def close(self) -> None:
        """Drop this instance's references; the process keeps the loaded model for reuse."""
        self.model = None
        self.guide = None
