"""A federated run's checkpoint after every round, and resuming from it (``resume=RUN_DIR``).

``run_dir/checkpoint/`` is replaced atomically (written beside, then renamed) after each round:

- ``arrays.safetensors``: the global model after the round;
- ``strategy.safetensors``: FedAdam's moments (``m_t/*``, ``v_t/*``) once it has any;
- ``rng.safetensors``: NumPy's global Mersenne state (Flower's DP noise) and torch's CPU state;
- ``state.json``: the round, the server evaluator's rows, each train exchange's summary, the
  phones' aggregated metrics, the client-level DP accountant's ``state_dict`` and adaptive
  clipping norm, the run config, and the state of the generator phones are sampled with.

No pickles: arrays as safetensors, everything else as JSON.

Reproducible sampling: Flower samples phones with ``random.sample`` over ``grid.get_node_ids()``.
The global ``random`` is shared with every thread of the process (Ray's start-up among them), so
here Flower's sampling draws from the run's own generator (seeded by ``seed``) over the node ids
in sorted order. With the same node ids (``simulations/node_ids.py``) the phones sampled,
hence their local seeds (``seed``, ``server_round``, phone index), match an uninterrupted run;
replies are aggregated in node order, so float sums do not depend on arrival order.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, Message, MetricRecord
from flwr.serverapp.strategy import Strategy, strategy_utils
from safetensors.numpy import load_file, save_file

from lanhar_fl.config import ConfigError
from lanhar_fl.federated.grid import DelegatingGrid
from lanhar_fl.run_folder import is_finished

FOLDER = "checkpoint"
# settings that may differ between a stopped run and its resumption
FREE_KEYS = ("rounds", "run_dir", "resume", "overwrite", "verbose")
FREE_FEDERATION_KEYS = ("stop_after_round",)


class InjectedStop(RuntimeError):
    """Raised on purpose (``federation.stop_after_round``) to test resuming a stopped run."""


class Recorded:
    """A train exchange of an earlier process: only its history summary survives."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self._summary = summary

    def summary(self) -> dict[str, Any]:
        return dict(self._summary)


def _chain(strategy: Strategy) -> list[Strategy]:
    """The strategy and the strategies it wraps (DP wrappers keep theirs in ``.strategy``)."""
    out = [strategy]
    while isinstance(getattr(out[-1], "strategy", None), Strategy):
        out.append(out[-1].strategy)
    return out


def _strategy_state(strategy: Strategy) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    state: dict[str, Any] = {}
    for level, s in enumerate(_chain(strategy)):
        for moment in ("m_t", "v_t"):
            for key, value in (getattr(s, moment, None) or {}).items():
                arrays[f"{level}/{moment}/{key}"] = np.ascontiguousarray(value)
        if getattr(s, "accountant", None) is not None:
            state[f"{level}/accountant"] = s.accountant.state_dict()
        if hasattr(s, "target_clipped_quantile"):  # adaptive clipping moves its norm
            state[f"{level}/clipping_norm"] = float(s.clipping_norm)
    return arrays, state


def _restore_strategy(strategy: Strategy, arrays: dict[str, np.ndarray],
                      state: dict[str, Any]) -> None:
    for level, s in enumerate(_chain(strategy)):
        for moment in ("m_t", "v_t"):
            prefix = f"{level}/{moment}/"
            saved = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if saved:
                setattr(s, moment, saved)
        if f"{level}/accountant" in state:
            s.accountant.load_state_dict(state[f"{level}/accountant"])
        if f"{level}/clipping_norm" in state:
            s.clipping_norm = float(state[f"{level}/clipping_norm"])


def save(run_dir: Path, server_round: int, arrays: ArrayRecord, strategy: Strategy,
         sampler: random.Random, state: dict[str, Any]) -> None:
    """Write the checkpoint after ``server_round`` (``state``: the JSON part of the run)."""
    final = run_dir / FOLDER
    tmp = run_dir / f".{FOLDER}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: np.ascontiguousarray(v.numpy()) for k, v in arrays.items()},
              str(tmp / "arrays.safetensors"))
    moments, strategy_state = _strategy_state(strategy)
    save_file(moments, str(tmp / "strategy.safetensors"))
    mt = np.random.get_state()
    save_file({"numpy_keys": np.asarray(mt[1], np.uint32),
               "torch": torch.get_rng_state().numpy()}, str(tmp / "rng.safetensors"))
    py_version, py_state, py_gauss = sampler.getstate()
    doc = {"round": int(server_round), **state, "strategy": strategy_state,
           "random": [py_version, list(py_state), py_gauss],
           "numpy_random": [mt[0], int(mt[2]), int(mt[3]), float(mt[4])]}
    (tmp / "state.json").write_text(json.dumps(doc, default=float) + "\n")
    old = run_dir / f".{FOLDER}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


