"""Missing files: one DatasetNotFound that names the dataset, folder, files and source; offline fails fast."""

from __future__ import annotations

import pickle
import socket
import time

import pytest

from suite import data

# a piece of the expected-files text and of the where-to-get-it text, per dataset
WANT = {
    "mnist": ("MNIST/raw/{train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz}", "yann.lecun.com"),
    "fashion-mnist": ("FashionMNIST/raw/{train-images-idx3-ubyte.gz", "zalandoresearch/fashion-mnist"),
    "cifar10": ("cifar-10-batches-bin/{data_batch_1.bin", "cifar-10-binary.tar.gz"),
    "nmnist": ("NMNIST/{Train,Test}/<digit 0-9>/*.bin", "garrickorchard.com/datasets/n-mnist"),
    "cifar10-dvs": ("CIFAR10-DVS/<class>/{*.aedat (AEDAT 2.0), *.aedat4}", "figshare.com"),
    "dvs-gesture": ("DvsGesture/trials_to_{train,test}.txt", "research.ibm.com/interactive/dvsgesture"),
}


@pytest.mark.parametrize("name", data.names())
def test_missing_files_error_says_what_and_where(name, tmp_path):
    root = tmp_path / "empty"
    with pytest.raises(data.DatasetNotFound) as e:
        data.load(name, "train", T=4, root=root, download=False)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert msg.startswith(f"{name} (train split): no data found in {root}")
    assert WANT[name][0] in msg and WANT[name][1] in msg
    assert "download: not attempted (download=False)" in msg and "SUITE_DATA" in msg
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chained trace from inside


@pytest.mark.parametrize("name", data.names())
def test_offline_download_fails_fast_and_says_why(name, tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(socket, "create_connection", offline)  # no test ever touches the network
    root = tmp_path / "empty"
    start = time.perf_counter()
    with pytest.raises(data.DatasetNotFound) as e:
        data.load(name, "test", T=4, root=root)
    assert time.perf_counter() - start < 5
    assert "download: failed:" in str(e.value) and "network unreachable (test)" in str(e.value)
    assert not root.exists()  # nothing created when nothing was fetched


def test_the_error_survives_pickling(tmp_path):
    """DataLoader workers send exceptions to the main process by pickling them."""
    with pytest.raises(data.DatasetNotFound) as e:
        data.load("mnist", "test", T=8, root=tmp_path, download=False)
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is data.DatasetNotFound and str(again) == str(e.value)
