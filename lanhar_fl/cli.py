"""The ``lanhar-fl`` command: subcommands configured by Hydra ``key=value`` overrides."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from . import logs
from .config import ConfigError, load_config
from .config_checks import validate
from .data.errors import DataError
from .processes import exit_if_threads_linger
from .run_folder import RunFolder, last_round

# subcommand words -> "module:function" under lanhar_fl.commands; each function takes the
# composed config and returns an exit code.
COMMANDS: dict[tuple[str, ...], str] = {
    ("data", "summary"): "data:summary",
    ("data", "compare"): "data:compare",
    ("interpret",): "interpret:interpret",
    ("train",): "train:train",
    ("simulate",): "simulate:simulate",
    ("privacy-sweep",): "privacy_sweep:privacy_sweep",
    ("certs",): "certs:certs",
    ("export",): "export:export",
    ("bench",): "bench:bench",
}
# commands whose results go to `run_dir` (through a partial folder, see run_folder.py)
WRITES_RUN_DIR = {"train", "simulate", "privacy-sweep", "bench"}

USAGE = """usage: lanhar-fl COMMAND [key=value ...]

commands:
  data summary     load and window a dataset; print a JSON summary
  data compare     per class and feature, KS shift vs +compare.dataset=NAME (JSON + plot)
  interpret        print the semantic interpretation of window `index`
  train            centralized two-stage LanHAR training and evaluation
  simulate         federated stage 2 over many simulated phones (Flower Simulation Engine)
  privacy-sweep    run `simulate` across privacy settings
  certs            CA, SuperLink TLS certificate and SuperNode keys (out=DIR)
  export           on-device sensor encoder + label bank (checkpoint=PATH format=onnx|torchscript)
  bench NAME       run a benchmark from simulations/

Configuration is Hydra overrides, e.g. `dataset=uci_hapt dataset.root=DIR preset=smoke seed=1`.
`lanhar-fl COMMAND --cfg` prints the composed configuration and exits.
"""


def _resolve(argv: list[str]) -> tuple[Callable, list[str], list[str]]:
    for words, target in sorted(COMMANDS.items(), key=lambda kv: -len(kv[0])):
        if tuple(argv[: len(words)]) == words:
            module_name, func_name = target.split(":")
            try:
                module = importlib.import_module(f"lanhar_fl.commands.{module_name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"lanhar_fl.commands.{module_name}":
                    raise SystemExit(f"lanhar-fl: `{' '.join(words)}` is not available yet "
                                     "in this version") from exc
                raise
            return getattr(module, func_name), list(words), argv[len(words):]
    raise SystemExit(f"lanhar-fl: unknown command {' '.join(argv[:2]) or '(none)'}\n\n{USAGE}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    func, words, rest = _resolve(argv)
    show_cfg = "--cfg" in rest
    rest = [a for a in rest if a != "--cfg"]
    if words == ["bench"]:
        if not rest or "=" in rest[0]:
            raise SystemExit("lanhar-fl bench: name a benchmark, e.g. `lanhar-fl bench interpret`")
        rest = [f"+bench_name={rest[0]}", *rest[1:]]
    bad = [a for a in rest if "=" not in a]
    if bad:
        raise SystemExit(f"lanhar-fl: expected key=value overrides, got {bad}")
    try:
        cfg = load_config(rest)
        validate(cfg)
        logs.configure(verbose=bool(cfg.get("verbose", False)))
        if show_cfg:
            from .config import to_yaml

            print(to_yaml(cfg))
            return 0
        if words[0] not in WRITES_RUN_DIR:
            return int(func(cfg) or 0)
        if words == ["bench"]:  # a misspelt name is the error, not an occupied run_dir
            from .commands.bench import check_name

            check_name(cfg)
        return _run_in_folder(func, cfg)
    except (ConfigError, DataError) as exc:
        kept = getattr(exc, "partial_results", None)
        print(f"lanhar-fl: error: {exc}" + (f" (partial results in {kept})" if kept else ""),
              file=sys.stderr)
        return 2


def _run_in_folder(func: Callable, cfg) -> int:
    """Run ``func`` writing into a partial folder; move it into place when it succeeds, else
    mark it incomplete and say where it is."""
    folder = RunFolder.open(str(cfg.run_dir), overwrite=bool(cfg.get("overwrite", False)))
    cfg.run_dir = str(folder.partial)
    try:
        code = int(func(cfg) or 0)
    except KeyboardInterrupt:
        done = last_round(folder.partial)
        kept = folder.abandon("interrupted (SIGINT)")
        after = f" after round {done}" if done is not None else ""
        print(f"lanhar-fl: interrupted{after}; " +
              (f"partial results in {kept}" if kept else "nothing was written"),
              file=sys.stderr, flush=True)
        exit_if_threads_linger(130)
        return 130
    except BaseException as exc:
        kept = folder.abandon(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, ConfigError | DataError):
            exc.partial_results = kept
        elif kept:
            print(f"lanhar-fl: run failed; partial results in {kept}", file=sys.stderr)
        raise
    if code:
        folder.abandon(f"exit code {code}")
        return code
    folder.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
