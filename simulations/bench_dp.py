"""``lanhar-fl bench dp``: DP-SGD step time over the non-DP step, per Opacus grad-sample mode.

The configured sensor model (``model``) trains on the configured windows with the phone's
settings (``federation.batch_size``, ``federation.lr``); text embeddings and public negatives are
random vectors of the text encoder's width (only the timing matters). Each step is timed after
warm-up steps; with Poisson sampling (DP) the batch size varies, so times are per expected batch
(seconds per example x batch size).

Baselines: ``nondp_public`` (the same per-example public-negatives loss without Opacus: the price
of DP-SGD itself) and ``nondp_clip`` (the federated default, in-batch CLIP: the whole price of
privacy, loss change included). Settings: ``+bench_steps=N`` timed steps (default 8),
``+bench_warmup=N`` (default 2), ``+bench_threads=N`` torch threads (default 2, a phone's),
``+bench_modes=[hooks,functorch,ghost]``, ``+bench_text_dim=D`` (default: the text encoder's
``hidden_size``, else 384), ``privacy.public_negatives`` (default 64) + 8 prototypes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from lanhar_fl.data.registry import load_windows
from lanhar_fl.models import LanHARModel, count_parameters
from lanhar_fl.privacy.opacus_engine import PhoneDP
from lanhar_fl.privacy.settings import GRAD_SAMPLE_MODES, SampleLevel
from lanhar_fl.training.loops import (
    ClipObjective,
    PublicInfoNCEObjective,
    make_optimizer,
    stage2_loader,
)

PROTOTYPES = 8


def _time_steps(model, optimizer, loader, objective, steps: int, warmup: int,
                batch_size: int) -> float:
    """Seconds per expected batch over ``steps`` steps after ``warmup`` steps."""
    seconds, examples, done = 0.0, 0, 0
    while done < steps + warmup:
        for batch in loader:
            if not len(batch[0]):
                continue
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            objective(model, batch).backward()
            optimizer.step()
            if done >= warmup:
                seconds += time.perf_counter() - start
                examples += len(batch[0])
            done += 1
            if done >= steps + warmup:
                break
    return seconds / max(examples, 1) * batch_size


def _settings(cfg, mode: str) -> SampleLevel:
    base = SampleLevel.from_cfg(cfg) if cfg.get("privacy") and \
        str(cfg.privacy.get("mode")) == "sample_level" else None
    return SampleLevel(target_epsilon=None, noise_multiplier=1.0, delta=None,
                       max_grad_norm=base.max_grad_norm if base else 1.0, accountant="rdp",
                       grad_sample_mode=mode,
                       public_negatives=base.public_negatives if base else 64)


def run(cfg) -> dict:
    steps, warmup = int(cfg.get("bench_steps", 8)), int(cfg.get("bench_warmup", 2))
    threads = int(cfg.get("bench_threads", 2))
    modes: Sequence[str] = list(cfg.get("bench_modes") or GRAD_SAMPLE_MODES)
    torch.set_num_threads(threads)
    fed = cfg.federation
    batch_size, lr, seed = int(fed.batch_size), float(fed.lr), int(cfg.get("seed", 0))
    text_dim = int(cfg.get("bench_text_dim") or cfg.text_encoder.get("hidden_size") or 384)
    windows = load_windows(cfg).data
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(len(windows), text_dim)).astype(np.float32)
    negatives = rng.normal(size=(PROTOTYPES + _settings(cfg, "hooks").public_negatives,
                                 text_dim)).astype(np.float32)
    torch.manual_seed(seed)
    initial = LanHARModel.from_config(cfg.model, text_dim).state_dict()

    def timed(objective, mode: str | None) -> float:
        model = LanHARModel.from_config(cfg.model, text_dim)
        model.load_state_dict(initial)
        loader = stage2_loader(windows, text, batch_size, seed)
        optimizer = make_optimizer(model, lr)
        if mode is not None:
            dp = PhoneDP(_settings(cfg, mode), len(windows), batch_size, 1, 1)
            model, optimizer, loader, objective = dp.privatize(model, optimizer, loader,
                                                               objective)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return _time_steps(model, optimizer, loader, objective, steps, warmup, batch_size)

    clip = timed(ClipObjective(), None)
    public = timed(PublicInfoNCEObjective(negatives), None)
    result = {
        "dataset": str(cfg.dataset.name), "windows": int(len(windows)),
        "window_samples": int(windows.shape[1]), "batch_size": batch_size,
        "model": str(cfg.model.get("name")),
        "model_parameters": count_parameters(LanHARModel.from_config(cfg.model, text_dim)),
        "text_dim": text_dim, "negatives": int(len(negatives)), "torch_threads": threads,
        "steps_timed": steps, "nondp_clip_step_s": round(clip, 4),
        "nondp_public_step_s": round(public, 4), "modes": {},
    }
    for mode in modes:
        dp = timed(PublicInfoNCEObjective(negatives), mode)
        result["modes"][mode] = {"dp_step_s": round(dp, 4),
                                 "ratio_vs_nondp_public": round(dp / public, 2),
                                 "ratio_vs_nondp_clip": round(dp / clip, 2)}
    best = min(result["modes"], key=lambda m: result["modes"][m]["dp_step_s"])
    result["fastest_mode"] = best
    result["fastest_ratio_vs_nondp_public"] = result["modes"][best]["ratio_vs_nondp_public"]
    return result
