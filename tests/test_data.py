"""dlcourse.data: finding Fashion-MNIST offline, checksums, toy data, and the two loaders."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcourse import config, data

SUBSET_SIZES = {"train": 10_000, "test": 2_000}


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.numpy().tobytes()))


def idx_bytes(array):
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape) \
        + array.numpy().tobytes()


@pytest.fixture
def fake_full(tmp_path, monkeypatch):
    """A folder laid out like the official data set, with its checksums registered."""
    X = torch.randint(0, 256, (30, 28, 28), dtype=torch.uint8)
    y = torch.arange(30, dtype=torch.uint8) % 10
    sums = {}
    for split in ("train", "test"):
        images, labels = data.FILES[split]
        for stem, array in ((images, X), (labels, y)):
            write_idx(tmp_path / f"{stem}.gz", array)
            sums[stem] = hashlib.sha256(idx_bytes(array)).hexdigest()
    monkeypatch.setattr(data, "FULL_SHA256", sums)  # synthetic files: their own checksums
    return tmp_path


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No full data set anywhere: repo data/ and Debian's folder point at empty places."""
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    monkeypatch.delenv("DLCOURSE_DOWNLOAD", raising=False)
    monkeypatch.setenv("DLCOURSE_FAST", "0")
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "empty")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")


@pytest.mark.parametrize("split", ["train", "test"])
def test_bundled_subset_is_stratified_and_verified(split):
    subset = data.load_bundled_subset(split)
    assert len(subset) == SUBSET_SIZES[split]
    assert subset.X.shape[1:] == (28, 28) and subset.X.dtype == torch.uint8
    assert torch.bincount(subset.y).tolist() == [SUBSET_SIZES[split] // 10] * 10


def test_fast_mode_uses_the_bundled_subset(monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    monkeypatch.delenv("DLCOURSE_DATA", raising=False)
    assert "bundled subset" in data.load_fashion_mnist("test").source
    assert "bundled subset" in capsys.readouterr().out


def test_explicit_root_is_used(fake_full):
    ds = data.load_fashion_mnist("train", root=fake_full, verbose=False)
    assert len(ds) == 30 and ds.source == str(fake_full)


def test_env_root_is_used_in_full_mode(fake_full, monkeypatch):
    monkeypatch.setenv("DLCOURSE_FAST", "0")
    monkeypatch.setenv("DLCOURSE_DATA", str(fake_full))
    assert data.load_fashion_mnist("test", verbose=False).source == str(fake_full)


def test_debian_folder_is_found(fake_full, nowhere, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", fake_full)
    assert data.load_fashion_mnist("train", verbose=False).source == str(fake_full)


def test_offline_without_data_falls_back_to_subset(nowhere, capsys):
    ds = data.load_fashion_mnist("test")
    assert len(ds) == 2000 and "bundled subset" in capsys.readouterr().out


def test_download_failure_falls_back_quickly(nowhere, monkeypatch):
    monkeypatch.setattr(data, "_try_download", lambda folder: None)  # what an offline attempt returns
    assert "bundled" in data.load_fashion_mnist("test", download=True, verbose=False).source


def test_missing_explicit_root_says_what_is_expected(tmp_path):
    with pytest.raises(data.DataError, match="no Fashion-MNIST train files.*train-images-idx3-ubyte"):
        data.load_fashion_mnist("train", root=tmp_path)


def test_wrong_split_name():
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'validation'"):
        data.load_fashion_mnist("validation")


def test_truncated_file_names_file_and_fix(fake_full):
    path = fake_full / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte.gz is corrupt or truncated.*"
                                             "reinstall"):
        data.load_fashion_mnist("train", root=fake_full)


def test_checksum_mismatch_is_refused(fake_full, monkeypatch):
    monkeypatch.setattr(data, "FULL_SHA256", {"t10k-images-idx3-ubyte": "0" * 64})
    with pytest.raises(data.DataError, match="checksum mismatch for .*t10k-images"):
        data.load_fashion_mnist("test", root=fake_full)


def test_corrupt_bundled_subset_is_refused(tmp_path, monkeypatch):
    for f in data.SUBSET_DIR.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    monkeypatch.setattr(data, "SUBSET_DIR", tmp_path)
    with pytest.raises(data.DataError, match="checksum mismatch.*t10k-labels.*git checkout data/"):
        data.load_bundled_subset("test")


def test_subset_is_stratified_and_seeded():
    ds = data.ImageSet(torch.zeros(100, 2, 2, dtype=torch.uint8), torch.arange(100) % 4)
    a, b = ds.subset(20, seed=1), ds.subset(20, seed=1)
    assert torch.equal(a.y, b.y) and torch.bincount(a.y).tolist() == [5, 5, 5, 5]
    with pytest.raises(ValueError, match="subset size must be in 1..100"):
        ds.subset(101)


def test_imageset_validates():
    with pytest.raises(ValueError, match="X must be uint8"):
        data.ImageSet(torch.zeros(4, 28, 28), torch.zeros(4))
    with pytest.raises(ValueError, match=r"y must be \(N,\) = \(4,\)"):
        data.ImageSet(torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(3))


@pytest.mark.parametrize("gate, expected", [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]),
                                            ("xor", [0, 1, 1, 0]), ("nand", [1, 1, 1, 0]),
                                            ("not", [1, 0]), ("majority", [0, 0, 0, 1, 0, 1, 1, 1])])
