"""model.kind=dit through the CLI: a from-scratch DiT on digits end to end and resumed, a pretrained one fine-tuned
through LoRA with its generation -1 reference, and every bad DiT setting as one line that touches nothing."""

import json
import shutil
import sys

import pytest
import torch

from vision_collapse import run_folder as rf
from vision_collapse.cli import main

import archives
from helpers import LIGHT_RUN, rows, tiny_dit_pipeline
from helpers import fails_in_one_line as _fails
from helpers import snapshot as _snapshot

pytestmark = pytest.mark.slow

TINY = ["model.sampling_steps=2", "train.steps=6", "train.batch_size=8", "loop.finetune_steps=3", "judge.epochs=2",
        "loop.generations=2", "eval.samples_per_class=10", *LIGHT_RUN, "eval.kid_subsets=2"]
# The from-scratch DiT: an autoencoder of widths 8 and 16 (8x8 digits to 4x4 latents), one 16-wide block.
SCRATCH = ["data.resolution=8", "model.channels=[8,16]", "model.autoencoder_steps=20", "model.dit_layers=1",
           "model.dit_heads=2", "model.dit_head_dim=8", *TINY]


def _untimed(path):
    """A table's rows without its wall-time columns, which no two runs share."""
    return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows(path)]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return tiny_dit_pipeline(tmp_path_factory.mktemp("dit") / "pipeline")


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dit"
    assert main(["run", "configs/dit-digits.yaml", *SCRATCH, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, pipeline):
    out = tmp_path_factory.mktemp("runs") / "lora"
    keys = [f"model.pretrained={pipeline}", "model.adapter=lora", "model.lora_rank=2", "loop.init=pretrained",
            "data.resolution=8", *TINY]
    assert main(["run", "configs/dit-digits.yaml", *keys, "--out", str(out)]) == 0
    return out, keys


def test_scratch_run_trains_its_autoencoder_once_and_points_at_it(scratch_run):
    start = json.loads((scratch_run / "dit.json").read_text())
    assert start["pretrained"] is False and start["model_classes"] == 10 and start["class_map"] == list(range(10))
    assert (scratch_run / "autoencoder" / "vae" / "config.json").is_file()
    assert not (scratch_run / rf.PRETRAINED).exists()  # nothing pretrained to measure
    for g in (0, 1):
        model = json.loads((scratch_run / f"gen_00{g}" / "model" / "dit.json").read_text())
        assert model["weights"] == "transformer" and model["base"] == "../../autoencoder"
        assert model["sha256"] == start["sha256"]
    assert [r["model_index"] for r in rows(scratch_run / "class_map.csv")] == [str(k) for k in range(10)]
    assert len(rows(scratch_run / "summary.csv")) == 2 and (scratch_run / "DONE").is_file()


def test_scratch_run_is_reproduced_and_resumes_byte_identical(scratch_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", "configs/dit-digits.yaml", *SCRATCH, "--out", str(again)]) == 0
    assert (again / "metrics.csv").read_bytes() == (scratch_run / "metrics.csv").read_bytes()
    shutil.rmtree(again / "gen_001")  # lose the last generation as a crash would, then re-run the same command
    (again / "DONE").unlink()
    assert main(["run", "configs/dit-digits.yaml", *SCRATCH, "--out", str(again)]) == 0
    assert (again / "metrics.csv").read_bytes() == (scratch_run / "metrics.csv").read_bytes()
    assert _untimed(again / "summary.csv") == _untimed(scratch_run / "summary.csv")
    assert (again / "gen_001" / "samples").is_dir()


def test_lora_run_keeps_only_adapters_and_measures_the_pretrained_model(lora_run, pipeline):
    out, _ = lora_run
    for g in (0, 1):
        folder = out / f"gen_00{g}" / "model"
        assert (folder / "adapter.safetensors").is_file() and not (folder / "transformer").exists()
        model = json.loads((folder / "dit.json").read_text())
        assert model["base"] == str(pipeline.resolve()) and model["id2label"]["207"] == "golden retriever"
    (reference,) = rows(out / rf.PRETRAINED)
    assert reference["generation"] == "-1" and 0 <= float(reference["unrecognisable_share"]) <= 1
    assert 0 <= float(reference["memorised_photos"]) <= 1  # before any fine-tuning: copying it already does
    assert "Before any fine-tuning (generation -1" in (out / "verdict.md").read_text()


def test_each_bad_dit_setting_is_one_line_and_touches_nothing(lora_run, pipeline, tmp_path, capsys, monkeypatch):
    out, keys = lora_run
    before = _snapshot(out)
    incomplete = tmp_path / "incomplete"
    shutil.copytree(pipeline, incomplete)
    shutil.rmtree(incomplete / "vae")
    (tmp_path / "short.csv").write_text("class_name,model_index\n" + "".join(f"{k},{k}\n" for k in range(9)))
    (tmp_path / "big.csv").write_text("class_name,model_index\n" + "".join(f"{k},{k + 991}\n" for k in range(10)))
    base = ["run", "configs/dit-digits.yaml", *keys]
    cases = [
        (["model.pretrained=/nonexistent/dit"], "model.pretrained folder '/nonexistent/dit' not found"),
        ([f"model.pretrained={incomplete}"], "is incomplete: no vae/config.json, vae/diffusion_pytorch_model"),
        ([f"model.class_map={tmp_path / 'short.csv'}"], "does not cover 1 dataset class(es), e.g. 9"),
        ([f"model.class_map={tmp_path / 'big.csv'}"], "9 -> 1000, but the model has classes 0..999"),
        (["model.class_map=synset"], "needs class folders named by WordNet synset"),
        (["data.resolution=6"], "data.resolution=6 cannot be tokenised"),
        (["model.adapter=lora", "model.pretrained="], "model.adapter=lora adapts a pretrained transformer"),
        (["loop.init=scratch"], "model.pretrained is fine-tuned, never trained from scratch"),
    ]
    for extra, message in cases:
        _fails(capsys, [*base, *extra, "--out", str(out)], message)
    monkeypatch.setitem(sys.modules, "peft", None)  # as if the lora extra were not installed
    _fails(capsys, [*base, "--out", str(out)], "model.adapter=lora needs peft: pip install 'vision-collapse[lora]'")
    assert _snapshot(out) == before


def test_resume_survives_a_redownload_but_not_changed_weights(pipeline, tmp_path, capsys):
    weights = tmp_path / "weights"
    shutil.copytree(pipeline, weights)
    metadata = weights / ".cache" / "huggingface" / "download" / "transformer" / "config.json.metadata"
    metadata.parent.mkdir(parents=True)
    metadata.write_text("abc123\n1765000000.1\n")  # what `hf download --local-dir` keeps beside the weights
    keys = ["run", "configs/dit-digits.yaml", f"model.pretrained={weights}", "data.resolution=8", *TINY,
            "loop.generations=1", "--out", str(tmp_path / "run")]
    assert main(keys) == 0
    before = _snapshot(tmp_path / "run")
    metadata.write_text("abc123\n1765999999.9\n")  # a re-download rewrites it with a new timestamp
    (metadata.parent / "vae.metadata").write_text("def456\n")
    (weights / "README.md").write_text("model card\n")
    assert main(keys) == 0  # the same weights: the finished run is accepted as it is (run.json logs the session)
    after = _snapshot(tmp_path / "run")
    assert {k: v for k, v in after.items() if k != "run.json"} == {k: v for k, v in before.items() if k != "run.json"}
    before = after
    (transformer,) = [p for p in (weights / "transformer").iterdir() if p.name.startswith("diffusion_pytorch_model")]
    data = bytearray(transformer.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    transformer.write_bytes(bytes(data))
    _fails(capsys, keys, "now hashes to")
    assert _snapshot(tmp_path / "run") == before
    shutil.copy(pipeline / "transformer" / transformer.name, transformer)
    index = weights / "model_index.json"
    index.write_text(index.read_text() + " ")  # the pipeline's own index defines the model too
    _fails(capsys, keys, "now hashes to")
    assert _snapshot(tmp_path / "run") == before


def test_the_dogs_config_runs_end_to_end_on_the_fixture_and_keeps_only_the_newest_weights(pipeline, tmp_path):
    timm = pytest.importorskip("timm")
    root = archives.stanford_dogs(tmp_path / "dogs", train=(12, 10, 8))
    torch.manual_seed(0)  # the config's DINOv2 probe judge, on a tiny timm network with random weights
    weights = tmp_path / "random.pth"
    torch.save(timm.create_model("test_convnext", pretrained=False, num_classes=0).state_dict(), weights)
    out = tmp_path / "run"
    assert main(["run", "configs/stanford-dogs-dit-256.yaml", f"data.root={root}", f"model.pretrained={pipeline}",
                 "data.resolution=8", "data.classes=[]", "data.head=golden_retriever", "data.n_max=8",
                 "data.imbalance_factor=2", "model.sampling_steps=2", "train.steps=3", "train.batch_size=4",
                 "loop.finetune_steps=2", "loop.generations=2", "eval.samples_per_class=4", *LIGHT_RUN,
                 "eval.kid_subsets=2", "eval.backbone=timm:test_convnext", f"eval.backbone_weights={weights}",
                 "eval.backbone_size=32", "--out", str(out)]) == 0
    assert [r["model_index"] for r in rows(out / "class_map.csv")] == ["151", "207", "254"]
    assert (out / "gen_000" / "model" / rf.NOT_KEPT).is_file()  # the config keeps the newest weights only
    assert (out / "gen_001" / "model" / "transformer").is_dir() and (out / "gen_000" / "model" / "dit.json").is_file()
    (reference,) = rows(out / rf.PRETRAINED)
    assert reference["generation"] == "-1" and "memorised_photos" in reference
    assert all("memorised_photos" in r for r in rows(out / "summary.csv"))
