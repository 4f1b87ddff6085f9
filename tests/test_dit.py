"""model.kind=dit on a tiny random DiTPipeline folder: loading, training on cached latents, guided sampling against
diffusers' own pipeline, LoRA, the synset class map, and every bad DiT setting."""

import numpy as np
import pytest
import torch
from diffusers import DiTPipeline

from vision_collapse.config import load_config
from vision_collapse.data import load_dataset
from vision_collapse.data.images import LabelledImages
from vision_collapse.errors import UserError
from vision_collapse.models.class_map import imagenet_synsets, resolve_class_map
from vision_collapse.models.diffusion import sampling_scheduler
from vision_collapse.models.dit import ADAPTER_FILE, DiTModel
from vision_collapse.models.dit_base import DiTStart, check_resolution, folder_sha256

import archives
from helpers import tiny_dit_pipeline

CLASSES = (151, 207, 254)  # three ImageNet classes the tiny dataset's three classes map to


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """One tiny random pipeline folder for the module."""
    return tiny_dit_pipeline(tmp_path_factory.mktemp("dit") / "pipeline")


def _config(pretrained, *keys):
    return load_config(None, ["model.kind=dit", f"model.pretrained={pretrained}", "loop.init=finetune",
                              "data.resolution=8", "train.batch_size=8", "train.lr=0.001", "train.ema_decay=0",
                              "train.hflip=true", "model.sampling_steps=4", *keys])


def _model(pretrained, *keys, conditional=True) -> DiTModel:
    cfg = _config(pretrained, *keys)
    start = DiTStart(str(pretrained), True, folder_sha256(pretrained), 1000, CLASSES)
    return DiTModel.from_start(cfg.model, start, pretrained, 8, 3, conditional)


def _data(n=24) -> LabelledImages:
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(n) % 3
    # each class a flat colour plus noise, so there is something to learn
    base = torch.tensor([[220, 30, 30], [30, 220, 30], [30, 30, 220]])[labels][:, :, None, None].float()
    images = (base + 20 * torch.randn((n, 3, 8, 8), generator=g)).clamp(0, 255).to(torch.uint8)
    return LabelledImages(images, labels, tuple(f"real/x/{i}" for i in range(n)), ("a", "b", "c"))


def _fit(model, steps, seed=0, **kw):
    train = load_config(None, [f"train.steps={steps}", "train.batch_size=8", "train.lr=0.001", "train.ema_decay=0",
                               "train.hflip=true"]).train
    return model.fit(_data(), train, torch.Generator().manual_seed(seed), **kw)


def test_loads_from_the_folder_and_the_loss_falls(pretrained):
    model = _model(pretrained)
    assert model.null_class == 1000 and model.transformer.config.num_embeds_ada_norm == 1000
    losses = _fit(model, 60)
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10]), (losses[:10], losses[-10:])


def test_every_block_keeps_its_null_row_but_drops_no_labels(pretrained):
    model = _model(pretrained)
    tables = [m for m in model.transformer.modules() if type(m).__name__ == "LabelEmbedding"]
    assert len(tables) == 2  # one per block
    assert all(t.dropout_prob == 0 and t.embedding_table.num_embeddings == 1001 for t in tables)
    y = torch.tensor([151] * 64)
    model.transformer.train()
    trained = [t(y) for t in tables]
    model.transformer.eval()
    assert all(torch.equal(a, t(y)) for a, t in zip(trained, tables))  # in train mode no label went to the null row


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_samples_are_uint8_at_the_resolution(pretrained, guidance):
    model = _model(pretrained, f"model.guidance_scale={guidance}")
    images = model.sample(5, torch.tensor([0, 1, 2, 0, 1]), torch.Generator().manual_seed(0))
    assert images.shape == (5, 3, 8, 8) and images.dtype == torch.uint8
    again = model.sample(5, torch.tensor([0, 1, 2, 0, 1]), torch.Generator().manual_seed(0))
    assert torch.equal(images, again)


def test_unconditional_and_grey_samples(pretrained):
    model = _model(pretrained, conditional=False)
    model.channels = 1  # a grey dataset over the RGB autoencoder
    images = model.sample(3, None, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8) and images.dtype == torch.uint8


def test_guided_ddim_matches_diffusers_pipeline(pretrained):
    model = _model(pretrained, "model.guidance_scale=3", "model.sampling_steps=5")
    labels = torch.tensor([0, 1, 2, 1])
    ours = model.sample(4, labels, torch.Generator().manual_seed(7))
    pipe = DiTPipeline(transformer=model.transformer, vae=model.vae,
                       scheduler=sampling_scheduler(model.cfg, model.scheduler, pixels=False))
    theirs = pipe(class_labels=[CLASSES[k] for k in labels.tolist()], guidance_scale=3.0, num_inference_steps=5,
                  generator=torch.Generator().manual_seed(7), output_type="np").images
    theirs = torch.from_numpy(np.round(theirs * 255)).permute(0, 3, 1, 2)
    assert (ours.int() - theirs.int()).abs().max() <= 1


def test_save_and_load_sample_the_same_images(pretrained, tmp_path):
    model = _model(pretrained, "model.guidance_scale=2")
    _fit(model, 3)
    model.save(tmp_path / "model")
    assert (tmp_path / "model" / "transformer").is_dir() and not (tmp_path / "model" / ADAPTER_FILE).exists()
    again = DiTModel.load(tmp_path / "model", model.cfg, 3, True)
    labels = torch.tensor([2, 0, 1])
    assert torch.equal(model.sample(3, labels, torch.Generator().manual_seed(3)),
                       again.sample(3, labels, torch.Generator().manual_seed(3)))


