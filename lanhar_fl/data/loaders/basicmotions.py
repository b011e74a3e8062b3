"""UEA BasicMotions: ``BasicMotions_TRAIN.ts`` / ``BasicMotions_TEST.ts`` (sktime/aeon format).

A smartwatch, 10 Hz, 10 s per case; dimensions 1-3 are the accelerometer (linear acceleration,
no gravity; taken as m/s^2, see the data's SOURCE.md), 4-6 the gyroscope (rad/s). The files hold
no subject ids, so each case is its own Recording and its own subject (1..80, TRAIN first).
With ``dataset.root`` null the copy shipped inside an installed ``aeon`` or ``sktime`` is used.
A case whose length differs from ``@seriesLength`` (or, under ``@equalLength true``, from the
first case) is a DataError naming its line: a short case is not padded or counted, it is refused.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ..errors import DataError
from ..recording import Recording
from ._text import LabelMap, read_text, require_file, to_floats

RATE_HZ = 10.0
PROBLEM = "BasicMotions"
DIMENSIONS = 6  # acc xyz, gyro xyz
PACKAGE_DATA = {"aeon": "datasets/data", "sktime": "datasets/data"}


def data_folder(root: Path | None) -> Path:
    """The folder with the .ts files: ``root`` or ``root/BasicMotions``, else aeon's/sktime's."""
    if root is None:
        for package, sub in PACKAGE_DATA.items():
            spec = importlib.util.find_spec(package)
            if spec and spec.submodule_search_locations:
                folder = Path(next(iter(spec.submodule_search_locations))) / sub / PROBLEM
                if (folder / f"{PROBLEM}_TRAIN.ts").is_file():
                    return folder
        raise DataError("no dataset folder given and neither aeon nor sktime (which ship "
                        f"{PROBLEM}) is installed: set dataset.root=DIR (the folder holding "
                        f"{PROBLEM}_TRAIN.ts)")
    nested = root / PROBLEM
    return nested if (nested / f"{PROBLEM}_TRAIN.ts").is_file() else root


def load(root: Path | None, cfg: DictConfig) -> list[Recording]:
    folder = data_folder(root)
    labels = LabelMap(cfg.get("labels"))
    recordings: list[Recording] = []
    for split in cfg.get("splits") or ("TRAIN", "TEST"):
        path = require_file(folder, f"{PROBLEM}_{split}.ts")
        for line, series, label in parse_ts(path):
            code = labels.code(label, path, line)
            recordings.append(Recording(
                acc=series[:, :3], gyro=series[:, 3:6], labels=np.full(len(series), code),
                label_names=labels.names, subject=len(recordings) + 1, rate_hz=RATE_HZ,
                acc_unit="m/s^2", gyro_unit="rad/s", gravity_included=False, placement="wrist",
                device="smartwatch", source=f"{path}, line {line}"))
    return recordings


def parse_ts(path: Path) -> list[tuple[int, np.ndarray, str]]:
    """Cases of a .ts file as ``(line, series (length, dimensions), class label)``."""
    header: dict[str, list[str]] = {}
    cases = []
    in_data = False
    for n, raw in enumerate(read_text(path).splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"expected a @keyword header line, found {line[:40]!r}", path, n)
            key, *values = line[1:].split()
            header[key.casefold()] = values
            in_data = key.casefold() == "data"
            _check_header(path, n, header)
            continue
        cases.append((n, *_case(path, n, line, header)))
        _check_length(path, n, header, len(cases[-1][1]), len(cases[0][1]), cases[0][0])
    if not in_data:
        raise DataError("no @data line", path)
    if not cases:
        raise DataError("no cases after @data", path)
    return cases


def _check_header(path: Path, line: int, header: dict[str, list[str]]) -> None:
    if header.get("timestamps", ["false"])[0].casefold() == "true":
        raise DataError("@timeStamps true is not supported", path, line)
    if header.get("classlabel", ["true"])[0].casefold() == "false":
        raise DataError("@classLabel false: the cases have no labels", path, line)
    if header.get("dimensions", [str(DIMENSIONS)])[0] != str(DIMENSIONS):
        raise DataError(f"@dimensions must be {DIMENSIONS} (acc xyz, gyro xyz)", path, line)


def _check_length(path: Path, line: int, header: dict[str, list[str]], length: int,
                  first: int, first_line: int) -> None:
    """A DataError when a case's length is not the one the header promises."""
    declared = header.get("serieslength", [])
    if declared:
        try:
            expected = int(declared[0])
        except ValueError:
            raise DataError(f"@seriesLength {declared[0]!r} is not a whole number", path) from None
        if length != expected:
            raise DataError(f"case has {length} samples per dimension but @seriesLength says "
                            f"{expected}", path, line)
    equal = header.get("equallength", ["false"])[0].casefold() == "true"
    if equal and length != first:
        raise DataError(f"case has {length} samples per dimension but the first case (line "
                        f"{first_line}) has {first}, and @equalLength is true", path, line)


def _case(path: Path, n: int, line: str, header: dict[str, list[str]]):
    *dims, label = line.split(":")
    if len(dims) != DIMENSIONS:
        raise DataError(f"expected {DIMENSIONS} dimensions (':'-separated) and a class label, "
                        f"found {len(dims)} dimensions", path, n)
    series = [to_floats(["nan" if f.strip() == "?" else f for f in values.split(",")], path,
                        f"dimension {d}", n) for d, values in enumerate(dims, 1)]
    lengths = {len(s) for s in series}
    if len(lengths) != 1:
        raise DataError(f"dimensions have different lengths {sorted(lengths)}", path, n)
    classes = header.get("classlabel", ["true"])[1:]
    label = label.strip()
    if classes and label not in classes:
        raise DataError(f"class label {label!r} is not declared in @classLabel "
                        f"({' '.join(classes)})", path, n)
    return np.column_stack(series), label