class Checkpoint:
    """A saved checkpoint, read back: ``state`` (the JSON), the arrays, strategy and RNG."""

    def __init__(self, folder: Path) -> None:
        try:
            self.state: dict[str, Any] = json.loads((folder / "state.json").read_text())
            self.arrays = load_file(str(folder / "arrays.safetensors"))
            self._moments = load_file(str(folder / "strategy.safetensors"))
            self._rng = load_file(str(folder / "rng.safetensors"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"resume={folder.parent}: unreadable checkpoint ({exc})") from exc
        self.round = int(self.state["round"])

    @property
    def array_record(self) -> ArrayRecord:
        return ArrayRecord({k: Array(v) for k, v in self.arrays.items()})

    def restore(self, strategy: Strategy, sampler: random.Random) -> None:
        """Put the strategy state and the random generators back as they were."""
        _restore_strategy(strategy, self._moments, self.state.get("strategy", {}))
        version, keys, gauss = self.state["random"]
        sampler.setstate((version, tuple(keys), gauss))
        name, pos, has_gauss, cached = self.state["numpy_random"]
        np.random.set_state((name, self._rng["numpy_keys"], pos, has_gauss, cached))
        torch.set_rng_state(torch.from_numpy(self._rng["torch"].copy()))


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in config.items() if k not in FREE_KEYS}
    if isinstance(out.get("federation"), dict):
        out["federation"] = {k: v for k, v in out["federation"].items()
                             if k not in FREE_FEDERATION_KEYS}
    return out


def open_resume(resume: str | os.PathLike, config: dict[str, Any], rounds: int) -> Checkpoint:
    """The checkpoint of the stopped run in ``resume``; ``ConfigError`` when there is none, the
    run finished, its settings differ from this run's or it already has ``rounds`` rounds."""
    folder = Path(resume).expanduser()
    if not (folder / FOLDER / "state.json").is_file():
        raise ConfigError(f"resume={resume}: no checkpoint there (a stopped `lanhar-fl "
                          f"simulate` run folder holds {FOLDER}/state.json)")
    if is_finished(folder):
        raise ConfigError(f"resume={resume}: that run finished; nothing to resume")
    ckpt = Checkpoint(folder / FOLDER)
    saved, now = _comparable(ckpt.state.get("config", {})), _comparable(config)
    differ = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if differ:
        raise ConfigError(f"resume={resume}: the stopped run had other settings for "
                          f"{', '.join(differ)}; resume with the same settings")
    if ckpt.round >= rounds:
        raise ConfigError(f"resume={resume}: the stopped run completed round {ckpt.round}, "
                          f"rounds={rounds} leaves nothing to do")
    return ckpt