def test_logic_gates(gate, expected):
    X, y = data.logic_gate(gate)
    assert y.tolist() == expected and len(X) == len(y)


def test_unknown_gate():
    with pytest.raises(ValueError, match="unknown gate 'xnorr'"):
        data.logic_gate("xnorr")


@pytest.mark.parametrize("make", [data.make_blobs, data.make_moons, data.make_spirals])
def test_toy_sets_are_seeded(make):
    X1, y1 = make(200, seed=4)
    X2, y2 = make(200, seed=4)
    X3, _ = make(200, seed=5)
    assert X1.shape == (200, 2) and torch.equal(X1, X2) and torch.equal(y1, y2)
    assert not torch.equal(X1, X3) and set(y1.tolist()) == {0, 1}


def small_set(n=50):
    g = torch.Generator().manual_seed(0)
    return data.ImageSet(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g),
                         torch.arange(n) % 10)


def test_tensor_loader_shapes_and_normalization():
    ds = small_set()
    loader = data.TensorLoader(ds, batch_size=16, device="cpu")
    batches = list(loader)
    assert len(loader) == len(batches) == 3  # drop_last: static shapes
    X, y = batches[0]
    assert X.shape == (16, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    full = data.TensorLoader(ds, batch_size=16, shuffle=False, drop_last=False, device="cpu")
    X = torch.cat([X for X, _ in full])
    assert torch.allclose(X, (ds.X.unsqueeze(1).float() / 255 - data.FASHION_MEAN) / data.FASHION_STD)


def test_tensor_loader_matches_dataloader_for_a_seed():
    ds = small_set()
    ours = data.TensorLoader(ds, batch_size=8, drop_last=False, seed=3, device="cpu")
    theirs = data.make_dataloader(ds, batch_size=8, seed=3)
    for _ in range(2):  # two epochs: the permutations advance the same way
        for (X1, y1), (X2, y2) in zip(ours, theirs, strict=True):
            assert torch.equal(y1, y2) and torch.allclose(X1, X2)


def test_augmentation_flips_and_shifts_on_device():
    X = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    X[:, :, 3, 0] = 255  # one bright pixel at the left edge
    ds = data.ImageSet(X, torch.tensor([0, 1]), mean=0.0, std=1.0)
    loader = data.TensorLoader(ds, batch_size=2, shuffle=False, augment="flip", device="cpu", seed=0)
    seen = set()
    for _ in range(20):
        Xb, _ = next(iter(loader))
        seen |= {int(Xb[i, 0, 3].argmax()) for i in range(2)}
    assert seen == {0, 7}  # each image is sometimes flipped
    centre = torch.zeros(2, 1, 9, 9, dtype=torch.uint8)
    centre[:, :, 4, 4] = 255
    ds = data.ImageSet(centre, torch.tensor([0, 1]), mean=0.0, std=1.0)
    loader = data.TensorLoader(ds, batch_size=2, shuffle=False, augment="flip_translate",
                               device="cpu", max_shift=2)
    moved = set()
    for _ in range(20):
        Xb, _ = next(iter(loader))
        assert torch.equal(Xb.sum((1, 2, 3)), torch.ones(2))  # shifted, never lost or duplicated
        rows, cols = torch.nonzero(Xb[:, 0], as_tuple=True)[1:]
        assert (rows - 4).abs().max() <= 2 and (cols - 4).abs().max() <= 2
        moved |= set(zip(rows.tolist(), cols.tolist()))
    assert len(moved) > 5


def test_tensor_loader_rejects_bad_settings():
    with pytest.raises(ValueError, match="augment must be None, 'flip' or 'flip_translate'"):
        data.TensorLoader(small_set(), augment="rotate")
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        data.TensorLoader(small_set(), batch_size=0)


# ------------------------------------------------------------------ fast mode, DLCOURSE_DATA, setup
def test_fast_mode_ignores_DLCOURSE_DATA_and_says_so(fake_full, monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    monkeypatch.setenv("DLCOURSE_DATA", str(fake_full))
    ds = data.load_fashion_mnist("test")
    assert len(ds) == 2000 and "bundled subset" in ds.source
    assert f"DLCOURSE_DATA={fake_full} is not used" in capsys.readouterr().out


def test_an_explicit_root_is_used_even_in_fast_mode(fake_full, monkeypatch):
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    assert data.load_fashion_mnist("test", root=fake_full, verbose=False).source == str(fake_full)


def test_the_mode_chosen_by_setup_decides_the_data(fake_full, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("DLCOURSE_DATA", str(fake_full))
    try:
        monkeypatch.setenv("DLCOURSE_FAST", "1")
        config.setup(False, 0)  # the notebook's FAST = False wins over the environment
        assert data.load_fashion_mnist("test", verbose=False).source == str(fake_full)
        monkeypatch.setenv("DLCOURSE_FAST", "0")
        config.setup(True, 0)
        assert "bundled subset" in data.load_fashion_mnist("test", verbose=False).source
    finally:
        config.RUN.clear()
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_DLCOURSE_DATA_counts_as_unset(nowhere, monkeypatch, value, tmp_path):
    monkeypatch.setenv("DLCOURSE_DATA", value)
    monkeypatch.chdir(tmp_path)  # an empty root must not mean "the current folder"
    assert "bundled subset" in data.load_fashion_mnist("test", verbose=False).source


# ----------------------------------------------------------------------- SHA256SUMS, strictly
@pytest.fixture
def subset_copy(tmp_path, monkeypatch):
    for f in data.SUBSET_DIR.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(data, "SUBSET_DIR", tmp_path)
    return tmp_path


def test_a_file_missing_from_SHA256SUMS_is_refused(subset_copy):
    sums = subset_copy / "SHA256SUMS"
    sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines()
                            if "t10k-labels" not in line))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz is not listed in"):
        data.load_bundled_subset("test")
    assert len(data.load_bundled_subset("train")) == 10_000


def test_an_empty_or_malformed_SHA256SUMS_is_refused(subset_copy):
    sums = subset_copy / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    sums.write_text("")
    with pytest.raises(data.DataError, match="lists no files"):
        data.load_bundled_subset("test")
    sums.write_text("\n".join([lines[0], "c50b59c7 t10k-images-idx3-ubyte.gz", *lines[2:]]) + "\n")
    with pytest.raises(data.DataError, match=r"line 2 of .*SHA256SUMS is 'c50b59c7 t10k.*64 hex"):
        data.load_bundled_subset("test")
    sums.write_text("\n".join([lines[0], lines[1] + " extra", *lines[2:]]) + "\n")
    with pytest.raises(data.DataError, match="line 2 of"):
        data.load_bundled_subset("train")


def test_a_gunzipped_and_edited_subset_file_is_refused(subset_copy):
    labels = subset_copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[8:] = bytes(len(raw) - 8)  # every test label zeroed
    (subset_copy / "t10k-labels-idx1-ubyte").write_bytes(bytes(raw))
    labels.unlink()
    with pytest.raises(data.DataError, match="missing \\(an uncompressed copy is there"):
        data.load_bundled_subset("test")


def test_every_single_byte_corruption_of_a_gz_is_a_DataError_naming_the_file(tmp_path):
    original = (data.SUBSET_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    want = data._read_idx(data.SUBSET_DIR / path.name, None)
    outcomes = set()
    for i in range(len(original)):
        raw = bytearray(original)
        raw[i] ^= 0x5A
        path.write_bytes(bytes(raw))
        try:
            got = data._read_idx(path, None)
        except data.DataError as err:
            assert path.name in str(err)
            outcomes.add("refused")
        else:  # only the gzip header's time stamp and flags may change without harm
            assert np.array_equal(got, want), f"byte {i}: corrupt data loaded silently"
            outcomes.add("same data")
    assert "refused" in outcomes


def test_an_unreadable_file_is_reported_as_unreadable_not_corrupt(fake_full, monkeypatch):
    real = Path.read_bytes

    def denied(self):
        if self.name.startswith("t10k-images"):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(data.DataError, match="cannot read .*t10k-images.*Permission denied.*chmod") as err:
        data.load_fashion_mnist("test", root=fake_full)
    assert "corrupt" not in str(err.value)


def test_loaders_refuse_a_missing_gpu_and_bad_batch_sizes(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda' but this machine has no usable CUDA GPU"):
        data.TensorLoader(small_set(), device="cuda")
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, got 2.5"):
        data.TensorLoader(small_set(), batch_size=2.5, device="cpu")


def test_normalize_and_stratified_indices_against_direct_counts():
    X = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    torch.testing.assert_close(data.normalize(X, 0.5, 0.25), torch.tensor([[[[-2.0, 2.0]]]]))
    rgb = data.normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8), (0.0, 0.5, 1.0), (1.0, 0.5, 2.0))
    assert rgb.flatten().tolist() == [1.0, 1.0, 0.0]
    y = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    idx = data.stratified_indices(y, 20, seed=3)
    assert torch.bincount(y[idx]).tolist() == [12, 6, 2] and idx.tolist() == sorted(set(idx.tolist()))
    assert torch.equal(idx, data.stratified_indices(y, 20, seed=3))
    assert not torch.equal(idx, data.stratified_indices(y, 20, seed=4))
    odd = data.stratified_indices(torch.tensor([0] * 5 + [1] * 3), 3)
    assert len(odd) == 3  # the remainder goes to the largest class


def test_idx_files_that_are_not_what_they_claim(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    good = idx_bytes(torch.zeros(3, 4, 4, dtype=torch.uint8))
    path.write_bytes(gzip.compress(good[:-5]))  # the header promises 48 values
    with pytest.raises(data.DataError, match="is truncated: header says \\[3, 4, 4\\], found 43"):
        data._read_idx(path, None)
    path.write_bytes(gzip.compress(good[:2] + b"\x0d" + good[3:]))  # float data, not uint8
    with pytest.raises(data.DataError, match="not an IDX file of uint8 data"):
        data._read_idx(path, None)


def test_images_and_labels_must_agree_in_number(fake_full):
    write_idx(fake_full / "t10k-labels-idx1-ubyte.gz", torch.zeros(29, dtype=torch.uint8))
    data.FULL_SHA256["t10k-labels-idx1-ubyte"] = hashlib.sha256(
        idx_bytes(torch.zeros(29, dtype=torch.uint8))).hexdigest()
    with pytest.raises(data.DataError, match="has 30 images but t10k-labels-idx1-ubyte.gz has 29 labels"):
        data.load_fashion_mnist("test", root=fake_full)


def test_subset_and_normalized_slices():
    ds = small_set(50)
    assert len(ds.subset(50)) == 50 and len(ds.subset(1)) == 1
    with pytest.raises(ValueError, match="subset size must be in 1..50"):
        ds.subset(0)
    torch.testing.assert_close(ds.normalized(slice(3, 5)), data.normalize(ds.X[3:5]))
    assert ds.normalized(torch.tensor([7])).shape == (1, 1, 28, 28)


def test_translation_reaches_every_shift_in_both_directions():
    centre = torch.zeros(64, 1, 9, 9, dtype=torch.uint8)
    centre[:, :, 4, 4] = 255
    ds = data.ImageSet(centre, torch.zeros(64), mean=0.0, std=1.0)
    loader = data.TensorLoader(ds, batch_size=64, shuffle=False, augment="flip_translate", device="cpu")
    Xb, _ = next(iter(loader))
    rows, cols = torch.nonzero(Xb[:, 0], as_tuple=True)[1:]
    assert sorted(set((rows - 4).tolist())) == [-2, -1, 0, 1, 2] == sorted(set((cols - 4).tolist()))


def test_dataloader_lengths_and_last_batch():
    ds = small_set(50)
    assert [len(y) for _, y in data.make_dataloader(ds, 16, shuffle=False)] == [16, 16, 16, 2]
    assert len(data.make_dataloader(ds, 16, drop_last=True)) == 3
    assert len(data.TensorLoader(ds, 16, drop_last=False, device="cpu")) == 4
    first = next(iter(data.make_dataloader(ds, 50, shuffle=False)))[1]
    assert torch.equal(first, ds.y)


def test_class_split_keeps_and_relabels():
    ds = small_set(40)
    part = data.class_split(ds, [3, 1])
    assert torch.equal(part.y, (ds.y[(ds.y == 3) | (ds.y == 1)] == 1).long())  # 3 -> 0, 1 -> 1
    assert part.classes == (ds.classes[3], ds.classes[1]) and len(part) == 8


def test_every_augmented_image_is_a_flipped_and_shifted_copy():
    g = torch.Generator().manual_seed(0)
    X = torch.randint(1, 256, (16, 1, 7, 9), dtype=torch.uint8, generator=g)  # no symmetry to hide in
    ds = data.ImageSet(X, torch.zeros(16), mean=0.0, std=1.0)
    loader = data.TensorLoader(ds, batch_size=16, shuffle=False, augment="flip_translate", device="cpu")
    Xb, _ = next(iter(loader))
    images = ds.normalized()
    fill = float(Xb.min())
    for out, image in zip(Xb, images):
        padded = [torch.nn.functional.pad(im, (2, 2, 2, 2), value=fill) for im in (image, image.flip(-1))]
        candidates = [p[:, dy:dy + 7, dx:dx + 9] for p in padded for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out, c) for c in candidates)


def test_a_file_without_a_recorded_checksum_is_refused(fake_full, monkeypatch):
    monkeypatch.delitem(data.FULL_SHA256, "t10k-labels-idx1-ubyte")
    with pytest.raises(data.DataError, match="no recorded SHA-256 for t10k-labels-idx1-ubyte.gz"):
        data.load_fashion_mnist("test", root=fake_full)


def test_moons_interleave_so_that_no_line_separates_them():
    X, y = data.make_moons(400, noise=0.0, seed=0)
    # the best line, fitted by logistic regression (full batch, many steps), still errs
    torch.manual_seed(0)
    line = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(line.parameters(), lr=0.05)
    for _ in range(500):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(line(X), y).backward()
        opt.step()
    acc = (line(X).argmax(1) == y).float().mean().item()
    assert 0.75 < acc < 0.95
    # the tips of the lower moon reach above the lowest points of the upper one
    assert X[y == 1, 1].max() > X[y == 0, 1].min()
    assert X.mean(0).abs().max() < 0.15  # centred on the origin
