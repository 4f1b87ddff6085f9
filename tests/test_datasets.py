"""Each dataset reader on a miniature of its real archive layout: counts, names, order, splits, crop, cache, errors."""

import numpy as np
import pytest
import torch

from vision_collapse import run_folder as rf
from vision_collapse.config import load_config
from vision_collapse.data import data_fingerprint, hash_images, load_dataset, load_real_data
from vision_collapse.errors import UserError

import archives


def _cfg(*keys):
    return load_config(None, list(keys)).data


def test_stanford_dogs_official_split_names_and_ids(tmp_path):
    root = archives.stanford_dogs(tmp_path / "dogs")
    train, test, info = load_dataset(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.resolution=16"))
    assert train.class_names == ("chihuahua", "golden_retriever", "pug")
    assert train.class_counts().tolist() == [6, 5, 4] and test.class_counts().tolist() == [2, 2, 2]
    assert train.images.shape[1:] == (3, 16, 16) and train.images.dtype == torch.uint8
    assert train.ids[0] == "real/stanford-dogs/n02085620-Chihuahua/n02085620_1001.jpg"  # synset kept in the id
    assert not set(train.ids) & set(test.ids)
    assert info["cache_hit"] is False
    again_train, _, again = load_dataset(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.resolution=16"))
    assert again["cache_hit"] is True and torch.equal(again_train.images, train.images)


def test_stanford_dogs_bbox_crop_keeps_only_the_dog(tmp_path):
    root = archives.stanford_dogs(tmp_path / "dogs")
    full, _, _ = load_dataset(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.resolution=16"))
    crop, _, _ = load_dataset(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.resolution=16", "data.crop=bbox"))
    red, blue = crop.images[:, 0].float().mean(), crop.images[:, 2].float().mean()
    assert red > 230 and blue < 25  # the largest box is the red square; the small second box is ignored
    assert full.images[:, 2].float().mean() > 100  # uncropped, the blue background dominates


def test_oxford_pets_official_order_and_species(tmp_path):
    root = archives.oxford_pets(tmp_path / "pets")
    train, test, _ = load_dataset(_cfg("data.name=oxford-pets", f"data.root={root}", "data.resolution=16"))
    # CLASS-ID order is case-insensitive: 'Bengal' comes after 'beagle' (a case-sensitive sort would put it 2nd).
    assert train.class_names == ("abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound",
                                 "beagle", "bengal")
    assert train.class_counts().tolist() == [4] * 6 and test.class_counts().tolist() == [2] * 6
    dogs, dog_test, _ = load_dataset(_cfg("data.name=oxford-pets", f"data.root={root}", "data.resolution=16",
                                          "data.species=dog"))
    assert dogs.class_names == ("american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle")
    assert len(dogs) == 16 and len(dog_test) == 8
    assert all("/american" in i or "/bas" in i or "/beagle" in i for i in dogs.ids)
    cats, _, _ = load_dataset(_cfg("data.name=oxford-pets", f"data.root={root}", "data.resolution=16", "data.species=cat"))
    assert cats.class_names == ("abyssinian", "bengal")


def test_cifar10_batches(tmp_path):
    root = archives.cifar10(tmp_path / "c10")
    train, test, _ = load_dataset(_cfg("data.name=cifar10", f"data.root={root}"))
    assert len(train) == 100 and len(test) == 30 and train.images.shape[1:] == (3, 32, 32)
    assert train.class_names[0] == "airplane" and train.class_names[-1] == "truck"
    import pickle

    with open(root / "cifar-10-batches-py" / "data_batch_2", "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")
    assert np.array_equal(train.images[20].numpy().ravel(), batch[b"data"][0])  # row-major CHW, as documented
    assert train.labels[20].item() == batch[b"labels"][0]


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx_both_layouts(tmp_path, gz):
    root = archives.fashion_mnist(tmp_path / "fm", gz=gz)
    train, test, _ = load_dataset(_cfg("data.name=fashion-mnist", f"data.root={root}"))
    assert len(train) == 60 and len(test) == 20 and train.images.shape[1:] == (1, 28, 28)
    assert train.class_counts().tolist() == [6] * 10 and train.class_names[0] == "tshirt_top"
    big, _, _ = load_dataset(_cfg("data.name=fashion-mnist", f"data.root={root}", "data.resolution=32", "data.channels=3"))
    assert big.images.shape[1:] == (3, 32, 32)


def test_imagefolder_stable_classes_and_per_class_split(tmp_path):
    root = archives.image_folder(tmp_path / "if", {"zebra": 10, "Apple": 10, "mango": 5})
    train, test, _ = load_dataset(_cfg("data.name=imagefolder", f"data.root={root}", "data.resolution=8",
                                       "data.test_fraction=0.2"))
    assert train.class_names == ("Apple", "mango", "zebra")
    assert test.class_counts().tolist() == [2, 1, 2] and train.class_counts().tolist() == [8, 4, 8]
    assert "real/imagefolder/zebra/3.png" in train.ids + test.ids


def test_classes_head_and_profiles(tmp_path):
    root = archives.image_folder(tmp_path / "if", {"a": 30, "b": 30, "c": 30, "d": 30, "e": 30})
    base = ["data.name=imagefolder", f"data.root={root}", "data.resolution=8", "data.test_fraction=0.2"]

    def counts(*keys):
        real = load_real_data(_cfg(*base, *keys), 0)
        return dict(zip(real.subset.class_names, real.subset.class_counts().tolist()))

    assert counts("data.imbalance=step", "data.n_max=20", "data.imbalance_factor=5", "data.head=c") == \
        {"a": 20, "b": 4, "c": 20, "d": 4, "e": 4}  # ranks c, a | b, d, e
    assert counts("data.imbalance=dominant", "data.dominant_share=0.6", "data.n_max=24", "data.head=e") == \
        {"a": 4, "b": 4, "c": 4, "d": 4, "e": 24}
    assert counts("data.classes=[d,b]", "data.imbalance=exp", "data.n_max=20", "data.imbalance_factor=4") == \
        {"d": 20, "b": 5}
    assert counts("data.imbalance=custom", "data.custom={a: 24, b: 3, c: 2, d: 2, e: 2}") == \
        {"a": 24, "b": 3, "c": 2, "d": 2, "e": 2}
    proportions = counts("data.imbalance=custom", "data.custom={a: 0.5, b: 0.2, c: 0.1, d: 0.1, e: 0.1}")
    assert proportions == {"a": 24, "b": 9, "c": 4, "d": 4, "e": 4}  # total 48 = 24 / 0.5, all a's images
    seeded_cfg = _cfg(*base, "data.order=seeded", "data.n_max=20", "data.imbalance_factor=5", "data.head=b")
    seeded = [load_real_data(seeded_cfg, s).subset for s in (0, 0, 1)]
    assert seeded[0].ids == seeded[1].ids
    assert seeded[0].class_counts()[1] == 20 and seeded[2].class_counts()[1] == 20


def test_judge_fingerprint_changes_with_the_data(tmp_path):
    a = load_real_data(_cfg(), 0)
    b = load_real_data(_cfg("data.resolution=16"), 0)
    c = load_real_data(_cfg(), 3)
    # The judge's key (its pool and the test split) does not depend on the imbalance; the run's fingerprint does.
    assert hash_images(a.judge_pool, a.test) == hash_images(c.judge_pool, c.test)
    assert data_fingerprint(a) != data_fingerprint(c) and a.info["fingerprint"] == data_fingerprint(a)
    assert hash_images(a.judge_pool, a.test) != hash_images(b.judge_pool, b.test)
    # The judge never trains on the calibration split.
    assert not set(a.judge_pool.ids) & set(a.calibration.ids) and len(a.judge_pool) + len(a.calibration) == len(a.pool)


@pytest.mark.parametrize("keys, message", [
    (["data.name=stanford_dogs"], "did you mean 'stanford-dogs'"),
    (["data.name=stanford-dogs"], "data.root is not set for stanford-dogs"),
    (["data.name=stanford-dogs", "data.root=/nonexistent/dogs"], "does not exist; expected ROOT/Images/"),
    (["data.name=cifar10", "data.root=/nonexistent"], "cifar-10-batches-py"),
    (["data.crop=bbox"], "data.crop=bbox needs data.name=stanford-dogs"),
    (["data.head=7x"], None),
])
def test_bad_data_settings(keys, message):
    with pytest.raises(UserError) as err:
        load_real_data(_cfg(*keys), 0)
    if message:
        assert message in str(err.value)


def test_wrong_layout_says_what_was_expected(tmp_path):
    (tmp_path / "dogs" / "Images").mkdir(parents=True)
    with pytest.raises(UserError, match="expected ROOT/Images/.*train_list.mat.*lists.tar"):
        load_dataset(_cfg("data.name=stanford-dogs", f"data.root={tmp_path / 'dogs'}"))
    (tmp_path / "pets").mkdir()
    with pytest.raises(UserError, match="oxford-pets not found .*oxford-iiit-pet/images"):
        load_dataset(_cfg("data.name=oxford-pets", f"data.root={tmp_path / 'pets'}"))


def test_unknown_class_suggests_the_nearest(tmp_path):
    root = archives.stanford_dogs(tmp_path / "dogs")
    with pytest.raises(UserError, match="'golden_retreiver' is not a class.*did you mean 'golden_retriever'"):
        load_real_data(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.head=golden_retreiver"), 0)
    with pytest.raises(UserError, match="data.classes: 'pugg'.*did you mean 'pug'"):
        load_real_data(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.classes=[pug,pugg]"), 0)


def test_profile_leaving_a_class_with_one_image_names_it(tmp_path):
    root = archives.stanford_dogs(tmp_path / "dogs")
    with pytest.raises(UserError, match="leaves class 'pug' with 1 image"):
        load_real_data(_cfg("data.name=stanford-dogs", f"data.root={root}", "data.n_max=4", "data.imbalance_factor=4"), 0)


def test_corrupt_image_is_named_or_skipped(tmp_path):
    root = archives.image_folder(tmp_path / "if", {"a": 6, "b": 6})
    bad = root / "b" / "2.png"
    bad.write_bytes(b"not a png")
    base = ["data.name=imagefolder", f"data.root={root}", "data.resolution=8"]
    with pytest.raises(UserError, match=r"cannot read image .*b/2\.png.*data\.skip_corrupt=true"):
        load_dataset(_cfg(*base))
    train, test, info = load_dataset(_cfg(*base, "data.skip_corrupt=true"))
    assert len(train) + len(test) == 11 and len(info["skipped"]) == 1 and "b/2.png" in info["skipped"][0]


def test_empty_class_folder_is_an_error(tmp_path):
    root = archives.image_folder(tmp_path / "if", {"a": 6})
    (root / "empty").mkdir()
    with pytest.raises(UserError, match="empty' holds no images"):
        load_dataset(_cfg("data.name=imagefolder", f"data.root={root}", "data.resolution=8"))


def test_parallel_decoding_matches_in_process(tmp_path, monkeypatch):
    import vision_collapse.data.decode as decode

    root = archives.image_folder(tmp_path / "if", {"a": 40, "b": 40})
    jobs = [decode.DecodeJob(str(p)) for p in sorted(root.rglob("*.png"))]
    serial, _, _ = decode.decode_all(jobs, 8, 3, False)
    monkeypatch.setattr(decode, "POOL_THRESHOLD", 1)
    parallel, _, _ = decode.decode_all(jobs, 8, 3, False)
    assert np.array_equal(serial, parallel)


@pytest.mark.slow  # decodes all 70,000 images
@pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package():
    train, test, _ = load_dataset(_cfg("data.name=fashion-mnist"))
    assert len(train) == 60000 and len(test) == 10000
    assert train.class_names == ("tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                                 "bag", "ankle_boot")
    assert train.class_counts().tolist() == [6000] * 10


def test_datasets_command_lists_and_counts(tmp_path, capsys):
    from vision_collapse.cli import main

    root = archives.stanford_dogs(tmp_path / "dogs")
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    assert "digits" in listing and "stanford-dogs  not found data.root is not set" in listing
    assert main(["datasets", "stanford-dogs", f"data.root={root}", "data.resolution=8", "data.n_max=4",
                 "data.imbalance_factor=2", "data.head=pug"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["pug"] == ["4", "2", "4"] and rows["chihuahua"] == ["6", "2", "2"] and rows["total"] == ["15", "6", "8"]


@pytest.mark.slow
def test_run_on_a_dog_archive_end_to_end(tmp_path):
    import json

    from vision_collapse.cli import main

    timm = pytest.importorskip("timm")
    root = archives.stanford_dogs(tmp_path / "dogs", train=(12, 10, 8))
    out = tmp_path / "run"
    # The config's probe judge, on a tiny timm network with random weights from a file in place of DINOv2's.
    torch.manual_seed(0)
    weights = tmp_path / "random.pth"
    torch.save(timm.create_model("test_convnext", pretrained=False, num_classes=0).state_dict(), weights)
    assert main(["run", "configs/stanford-dogs-64.yaml", f"data.root={root}", "data.resolution=8", "data.classes=[]",
                 "data.head=pug", "data.n_max=8", "data.imbalance_factor=2", "model.channels=[8,16]",
                 "model.layers_per_block=1", "model.sampling_steps=2", "train.steps=3", "train.batch_size=4",
                 "train.checkpoint_every=0", "loop.generations=1", "eval.backbone=timm:test_convnext",
                 f"eval.backbone_weights={weights}", "eval.backbone_size=32", "--out", str(out)]) == 0
    assert json.loads((out / "judge.json").read_text())["kind"] == "probe"
    info = json.loads((out / "data.json").read_text())
    assert info["classes"] == ["chihuahua", "golden_retriever", "pug"] and info["subset_counts"] == [5, 4, 8]
    assert rf.read_sample_arrays(out / "gen_000")["images"].shape == (17, 3, 8, 8)
    manifest = (out / "gen_000" / "manifest.csv").read_text()
    assert "real/stanford-dogs/n02110958-pug/" in manifest
