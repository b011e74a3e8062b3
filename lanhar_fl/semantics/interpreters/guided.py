"""Section-by-section guided completion, designed for small on-device LMs (0.1-3 B parameters).

The model never writes a header. For each of the seven sections we write one line carrying only
that section's measured numbers (``Numbers: acc mag mean 3.2 m/s², ...``) and then the header
(``Strength:``); the model completes one line and we stop at the newline. So the seven-section
structure holds whatever the model generates. Decoding is greedy with a repetition penalty on
word tokens the line already holds (digits and punctuation are exempt: copying numbers is the
point). The prompt opens with two worked examples in the same layout, written by the grounded
interpreter from two fixed feature rows (UCI HAPT, a gait and a still window); that prefix is
encoded once per model and its key/value cache reused for every window. Windows are generated
in batches, in lockstep section by section (padding masked).

Two things are enforced while decoding, whatever the model prefers: a number can only be
written digit by digit as one of the section's listed values (then its unit is written for the
model), and tokens that spell an activity word are never chosen. Word tokens already used in the
window's lines are penalised, so a line does not repeat the previous one.

Re-generation after a rejection: each line of the previous answer is checked on its own
(grounding and leakage from ``semantics.validation``); only failing lines are generated again,
sampled at ``retry_temperature``, under a numbers line that says what was wrong, with the leaked
words' tokens banned. Lines that passed are kept verbatim. When no line fails on its own (e.g. an
outlier verdict) every line is sampled again.
"""

from __future__ import annotations

import copy
import inspect
import json
import time
from dataclasses import dataclass, field

import torch

from ..descriptions import activity_words, mentions_activity
from ..features import FEATURES, GROUPS, SECTION_TITLES
from ..validation import check_grounding
from .grounded import UNIT_TEXT, cite, grounded_text
from .prompt import render_plain

GUIDED_VERSION = "guided-v2"

SYSTEM = ("You describe a short phone motion-sensor window from its measured numbers, one line "
          "per section: a few plain words on the pattern, then the numbers you rely on, copied "
          "exactly with their units. Never name or guess what the person is doing.")

# Features of two UCI HAPT windows (subject 1, waist phone): a gait and a still one.
EXAMPLE_ROWS: tuple[dict[str, float], ...] = (
    {"acc_mag_mean": 3.239, "acc_mag_std": 1.425, "acc_mag_p2p": 6.885, "jerk_rms": 93.05,
     "jerk_p95": 181.2, "gyro_mag_rms": 0.9718, "gyro_mag_p2p": 1.901, "vert_rms": 2.594,
     "horiz_rms": 2.407, "vert_p2p": 10.1, "horiz_p2p": 10.45, "vert_horiz_ratio": 1.078,
     "gyro_frac_x": 0.137, "gyro_frac_y": 0.6255, "gyro_frac_z": 0.2375, "dominant_freq": 1.842,
     "step_freq": 1.685, "ibi_cv": 0.2308, "harmonic_ratio": 0.5706, "crest_factor": 2.433,
     "kurtosis": -0.8455, "rise_fall_ratio": 1.309, "gyro_mean_x": -0.007479,
     "gyro_mean_y": 0.05, "gyro_mean_z": -0.05856, "net_rotation": 11.35,
     "gyro_step_freq": 1.685, "sync_lag": -0.12, "sync_consistency": 0.3785,
     "impact_p2v_median": 7.649, "impact_p2v_p95": 9.794},
    {"acc_mag_mean": 0.2779, "acc_mag_std": 0.2724, "acc_mag_p2p": 1.303, "jerk_rms": 8.34,
     "jerk_p95": 18.08, "gyro_mag_rms": 0.1327, "gyro_mag_p2p": 0.3799, "vert_rms": 0.09691,
     "horiz_rms": 0.3769, "vert_p2p": 0.7533, "horiz_p2p": 1.826, "vert_horiz_ratio": 0.2571,
     "gyro_frac_x": 0.3911, "gyro_frac_y": 0.5524, "gyro_frac_z": 0.05647,
     "dominant_freq": 0.3916, "harmonic_ratio": 0.5172, "gyro_mean_x": 0.03729,
     "gyro_mean_y": 0.009201, "gyro_mean_z": -0.005451, "net_rotation": 5.691},
)


def numbers_line(row: dict[str, float], group: str, note: str = "") -> str:
    """``Numbers: name value unit, ...`` for the features of one section (2 significant digits)."""
    names = [n for n, spec in FEATURES.items() if spec.group == group and n in row]
    body = ", ".join(f"{n.replace('_', ' ')} {cite(row, n)}" for n in names) or "none"
    return f"Numbers{f' ({note})' if note else ''}: {body}"


