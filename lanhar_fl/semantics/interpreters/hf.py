"""A local transformers causal LM (``interpreter.model_path``) prompted LanHAR-style.

The model is loaded from a directory only (``local_files_only``; nothing is downloaded). Its
chat template is used when the tokenizer has one, otherwise a plain "System/User/Assistant"
prompt. Greedy decoding unless ``interpreter.temperature`` > 0.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ...config import ConfigError
from .base import Interpreter, InterpreterError
from .prompt import build_messages, render_plain


def _fingerprint(path: Path) -> str:
    """Short hash of the model's config and weight files (name, size, mtime)."""
    h = hashlib.sha256()
    config = path / "config.json"
    if config.is_file():
        h.update(config.read_bytes())
    for f in sorted(path.glob("*")):
        if f.suffix in (".safetensors", ".bin", ".gguf"):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class HFInterpreter(Interpreter):
    """Generates interpretations with a local causal LM."""

    name = "hf"

    def __init__(self, model_path: str | Path, device: str = "auto", max_new_tokens: int = 320,
                 temperature: float = 0.0, seed: int = 0):
        path = Path(str(model_path)).expanduser()
        if not (path / "config.json").is_file():
            raise ConfigError(f"interpreter.model_path={model_path}: not a model directory "
                              "(no config.json); point it at a local transformers causal LM")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InterpreterError(f"cannot load the model in {path}: {exc}") from exc
        self.device = _device(device)
        self.model.to(self.device).eval()
        self.max_new_tokens = int(max_new_tokens)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.model_id = f"{path.name}@{_fingerprint(path)}"
        self.max_positions = (getattr(self.model.config, "max_position_embeddings", None)
                              or getattr(self.model.config, "n_positions", None))

    @classmethod
    def from_config(cls, cfg: object) -> HFInterpreter:
        path = cfg.get("model_path")
        if not path:
            raise ConfigError("interpreter.model_path is not set: give the directory of a local "
                              "transformers causal LM (interpreter=hf interpreter.model_path=DIR)")
        return cls(path, device=str(cfg.get("device", "auto")),
                   max_new_tokens=int(cfg.get("max_new_tokens", 320)),
                   temperature=float(cfg.get("temperature", 0.0)), seed=int(cfg.get("seed", 0)))

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
        self.model = None