def test_lora_trains_only_adapters_and_saves_only_them(pretrained, tmp_path):
    model = _model(pretrained, "model.adapter=lora", "model.lora_rank=2")
    base = {k: v.clone() for k, v in model.transformer.state_dict().items() if "lora_" not in k}
    trainable = [k for k, p in model.transformer.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in k for k in trainable)
    lora_b = {k: v.clone() for k, v in model.transformer.state_dict().items() if "lora_B" in k}
    assert all(v.abs().max() == 0 for v in lora_b.values())  # LoRA starts as the identity
    _fit(model, 5)
    after = model.transformer.state_dict()
    assert all(torch.equal(after[k], v) for k, v in base.items())
    assert any(after[k].abs().max() > 0 for k in lora_b)
    model.save(tmp_path / "model")
    assert (tmp_path / "model" / ADAPTER_FILE).is_file() and not (tmp_path / "model" / "transformer").exists()
    again = DiTModel.load(tmp_path / "model", model.cfg, 3, True)
    labels = torch.tensor([0, 1])
    assert torch.equal(model.sample(2, labels, torch.Generator().manual_seed(1)),
                       again.sample(2, labels, torch.Generator().manual_seed(1)))


def test_cached_latents_give_the_loss_of_encoding_every_step(pretrained):
    cached = _fit(_model(pretrained), 4, seed=5)
    encoded = _fit(_model(pretrained), 4, seed=5, cache_latents=False)
    np.testing.assert_allclose(cached, encoded, rtol=1e-4)


def test_vae_never_runs_in_a_cached_training_step(pretrained, monkeypatch):
    model = _model(pretrained)
    calls = []
    original = model.vae.encode
    monkeypatch.setattr(model.vae, "encode", lambda x: calls.append(len(x)) or original(x))
    _fit(model, 5)
    assert sum(calls) == 2 * 24  # once per training image and once per flipped copy, before the first step


def test_synset_map_on_stanford_dogs(tmp_path):
    root = archives.stanford_dogs(tmp_path / "dogs")
    train, _, _ = load_dataset(load_config(None, ["data.name=stanford-dogs", f"data.root={root}",
                                                  "data.resolution=8"]).data)
    # From the published ImageNet-1k class list: 151 Chihuahua, 207 golden retriever, 254 pug.
    assert resolve_class_map("synset", train, 1000) == [151, 207, 254]
    synsets = imagenet_synsets()
    assert len(synsets) == len(set(synsets)) == 1000 and list(synsets) == sorted(synsets)
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    assert [_IMAGENET_CATEGORIES[i] for i in (151, 207, 254)] == ["Chihuahua", "golden retriever", "pug"]
    # Stanford Dogs' three non-terrier extras sit just past ImageNet's dog block
    assert [synsets.index(s) for s in ("n02115641", "n02115913", "n02116738")] == [273, 274, 275]


@pytest.mark.parametrize("rows, message", [
    ("class_name,model_index\na,3\nb,4\n", "does not cover 1 dataset class(es), e.g. c"),
    ("class_name,model_index\na,3\nb,4\nc,1000\n", "c -> 1000, but the model has classes 0..999"),
    ("name,index\na,3\n", "needs the columns class_name,model_index"),
])
def test_csv_class_map_errors(tmp_path, rows, message):
    (tmp_path / "map.csv").write_text(rows)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_class_map(str(tmp_path / "map.csv"), _data(), 1000)


def test_csv_class_map_is_read():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "map.csv").write_text("class_name,model_index\nc,9\na,7\nb,8\n")
        assert resolve_class_map(str(Path(d) / "map.csv"), _data(), 1000) == [7, 8, 9]


def test_synset_map_refuses_folders_without_synsets():
    with pytest.raises(UserError, match="needs class folders named by WordNet synset"):
        resolve_class_map("synset", _data(), 1000)


def test_unreachable_resolution_names_a_reachable_one():
    with pytest.raises(UserError, match="multiple of 16, e.g. data.resolution=256"):
        check_resolution(250, 8, 2)
    check_resolution(256, 8, 2)


def test_a_fresh_transformer_starts_with_adaln_zero():
    from vision_collapse.models.dit_base import fresh_transformer

    cfg = load_config(None, ["model.kind=dit", "model.dit_layers=2", "model.dit_heads=2", "model.dit_head_dim=8"]).model
    torch.manual_seed(0)
    t = fresh_transformer(cfg, latent_size=4, latent_channels=4, num_classes=10)
    zeroed = [b.norm1.linear for b in t.transformer_blocks] + [t.proj_out_1, t.proj_out_2]
    assert all(not m.weight.any() and not m.bias.any() for m in zeroed)
    assert t.pos_embed.proj.weight.abs().sum() > 0 and t.transformer_blocks[0].attn1.to_q.weight.abs().sum() > 0
    x = torch.randn(3, 4, 4, 4)
    out = t(x, timestep=torch.tensor([1, 500, 999]), class_labels=torch.tensor([0, 3, 10])).sample
    assert out.shape == (3, 8, 4, 4) and not out.any()  # the prediction starts at exactly 0
    # Each block starts as the identity: its gated attention and feed-forward add nothing.
    block = t.transformer_blocks[1]
    h = torch.randn(3, 4, 16)
    assert torch.equal(block(h, timestep=torch.tensor([1, 2, 3]), class_labels=torch.tensor([0, 1, 2])), h)
