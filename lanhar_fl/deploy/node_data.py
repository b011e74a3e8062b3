"""Local datasets for SuperNodes: one folder per phone, in the UCI HAPT ``RawData`` layout.

A deployed phone reads its own files (node config ``data-path=<folder> dataset="uci_hapt"``).
On one machine (demo, integration test) the phones need folders of their own; this writes them:

- ``synthetic``: each node gets one synthetic phone (``lanhar_fl.data.synthetic``) recorded the
  way HAPT was: waist, 50 Hz, total acceleration in g, gyroscope in rad/s, HAPT's six
  activities, ``labels.txt`` rows ``exp user activity start end`` (0-based, inclusive). Phones
  are drawn with their own seed (default 1000), so they are people the server's synthetic
  evaluation phones (``dataset.seed``, default 0) are not.
- ``--from-hapt RawData``: the real HAPT recordings split by user, users dealt round-robin to
  the nodes (each node's ``labels.txt`` holds only its own experiments).

``python -m lanhar_fl.deploy.node_data OUT --nodes 3 [--minutes 2] [--seed 1000]
[--from-hapt DIR]`` writes ``OUT/node_<i>/RawData/`` and prints one JSON object
(``{"nodes": [folder, ...]}``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.recording import UNLABELLED, Recording
from ..data.synthetic import generate_phones

# HAPT activity ids (activity_labels.txt of the release); transitions 7-12 are not generated.
HAPT_IDS = {"walk": 1, "upstairs": 2, "downstairs": 3, "sit": 4, "stand": 5, "lie": 6}
HAPT_SIGNAL = re.compile(r"^(acc|gyro)_exp(\d+)_user(\d+)\.txt(\.gz)?$")
DEFAULT_SEED = 1000


def node_folder(out: Path, i: int) -> Path:
    """The data folder of node ``i`` (1-based): what its ``data-path`` names."""
    return out / f"node_{i}"


def hapt_phones(nodes: int, minutes: float = 2.0, seed: int = DEFAULT_SEED) -> list[Recording]:
    """``nodes`` synthetic phones as HAPT recorded: waist, 50 Hz, g and rad/s, six activities."""
    return generate_phones(num_phones=nodes, minutes_per_phone=minutes, seed=seed,
                           rates_hz=(50.0,), placements=("waist",), activities=tuple(HAPT_IDS),
                           acc_only_fraction=0.0, gravity_removed_fraction=0.0,
                           g_unit_fraction=1.0, deg_unit_fraction=0.0)


def _segments(rec: Recording) -> list[tuple[int, int, int]]:
    """(HAPT activity id, first sample, last sample) of each labelled run of ``rec``."""
    labels = rec.labels
    edges = np.flatnonzero(np.diff(labels)) + 1
    rows = []
    for start, end in zip(np.r_[0, edges], np.r_[edges, len(labels)], strict=True):
        code = int(labels[start])
        if code != UNLABELLED:
            rows.append((HAPT_IDS[rec.label_names[code]], int(start), int(end) - 1))
    return rows


def _matrix(arr: np.ndarray) -> str:
    return "".join(f"{a:.6e} {b:.6e} {c:.6e}\n" for a, b, c in np.asarray(arr, np.float64))


def write_hapt_recording(raw: Path, rec: Recording, exp: int, user: int) -> None:
    """``rec`` as experiment ``exp`` of ``user`` in the HAPT RawData folder ``raw``."""
    if rec.rate_hz != 50.0 or rec.acc_unit != "g" or rec.gyro is None or rec.gyro_unit != "rad/s":
        raise ValueError("HAPT layout needs 50 Hz, acc in g and gyro in rad/s")
    raw.mkdir(parents=True, exist_ok=True)
    (raw / f"acc_exp{exp:02d}_user{user:02d}.txt").write_text(_matrix(rec.acc))
    (raw / f"gyro_exp{exp:02d}_user{user:02d}.txt").write_text(_matrix(rec.gyro))
    with (raw / "labels.txt").open("a") as f:
        f.writelines(f"{exp} {user} {act} {a} {b}\n" for act, a, b in _segments(rec))


def write_synthetic_nodes(out: str | Path, nodes: int, minutes: float = 2.0,
                          seed: int = DEFAULT_SEED) -> list[Path]:
    """One synthetic phone per node in ``out/node_<i>/RawData``; the node folders."""
    out = Path(out).expanduser()
    folders = []
    for i, rec in enumerate(hapt_phones(nodes, minutes, seed), start=1):
        folder = node_folder(out, i)
        _fresh(folder)
        write_hapt_recording(folder / "RawData", rec, exp=i, user=i)
        folders.append(folder)
    return folders


def split_hapt(source: str | Path, out: str | Path, nodes: int) -> list[Path]:
    """The HAPT RawData at ``source`` split by user: users dealt round-robin to ``nodes``."""
    source, out = Path(source).expanduser(), Path(out).expanduser()
    raw = source / "RawData" if (source / "RawData").is_dir() else source
    labels = raw / "labels.txt"
    if not labels.is_file():
        raise FileNotFoundError(f"{labels}: not a HAPT RawData folder")
    users = sorted({int(m.group(3)) for p in raw.iterdir() if (m := HAPT_SIGNAL.match(p.name))})
    if len(users) < nodes:
        raise ValueError(f"{raw} has {len(users)} users, fewer than {nodes} nodes")
    owner = {u: k % nodes + 1 for k, u in enumerate(users)}
    folders = [node_folder(out, i) for i in range(1, nodes + 1)]
    for folder in folders:
        _fresh(folder)
        (folder / "RawData").mkdir(parents=True)
    for path in sorted(raw.iterdir()):
        if m := HAPT_SIGNAL.match(path.name):
            shutil.copyfile(path, folders[owner[int(m.group(3))] - 1] / "RawData" / path.name)
    for line in labels.read_text().splitlines():
        fields = line.split()
        if len(fields) == 5 and int(fields[1]) in owner:
            with (folders[owner[int(fields[1])] - 1] / "RawData" / "labels.txt").open("a") as f:
                f.write(line.strip() + "\n")
    return folders


def _fresh(folder: Path) -> None:
    """Start ``folder`` empty (only ever a folder this module wrote: ``node_<i>``)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lanhar_fl.deploy.node_data",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for node_<i>/RawData")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="synthetic: minutes of recording per phone")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="synthetic: phone seed")
    parser.add_argument("--from-hapt", metavar="DIR", default=None,
                        help="split this HAPT RawData folder by user instead")
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be >= 1")
    if args.from_hapt:
        folders = split_hapt(args.from_hapt, args.out, args.nodes)
    else:
        folders = write_synthetic_nodes(args.out, args.nodes, args.minutes, args.seed)
    print(json.dumps({"nodes": [str(f) for f in folders]}))


if __name__ == "__main__":
    main()
