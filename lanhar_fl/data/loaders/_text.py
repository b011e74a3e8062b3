"""Parsing helpers shared by the dataset loaders.

Text files (plain or gzip) become numeric columns and categorical text columns; every failure is a
``DataError`` naming the file and, where there is one, the line. Also: dataset label mapping
(``dataset.labels``), folder/file lookup and splitting timestamped streams at gaps.
"""

from __future__ import annotations

import gzip
import io
import itertools
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..recording import UNLABELLED

CHUNK_ROWS = 500_000  # rows parsed at a time: bounds memory on the 1 GB HHAR files
CHUNK_CHARS = 32 << 20


# ---------------------------------------------------------------- files and folders


def require_root(root: Path | None, what: str) -> Path:
    """``root`` itself, or a DataError asking for ``dataset.root`` (``what`` says what it holds)."""
    if root is None:
        raise DataError(f"no dataset folder given: set dataset.root=DIR ({what})")
    if not root.exists():
        raise DataError(f"dataset folder does not exist (setting dataset.root): {what}", root)
    return root


def find_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` or its gzip-compressed twin ``folder/name.gz``, whichever exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def require_file(folder: Path, name: str) -> Path:
    """Like :func:`find_file`, but a missing file is a DataError naming the expected path."""
    path = find_file(folder, name)
    if path is None:
        raise DataError(f"required file is missing (also looked for {name}.gz)", folder / name)
    return path


def open_text(path: Path) -> io.TextIOBase:
    """A text stream over a plain or ``.gz`` file (UTF-8, BOM dropped, bad bytes replaced so that
    they surface as non-numeric values on their line)."""
    try:
        raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise DataError(f"cannot open file ({exc.strerror or exc})", path) from exc
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)


@contextmanager
def _io_errors(path: Path) -> Iterator[None]:
    """Turns I/O and decompression failures while reading ``path`` into DataError."""
    try:
        yield
    except (EOFError, zlib.error, OSError) as exc:
        raise DataError(f"cannot read file, it looks truncated or damaged ({exc})", path) from exc


def read_text(path: Path) -> str:
    """The whole file as text; a truncated or damaged gzip stream is a DataError."""
    with open_text(path) as f, _io_errors(path):
        return f.read()


# ---------------------------------------------------------------- rows -> columns


@dataclass
class Column:
    """A categorical text column: ``codes[i]`` indexes ``values`` (stripped strings)."""

    codes: np.ndarray
    values: list[str]


@dataclass
class Table:
    """Parsed rows: float columns, categorical text columns, and each row's 1-based file line."""

    path: Path
    header: list[str]
    num: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, Column] = field(default_factory=dict)
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    skipped: int = 0  # rows left out as unparseable (only with skip_bad)

    def __len__(self) -> int:
        return len(self.lines)

    def stack(self, names: Sequence[str]) -> np.ndarray:
        """Numeric columns ``names`` side by side, (rows, len(names))."""
        return np.column_stack([self.num[n] for n in names]) if names else \
            np.zeros((len(self), 0))

    def first_line(self, name: str, code: int) -> int:
        """File line of the first row whose text column ``name`` has code ``code``."""
        return int(self.lines[int(np.argmax(self.text[name].codes == code))])


def to_floats(values: Sequence[str], path: Path, name: str, lines: Sequence[int] | int,
              bad: np.ndarray | None = None) -> np.ndarray:
    """Floats from strings (``lines``: each value's file line, or one line for all). A value
    that is not a number is a DataError naming its line, or, when ``bad`` is given (skip mode),
    marks that row bad and becomes NaN."""
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except ValueError:
            if bad is None:
                what = "empty value" if not v.strip() else f"non-numeric value {v.strip()!r}"
                line = lines if isinstance(lines, int) else int(lines[i])
                raise DataError(f"{what} in {name}", path, line) from None
            bad[i] = True
            out[i] = np.nan
    return out


class _Accumulator:
    """Collects parsed chunks into one Table (categorical codes shared across chunks)."""

    def __init__(self, path: Path, header: list[str], numeric: Mapping[str, int],
                 text: Mapping[str, int], skip_bad: bool):
        self.path, self.header, self.skip_bad = path, header, skip_bad
        self.numeric, self.text_cols = dict(numeric), dict(text)
        self.num: dict[str, list[np.ndarray]] = {k: [] for k in numeric}
        self.codes: dict[str, list[np.ndarray]] = {k: [] for k in text}
        self.vocab: dict[str, dict[str, int]] = {k: {} for k in text}
        self.lines: list[np.ndarray] = []
        self.skipped = 0

    def add(self, rows: list[list[str]], lines: Sequence[int]) -> None:
        """Rows split into fields; ``lines`` are their file lines."""
        if not rows:
            return
        bad = np.zeros(len(rows), dtype=bool) if self.skip_bad else None
        nums = {k: to_floats([r[c] for r in rows], self.path, f"column {k}", lines, bad)
                for k, c in self.numeric.items()}
        keep = slice(None) if bad is None or not bad.any() else ~bad
        if bad is not None:
            self.skipped += int(bad.sum())
        for k, v in nums.items():
            self.num[k].append(v[keep])
        for k, c in self.text_cols.items():
            vocab = self.vocab[k]
            codes = np.fromiter((vocab.setdefault(r[c], len(vocab)) for r in rows),
                                dtype=np.int64, count=len(rows))
            self.codes[k].append(codes[keep])
        self.lines.append(np.asarray(lines, dtype=np.int64)[keep])

    def add_lines(self, chunk: list[str], first_line: int, delimiter: str | None,
                  ncols: int | None, min_cols: int) -> None:
        """Raw lines: numpy's C reader when they are clean, else the row-by-row path, which
        names the offending line."""
        lines = np.arange(first_line, first_line + len(chunk))
        blank = [i for i, line in enumerate(chunk) if not line.strip()]
        if blank:
            chunk, lines = [c for c in chunk if c.strip()], np.delete(lines, blank)
        if delimiter is not None and not self.skip_bad and chunk:
            counts = {line.count(delimiter) + 1 for line in chunk}
            if (counts == {ncols} if ncols is not None else min(counts) >= min_cols) \
                    and self._add_fast(chunk, lines, delimiter):
                return
        self.add([f for _, f in _split_lines(self.path, chunk, lines, delimiter, ncols,
                                             min_cols)], lines)

    def _add_fast(self, chunk: list[str], lines: np.ndarray, delimiter: str) -> bool:
        def columns(cols: list[int], dtype) -> np.ndarray:
            return np.loadtxt(chunk, delimiter=delimiter, usecols=cols, dtype=dtype, ndmin=2,
                              comments=None, quotechar=None)

        try:
            nums = columns(list(self.numeric.values()), np.float64) if self.numeric else None
            texts = columns(list(self.text_cols.values()), str) if self.text_cols else None
        except ValueError:
            return False
        for j, k in enumerate(self.numeric):
            self.num[k].append(nums[:, j])
        for j, k in enumerate(self.text_cols):
            uniq, inverse = np.unique(texts[:, j], return_inverse=True)
            vocab = self.vocab[k]
            lut = np.array([vocab.setdefault(v, len(vocab)) for v in uniq.tolist()], np.int64)
            self.codes[k].append(lut[inverse.ravel()])
        self.lines.append(lines)
        return True

    def table(self) -> Table:
        def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        text = {}
        for k, vocab in self.vocab.items():
            text[k] = Column(cat(self.codes[k], np.int64), [v.strip() for v in vocab])
        return Table(self.path, self.header, {k: cat(v, np.float64) for k, v in self.num.items()},
                     text, cat(self.lines, np.int64), self.skipped)


def parse_rows(path: Path, rows: Iterable[tuple[int, list[str]]], *,
               numeric: Mapping[str, int], text: Mapping[str, int] | None = None,
               header: list[str] | None = None, skip_bad: bool = False) -> Table:
    """Rows already split into fields, as ``(line, fields)``, into a Table.

    ``numeric``/``text`` map column names to field positions. Non-numeric values raise a
    DataError naming file and line, unless ``skip_bad``, which drops those rows and counts them.
    """
    acc = _Accumulator(path, header or [], numeric, text or {}, skip_bad)
    it = iter(rows)
    while chunk := list(itertools.islice(it, CHUNK_ROWS)):
        acc.add([r for _, r in chunk], [n for n, _ in chunk])
    return acc.table()


def _split_lines(path: Path, lines: Iterable[str], numbers: Iterable[int], delimiter: str | None,
                 ncols: int | None, min_cols: int) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each non-blank line; a wrong field count is a DataError."""
    for n, line in zip(numbers, lines, strict=False):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split(delimiter)
        if (ncols is not None and len(fields) != ncols) or len(fields) < min_cols:
            want = ncols if ncols is not None else f"at least {min_cols}"
            raise DataError(f"expected {want} columns, found {len(fields)}", path, int(n))
        yield int(n), fields


def read_header(path: Path, line: int = 1) -> str:
    """Line ``line`` (1-based) of a file, without its line break."""
    with open_text(path) as f, _io_errors(path):
        for n, text in enumerate(f, 1):
            if n == line:
                return text.rstrip("\r\n")
    raise DataError(f"file has fewer than {line} lines (expected a header)", path)


def read_table(path: Path, *, numeric: Mapping[str, int], text: Mapping[str, int] | None = None,
               ncols: int | None = None, delimiter: str | None = ",",
               header_lines: int = 0) -> Table:
    """A delimited text file (``delimiter=None``: whitespace) into a Table.

    ``header_lines`` lines are kept as ``Table.header``; blank lines are ignored; a row with a
    column count other than ``ncols`` (or too few for the requested columns) is a DataError.
    """
    text = text or {}
    used = [*numeric.values(), *text.values()]
    min_cols = max(used) + 1 if used else 0
    with open_text(path) as f, _io_errors(path):
        header = [f.readline() for _ in range(header_lines)]
        if header and header[-1] == "":
            raise DataError(f"file ends inside its {header_lines}-line header", path)
        acc = _Accumulator(path, [h.rstrip("\r\n") for h in header], numeric, text, False)
        first = header_lines + 1
        while chunk := f.readlines(CHUNK_CHARS):
            acc.add_lines(chunk, first, delimiter, ncols, min_cols)
            first += len(chunk)
    table = acc.table()
    if not len(table):
        raise DataError("file has no data rows", path)
    return table


def read_matrix(path: Path, ncols: int) -> np.ndarray:
    """A whitespace-separated all-numeric file as a float64 (rows, ncols) array, parsed with
    numpy's C reader; on any problem the slow path finds and names the offending line."""
    content = read_text(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": handled below
            arr = np.loadtxt(io.StringIO(content), dtype=np.float64, ndmin=2, comments=None)
        ok = arr.shape[1] == ncols if arr.size else False
    except ValueError:
        ok = False
    if not ok:
        rows = _split_lines(path, content.splitlines(), itertools.count(1), None, ncols, ncols)
        table = parse_rows(path, rows, numeric={str(i): i for i in range(ncols)})
        if not len(table):
            raise DataError("file has no data rows", path)
        arr = table.stack([str(i) for i in range(ncols)])
    return arr


def column_positions(path: Path, header: str, names: Sequence[str], delimiter: str = ",",
                     line: int = 1) -> dict[str, int]:
    """Positions of ``names`` among the header's fields (stripped, case-insensitive)."""
    fields = [h.strip().casefold() for h in header.split(delimiter)]
    missing = [n for n in names if n.casefold() not in fields]
    if missing:
        raise DataError(f"header lacks column(s) {', '.join(missing)}; found {header.strip()!r}",
                        path, line)
    return {n: fields.index(n.casefold()) for n in names}


# ---------------------------------------------------------------- labels


class LabelMap:
    """The ``dataset.labels`` setting: a dataset's own label (id or string) -> canonical name.

    Keys match after ``str()``, stripping and case-folding. A key mapped to null is a known
    label that is left out (its samples become UNLABELLED); a label with no key is a DataError.
    """

    def __init__(self, mapping: Mapping | None):
        self.table: dict[str, str | None] = {}
        for key, value in (mapping or {}).items():
            self.table[self.norm(key)] = None if value is None else str(value)
        self.names: tuple[str, ...] = tuple(dict.fromkeys(
            v for v in self.table.values() if v is not None))

    @staticmethod
    def norm(key: object) -> str:
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        return str(key).strip().casefold()

    def code(self, raw: object, path: Path | str | None = None, line: int | None = None) -> int:
        """The label code (index into ``names``) of ``raw``; UNLABELLED if mapped to null."""
        key = self.norm(raw)
        if key not in self.table:
            raise DataError(
                f"unknown label {str(raw).strip()!r}: not in the dataset.labels setting "
                f"(known: {', '.join(self.table)}); map it, e.g. "
                f"`+dataset.labels.{str(raw).strip()}=walk`, or to null to leave it out",
                path, line)
        name = self.table[key]
        return UNLABELLED if name is None else self.names.index(name)

    def encode(self, table: Table, column: str) -> np.ndarray:
        """Per-row label codes of a categorical column (unknown label: DataError at its line)."""
        col = table.text[column]
        lut = np.full(len(col.values), UNLABELLED, dtype=np.int64)
        for i in np.unique(col.codes).tolist():
            lut[i] = self.code(col.values[i], table.path, table.first_line(column, i))
        return lut[col.codes]


# ---------------------------------------------------------------- time streams


def split_at_gaps(t: np.ndarray, max_gap: float) -> list[slice]:
    """Slices of ``t`` (seconds, in stream order) cut wherever time jumps back or forward more
    than ``max_gap``; equal consecutive timestamps do not cut."""
    if len(t) == 0:
        return []
    dt = np.diff(t)
    cuts = np.flatnonzero((dt < 0) | (dt > max_gap)) + 1
    bounds = np.concatenate([[0], cuts, [len(t)]])
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