class Resumed(Strategy):
    """``inner`` with rounds numbered from ``offset + 1`` (Flower's loop counts from 1), and
    each round's replies aggregated in node-id order, so sums do not depend on arrival order."""

    def __init__(self, inner: Strategy, offset: int = 0, seed: int = 0) -> None:
        self.inner, self.offset = inner, offset
        self.sampler = random.Random(seed)  # Flower's phone sampling draws from this alone
        self.train_metrics: dict[int, MetricRecord] = {}  # aggregated phone metrics by round

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "offset", "sampler", "train_metrics"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def summary(self) -> None:
        self.inner.summary()

    def configure_train(self, server_round: int, arrays: ArrayRecord, config, grid):
        with self._sampling():
            return self.inner.configure_train(server_round + self.offset, arrays, config,
                                              SortedNodes(grid))

    def aggregate_train(self, server_round: int, replies: Iterable[Message]):
        arrays, metrics = self.inner.aggregate_train(server_round + self.offset,
                                                     _ordered(replies))
        if metrics is not None:
            self.train_metrics[server_round + self.offset] = metrics
        return arrays, metrics

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config, grid):
        with self._sampling():
            return self.inner.configure_evaluate(server_round + self.offset, arrays, config,
                                                 SortedNodes(grid))

    @contextmanager
    def _sampling(self) -> Iterator[None]:
        """Flower's ``sample_nodes`` calls ``random.sample`` from its module: our generator."""
        shared = strategy_utils.random
        strategy_utils.random = self.sampler
        try:
            yield
        finally:
            strategy_utils.random = shared

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]):
        return self.inner.aggregate_evaluate(server_round + self.offset, _ordered(replies))

    def evaluate_fn(self, fn: Callable[[int, ArrayRecord], MetricRecord | None]):
        """``fn`` on the shifted round numbers; the initial evaluation is skipped on resume."""

        def shifted(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
            if self.offset and not server_round:
                return None
            return fn(server_round + self.offset, arrays)

        return shifted


class SortedNodes(DelegatingGrid):
    """The grid, listing its node ids in sorted order (sampling does not depend on set order)."""

    def get_node_ids(self) -> list[int]:
        return sorted(self._grid.get_node_ids())


def _ordered(replies: Iterable[Message]) -> list[Message]:
    return sorted(replies, key=lambda m: m.metadata.src_node_id)


class RoundKeeper:
    """Checkpoints a run after every round, and puts a resumed run back where it stopped.

    Used by the Message-API path of ``server/federation.py``: ``wrap`` the strategy, ``restore``
    the server's records, take ``initial`` arrays, call ``after_round`` from ``evaluate_fn``.
    """

    def __init__(self, cfg, config: dict[str, Any]) -> None:
        self.cfg, self.config = cfg, config
        self.run_dir = Path(str(cfg.run_dir)).expanduser()
        resume = cfg.get("resume")
        self.checkpoint = open_resume(resume, config, int(cfg.rounds)) if resume else None
        self.offset = self.checkpoint.round if self.checkpoint else 0
        self.prior = [Recorded(s) for s in self.checkpoint.state["exchanges"]] \
            if self.checkpoint else []
        self.strategy: Resumed | None = None

    def wrap(self, strategy: Strategy) -> Resumed:
        # named after the wrapped strategy: Flower's log says "Starting <class name> strategy"
        named = type(type(strategy).__name__, (Resumed,), {})
        self.strategy = named(strategy, self.offset, int(self.cfg.seed))
        return self.strategy

    def restore(self, history: list[dict], round_privacy: dict[int, tuple[float, float]]) -> None:
        """Earlier rounds' records into the server's, and the strategy and RNG state back."""
        if self.checkpoint is None:
            return
        state = self.checkpoint.state
        history[:] = [dict(row) for row in state["evaluator"]]
        round_privacy.update({int(r): (float(e), float(d))
                              for r, (e, d) in state["round_privacy"].items()})
        self.strategy.train_metrics.update({int(r): MetricRecord(m)
                                            for r, m in state["train_metrics"].items()})
        self.checkpoint.restore(self.strategy.inner, self.strategy.sampler)

    def initial(self, arrays: ArrayRecord) -> ArrayRecord:
        return self.checkpoint.array_record if self.checkpoint else arrays

    def rounds_left(self) -> int:
        return int(self.cfg.rounds) - self.offset

    def after_round(self, server_round: int, arrays: ArrayRecord, history: list[dict],
                    exchanges: list, round_privacy: dict[int, tuple[float, float]]) -> None:
        """Checkpoint this round; stop here when ``federation.stop_after_round`` says so."""
        state = {"config": self.config, "evaluator": history,
                 "exchanges": [e.summary() for e in exchanges],
                 "train_metrics": {str(r): dict(m) for r, m in
                                   self.strategy.train_metrics.items()},
                 "round_privacy": {str(r): list(v) for r, v in round_privacy.items()}}
        save(self.run_dir, server_round, arrays, self.strategy.inner, self.strategy.sampler,
             state)
        stop = self.cfg.federation.get("stop_after_round")
        if stop is not None and server_round == int(stop) < int(self.cfg.rounds):
            raise InjectedStop(f"stopped after round {server_round} "
                               "(federation.stop_after_round)")
