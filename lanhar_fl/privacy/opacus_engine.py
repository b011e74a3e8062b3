"""Sample-level DP-SGD on a phone with Opacus: Poisson sampling, per-example clipping, Gaussian
noise, and an accountant (RDP or PRV) whose history survives across rounds.

``PhoneDP`` is built once per round from the phone's state; its ``privatize`` is the hook of
``lanhar_fl.training.local.local_train`` (use it with ``loss="dp_public"``: per-example loss with
public negatives, so that clipping bounds each window's influence).

Budget: with ``target_epsilon`` the noise multiplier is chosen once for the whole run, assuming
the phone trains in every one of ``rounds`` rounds (``local_epochs`` epochs each): the cumulative
epsilon then stays within the target however often the phone is sampled. A phone whose next
round would take it past the target trains no more (``exhausted``).

Grad-sample modes: ``hooks`` (per-example gradients from module hooks), ``functorch`` (vmap) and
``ghost`` (ghost clipping: per-example norms without per-example gradients, two backward passes).
Ghost mode wraps our objective as it is: objectives take ``(model, batch)`` and expose
``reduction``, which is all Opacus' ``DPLossFastGradientClipping`` needs. All three give the same
clipped gradient (tests/privacy). On CPU, ``hooks`` is the fastest for LanHAR's encoder and is
the default: ghost norms of a Linear over a window cost T^2 (d_in + d_out) per example against
T d_in d_out for the materialised gradient, and with T = 128 samples per window and d = 128 the
Gram matrices are the larger; ghost also runs a second backward pass. Measured with
``lanhar-fl bench dp`` (2 threads), DP step / non-DP step with the same loss: small model
hooks 1.30, functorch 1.85, ghost 1.99; smoke model 1.45, 2.24, 4.15.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING

from torch import nn

from .accountant_state import History, load_history, save_history
from .settings import SampleLevel

if TYPE_CHECKING:
    from flwr.app import RecordDict

# Opacus' hooks fire on the first layer, whose input (the windows) needs no gradient: harmless.
warnings.filterwarnings("ignore", message="Full backward hook is firing")


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Opacus' Poisson loader takes ``len(loader)`` steps per epoch at rate 1/len(loader)."""
    return max(1, math.ceil(n_examples / batch_size))


def noise_for_budget(settings: SampleLevel, n_examples: int, batch_size: int, epochs: int,
                     rounds: int, delta: float) -> float:
    """The noise multiplier: configured, or the smallest meeting ``target_epsilon`` after
    ``rounds * epochs`` epochs of Poisson-sampled steps."""
    if settings.target_epsilon is None:
        return float(settings.noise_multiplier)
    per_epoch = steps_per_epoch(n_examples, batch_size)
    return _noise_for(settings.target_epsilon, delta, 1.0 / per_epoch,
                      max(1, rounds * epochs * per_epoch), settings.accountant)


@functools.lru_cache(maxsize=64)
def _noise_for(target_epsilon: float, delta: float, sample_rate: float, steps: int,
               accountant: str) -> float:
    """Opacus' search for the noise multiplier (seconds per call: cached per process)."""
    from opacus.accountants.utils import get_noise_multiplier

    return float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta,
                                      sample_rate=sample_rate, steps=steps,
                                      accountant=accountant))


def epsilon_of(history: History, mechanism: str, delta: float) -> float:
    """Cumulative epsilon of an accountant history (0 before any step)."""
    if not history:
        return 0.0
    from opacus.accountants import create_accountant

    accountant = create_accountant(mechanism=mechanism)
    accountant.history = list(history)
    return float(accountant.get_epsilon(delta=delta))


class PhoneDP:
    """One phone's DP-SGD for one round; ``save`` writes the grown history back to ``state``."""

    def __init__(self, settings: SampleLevel, n_examples: int, batch_size: int, epochs: int,
                 rounds: int, state: RecordDict | None = None) -> None:
        if n_examples <= 0:
            raise ValueError("DP-SGD needs at least one training example")
        self.settings = settings
        self.state = state
        self.delta = settings.delta if settings.delta is not None else 1.0 / n_examples
        self.noise_multiplier = noise_for_budget(settings, n_examples, batch_size, epochs,
                                                 rounds, self.delta)
        per_epoch = steps_per_epoch(n_examples, batch_size)
        self.round_steps = (self.noise_multiplier, 1.0 / per_epoch, max(1, epochs) * per_epoch)
        self.history: History = load_history(state, settings.accountant)
        self._engine = None

    @property
    def epsilon(self) -> float:
        """Cumulative epsilon over every round this phone trained in, this one included."""
        history = self._engine.accountant.history if self._engine is not None else self.history
        return epsilon_of(history, self.settings.accountant, self.delta)

    @property
    def exhausted(self) -> bool:
        """True when training this round would take the cumulative epsilon past the target."""
        target = self.settings.target_epsilon
        if target is None:
            return False
        after = epsilon_of([*self.history, self.round_steps], self.settings.accountant,
                           self.delta)
        return after > target

    def privatize(self, model: nn.Module, optimizer, loader, objective) -> tuple:
        """``local_train``'s hook: Opacus' ``make_private`` with Poisson sampling."""
        from opacus import PrivacyEngine

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Secure RNG turned off")
            engine = PrivacyEngine(accountant=self.settings.accountant)
        engine.accountant.history = list(self.history)
        self._engine = engine
        mode = self.settings.grad_sample_mode
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ff]ull backward hook.*")
            out = engine.make_private(module=model, optimizer=optimizer, data_loader=loader,
                                      criterion=objective, noise_multiplier=self.noise_multiplier,
                                      max_grad_norm=self.settings.max_grad_norm,
                                      poisson_sampling=True, grad_sample_mode=mode)
        if mode == "ghost":
            wrapped, dp_optimizer, dp_criterion, dp_loader = out
            return wrapped, dp_optimizer, dp_loader, dp_criterion
        wrapped, dp_optimizer, dp_loader = out
        return wrapped, dp_optimizer, dp_loader, objective

    def save(self) -> None:
        """Keep the accountant history (every step taken so far) in the phone's state."""
        if self._engine is not None:
            self.history = list(self._engine.accountant.history)
        save_history(self.state, self.settings.accountant, self.history)