def example_block(row: dict[str, float]) -> str:
    """A worked example: each section's numbers line, then the grounded interpreter's line."""
    row = {k: v for k, v in row.items() if k in FEATURES}
    lines = grounded_text(row).split("\n")
    return "\n".join(f"{numbers_line(row, g)}\n{line}" for g, line in zip(GROUPS, lines,
                                                                          strict=True))


def prefix_messages() -> list[dict[str, str]]:
    """System and user turns: the task and two worked examples (fixed for every window)."""
    examples = "\n\n".join(f"Example {k + 1}:\n{example_block(r)}"
                           for k, r in enumerate(EXAMPLE_ROWS))
    user = (f"{examples}\n\nDescribe the next window the same way: after each section's "
            "numbers, one line that starts with the section name.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def row_key(row: dict[str, float], context: dict) -> str:
    return json.dumps([sorted(row.items()), sorted((k, str(v)) for k, v in context.items())])


@dataclass
class SectionPlan:
    """What to do with one section: keep ``line`` as written, or generate it."""

    keep: str | None = None
    temperature: float = 0.0
    note: str = ""
    banned: set[int] = field(default_factory=set)


@dataclass
class _State:
    cache: object
    mask: torch.Tensor  # (B, L) 1 for real tokens
    next_pos: torch.Tensor  # (B,) position id of the next real token


class GuidedGenerator:
    """Batched, lockstep, section-by-section completion with a cached worked-example prefix."""

    def __init__(self, model, tokenizer, device: str, max_line_tokens: int = 48,
                 repetition_penalty: float = 1.3, retry_temperature: float = 0.7,
                 seed: int = 0, rel_tol: float = 0.05):
        self.model, self.tok, self.device = model, tokenizer, device
        self.max_line_tokens = int(max_line_tokens)
        self.penalty = float(repetition_penalty)
        self.retry_temperature = float(retry_temperature)
        self.seed, self.rel_tol = int(seed), float(rel_tol)
        self.words = activity_words()
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else (tokenizer.eos_token_id or 0)
        self.prefix_ids = self._ids(self._prefix_text())
        self._prefix_cache = None
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._vocab_masks()
        self.tokens_generated = 0
        self.seconds = 0.0
        self.calls = 0

    # ---------------------------------------------------------------- setup

    def _prefix_text(self) -> str:
        messages = prefix_messages()
        if not getattr(self.tok, "chat_template", None):
            return render_plain(messages) + " "
        try:
            return self.tok.apply_chat_template(messages, tokenize=False,
                                                add_generation_prompt=True)
        except Exception:  # templates without a system role
            merged = [{"role": "user",
                       "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return self.tok.apply_chat_template(merged, tokenize=False,
                                                add_generation_prompt=True)

    def _ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def _vocab_masks(self) -> None:
        """Stop tokens (newline, end of sequence), word tokens, number pieces, activity words."""
        size = int(self.model.get_output_embeddings().weight.shape[0])
        texts = self.tok.batch_decode([[i] for i in range(min(size, len(self.tok)))])
        self.stop = torch.zeros(size, dtype=torch.bool)
        self.word = torch.zeros(size, dtype=torch.bool)
        self.digit_free = torch.ones(size, dtype=torch.bool)  # tokens that write no digit
        self.number_pieces: dict[int, str] = {}  # tokens made of digits and '.' only
        words = {w.lower() for w in self.words}
        self.banned = torch.zeros(size, dtype=torch.bool)
        for i, t in enumerate(texts):
            self.stop[i] = "\n" in t
            self.word[i] = any(c.isalpha() for c in t)
            core = t.strip().removeprefix("##")
            if core and all(c.isdigit() or c == "." for c in core) and t == t.lstrip():
                self.number_pieces[i] = core  # '.' too: it continues a number
            if any(c.isdigit() for c in t):
                self.digit_free[i] = False
            self.banned[i] = core.lower() in words
        eos = self.tok.eos_token_id
        for i in ([eos] if isinstance(eos, int) else list(eos or [])):
            if 0 <= i < size:
                self.stop[i] = True
        self.piece = texts

    # ---------------------------------------------------------------- decoding

    def _forward(self, state: _State, chunks: list[list[int]]) -> torch.Tensor:
        """Feed one chunk per window (left-padded, masked); next-token logits (B, V)."""
        width = max(1, max(len(c) for c in chunks))
        ids = torch.full((len(chunks), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(chunks), width), dtype=torch.long)
        for b, c in enumerate(chunks):
            if c:
                ids[b, width - len(c):] = torch.tensor(c)
                mask[b, width - len(c):] = 1
        pos = (state.next_pos[:, None] + mask.cumsum(1) - 1).clamp(min=0)
        state.mask = torch.cat([state.mask, mask], 1)
        with torch.inference_mode():
            out = self.model(input_ids=ids.to(self.device),
                             attention_mask=state.mask.to(self.device),
                             position_ids=pos.to(self.device), use_cache=True,
                             logits_to_keep=1, **{self._cache_arg: state.cache})
        cache = getattr(out, "past_key_values", None)
        state.cache = cache if cache is not None else getattr(out, "cache", None)
        state.next_pos = state.next_pos + mask.sum(1)
        return out.logits[:, -1, :].float().cpu()

    def warm(self) -> None:
        """Encode the fixed prefix (worked examples) once; every window reuses its cache."""
        if self._prefix_cache is None:
            state = _State(None, torch.zeros((1, 0), dtype=torch.long),
                           torch.zeros(1, dtype=torch.long))
            self._forward(state, [self.prefix_ids])
            self._prefix_cache = state.cache

    def _start(self, batch: int) -> _State:
        self.warm()
        cache = copy.deepcopy(self._prefix_cache)
        if batch > 1:
            cache.batch_repeat_interleave(batch)
        n = len(self.prefix_ids)
        return _State(cache, torch.ones((batch, n), dtype=torch.long),
                      torch.full((batch,), n, dtype=torch.long))

    def _allowed_numbers(self, partial: str, literals: dict[str, list[int]]) -> list[int]:
        """Number pieces that keep ``partial`` + piece a prefix of one of ``literals``."""
        return [i for i, p in self.number_pieces.items()
                if (partial or p[0] != ".") and any(lit.startswith(partial + p)
                                                    for lit in literals)]

    def _choose(self, logits: torch.Tensor, lines: list[list[int]], step: int,
                plans: list[SectionPlan | None], gen: torch.Generator,
                numbers: list[str | None], literals: list[dict[str, list[int]]],
                history: list[set[int]]) -> list[int]:
        """Next token per window: penalised, activity words banned, numbers constrained so
        that every number written is one of the section's listed values."""
        out = []
        for b, row in enumerate(logits):
            plan = plans[b] or SectionPlan()
            scores = row.clone()
            seen = set(lines[b]) | history[b]
            if seen and self.penalty != 1.0:
                ids = torch.tensor(sorted(seen))
                ids = ids[self.word[ids]]
                s = scores[ids]
                scores[ids] = torch.where(s > 0, s / self.penalty, s * self.penalty)
            if not any(self.word[t] for t in lines[b]):  # no empty or number-only lines
                scores[self.stop] = -float("inf")
            scores[self.banned] = -float("inf")
            if plan.banned:
                scores[sorted(plan.banned)] = -float("inf")
            partial = numbers[b]
            keep = torch.zeros_like(self.digit_free)
            keep[self._allowed_numbers(partial or "", literals[b])] = True
            if partial is None or partial in literals[b]:
                keep |= self.digit_free  # outside a number, or at a complete one
            scores[~keep] = -float("inf")
            if not torch.isfinite(scores).any():  # nothing allowed is left: end the line
                scores = torch.where(self.stop, row, torch.full_like(row, -float("inf")))
            if plan.temperature > 0:
                probs = torch.softmax(scores / plan.temperature, -1)
                out.append(int(torch.multinomial(probs, 1, generator=gen)))
            else:
                out.append(int(scores.argmax()))
        return out

    def _literals(self, row: dict[str, float], group: str) -> dict[str, list[int]]:
        """The section's numbers as written in its numbers line -> the tokens of their unit."""
        out: dict[str, list[int]] = {}
        for name, spec in FEATURES.items():
            if spec.group == group and name in row:
                number = cite(row, name, unit=False).lstrip("-\u2212")
                unit = UNIT_TEXT.get(spec.unit, "")
                out.setdefault(number, self._ids(unit) if unit else [])
        return out

    def _lines(self, state: _State, logits: torch.Tensor, plans: list[SectionPlan | None],
               active: list[bool], gen: torch.Generator, literals: list[dict[str, list[int]]],
               history: list[set[int]]) -> list[str]:
        """Complete one line per active window; stop at a newline (not fed back). After a
        complete number its unit is written for the model."""
        lines: list[list[int]] = [[] for _ in active]
        tails = [""] * len(active)
        done = [not a for a in active]
        numbers: list[str | None] = [None] * len(active)
        starts = [0] * len(active)  # where the number being written starts in its line
        for step in range(self.max_line_tokens):
            chosen = self._choose(logits, lines, step, plans, gen, numbers, literals, history)
            feed: list[list[int]] = []
            for b, tok in enumerate(chosen):
                if done[b]:
                    feed.append([])
                    continue
                piece = self.number_pieces.get(tok)
                if piece is not None and any(lit.startswith((numbers[b] or "") + piece)
                                             for lit in literals[b]):
                    if numbers[b] is None:
                        starts[b] = len(lines[b])
                    numbers[b] = (numbers[b] or "") + piece
                    lines[b].append(tok)
                    feed.append([tok])
                    continue
                unit = literals[b].get(numbers[b] or "", []) if numbers[b] is not None else []
                numbers[b] = None
                if self.stop[tok]:
                    done[b] = True
                    tails[b] = self.piece[tok].split("\n")[0] if tok < len(self.piece) else ""
                    feed.append([])
                elif unit:  # the unit of the number just written, instead of the model's token
                    lines[b].extend(unit)
                    feed.append(list(unit))
                else:
                    lines[b].append(tok)
                    feed.append([tok])
            if all(done) or step == self.max_line_tokens - 1:
                break
            logits = self._forward(state, feed)
        for b, partial in enumerate(numbers):  # the line ran out inside a number
            if partial is not None and not done[b]:
                if partial in literals[b]:
                    lines[b].extend(literals[b][partial])
                else:
                    del lines[b][starts[b]:]
        self.tokens_generated += sum(len(x) for x in lines)
        for b, x in enumerate(lines):
            history[b].update(x)
        return [(self.tok.decode(x, skip_special_tokens=True) + t).strip() if a else ""
                for x, t, a in zip(lines, tails, active, strict=True)]

    def run(self, rows: list[dict[str, float]],
            plans: list[list[SectionPlan]] | None = None, attempt: int = 0) -> list[list[str]]:
        """The seven lines (bodies, without headers) of each window, generated together."""
        start = time.perf_counter()
        state = self._start(len(rows))
        gen = torch.Generator().manual_seed(self.seed + 7919 * attempt)
        out: list[list[str]] = [[] for _ in rows]
        history: list[set[int]] = [set() for _ in rows]  # word tokens of earlier lines
        for k, group in enumerate(GROUPS):
            chunk_plans = [p[k] for p in plans] if plans else [None] * len(rows)
            chunks = []
            for b, row in enumerate(rows):
                plan = chunk_plans[b]
                text = (("\n" if k else "") + numbers_line(row, group, plan.note if plan else "")
                        + f"\n{SECTION_TITLES[group]}:")
                if plan is not None and plan.keep is not None:
                    text += " " + plan.keep
                chunks.append(self._ids(text))
            logits = self._forward(state, chunks)
            active = [p is None or p.keep is None for p in chunk_plans]
            literals = [self._literals(row, group) for row in rows]
            lines = self._lines(state, logits, chunk_plans, active, gen, literals, history) \
                if any(active) else [""] * len(rows)
            for b, plan in enumerate(chunk_plans):
                out[b].append(plan.keep if plan is not None and plan.keep is not None
                              else lines[b])
        self.seconds += time.perf_counter() - start
        self.calls += len(rows)
        return out

    # ---------------------------------------------------------------- feedback

    def _banned(self, words: list[str]) -> set[int]:
        banned: set[int] = set()
        for w in words:
            for variant in (w, " " + w, w.capitalize(), " " + w.capitalize()):
                ids = self._ids(variant)
                if ids:
                    banned.add(ids[0])
        return banned

    def retry_plans(self, row: dict[str, float], context: dict,
                    previous: list[str]) -> list[SectionPlan]:
        """Keep the lines that pass on their own; regenerate the others with a usable note."""
        plans = []
        for group, line in zip(GROUPS, previous, strict=True):
            text = f"{SECTION_TITLES[group]}: {line}"
            notes, banned = [], set()
            if len(line.strip()) < 3:
                notes.append("write a short line")
            if check_grounding(text, row, context, self.rel_tol):
                notes.append("copy these numbers exactly, no others")
            leaked = mentions_activity(line, self.words)
            if leaked:
                notes.append("describe the signal only, never the activity")
                banned = self._banned(leaked)
            plans.append(SectionPlan(keep=None if notes else line,
                                     temperature=self.retry_temperature if notes else 0.0,
                                     note="; ".join(notes), banned=banned))
        if all(p.keep is not None for p in plans):  # no line fails alone: sample all again
            plans = [SectionPlan(temperature=self.retry_temperature) for _ in GROUPS]
        return plans


def assemble(lines: list[str]) -> str:
    """The interpretation text: each section's header and its line."""
    return "\n".join(f"{SECTION_TITLES[g]}: {line}" for g, line in zip(GROUPS, lines,
                                                                        strict=True))
