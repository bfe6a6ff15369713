"""What a run saw, for the tracking store: split sizes and a digest that names the files and the samples."""

from __future__ import annotations

import os

from suite import data


def _mnist(root, limit_train=None, limit_test=None):
    return data.summarize(
        "mnist",
        {
            "train": data.load("mnist", "train", T=1, root=root, limit=limit_train, download=False),
            "test": data.load("mnist", "test", T=1, root=root, limit=limit_test, download=False),
        },
    )


def test_sizes_and_a_digest_that_changes_with_the_samples_not_with_where_the_files_are(data_root, tmp_path):
    full, subset = _mnist(data_root), _mnist(data_root, 300, 100)
    assert full.sizes == {"train": 60000, "test": 10000} and subset.sizes == {"train": 300, "test": 100}
    assert full.name == "mnist" and full.layout is None and full.root == str(data_root)
    assert len(full.digest) == 16 and full.digest != subset.digest
    assert _mnist(data_root, 300, 100) == subset, "the same samples: the same digest"
    assert _mnist(data_root, 300, 99).digest != subset.digest

    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    for f in (data_root / "MNIST" / "raw").iterdir():  # the same files elsewhere (another machine's copy)
        os.symlink(f, tmp_path / "MNIST" / "raw" / f.name)
    moved = _mnist(tmp_path, 300, 100)
    assert moved.digest == subset.digest and moved.root == str(tmp_path)


def test_an_event_set_names_its_layout_and_recordings(data_root):
    splits = {
        s: data.load("nmnist", s, T=4, root=data_root, download=False, cache=False) for s in data.SPLITS
    }
    summary = data.summarize("nmnist", splits)
    assert summary.sizes == {"train": len(splits["train"]), "test": len(splits["test"])}
    assert summary.layout == splits["train"].layout.name
    fewer = {**splits, "test": data.load("nmnist", "test", T=4, root=data_root, limit=10, download=False)}
    assert data.summarize("nmnist", fewer).digest != summary.digest
    assert summary.as_dict()["sizes"] == summary.sizes
