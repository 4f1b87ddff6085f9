"""eval.backbone=timm:MODEL: any timm model from a weights file on disk (random weights here), its features equal
to the model applied by hand, its weights' hash recorded, and one line for every way it can be missing."""

import hashlib

import pytest
import torch

from vision_collapse.config import load_config
from vision_collapse.errors import UserError

timm = pytest.importorskip("timm")

MODEL = "test_convnext"  # one of timm's tiny test networks: 64 features at 160 x 160


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    net = timm.create_model(MODEL, pretrained=False, num_classes=0)
    path = tmp_path_factory.mktemp("weights") / "random.pth"
    torch.save(net.state_dict(), path)
    return path


def _eval(*overrides):
    return load_config(None, list(overrides)).eval


def test_timm_features_are_the_models_own_on_its_resized_normalised_input(weights):
    from torchvision.transforms.v2 import functional as TF

    from vision_collapse.metrics.backbone import feature_extractor

    extract = feature_extractor(_eval(f"eval.backbone=timm:{MODEL}", f"eval.backbone_weights={weights}"), None)
    g = torch.Generator().manual_seed(1)
    grey = torch.randint(0, 256, (5, 1, 16, 16), generator=g, dtype=torch.uint8)
    features = extract(grey)
    reference = timm.create_model(MODEL, pretrained=False, num_classes=0)
    reference.load_state_dict(torch.load(weights, weights_only=True))
    data = timm.data.resolve_data_config({}, model=reference)
    x = TF.resize(grey.expand(-1, 3, -1, -1).float() / 255, list(data["input_size"][1:]),
                  interpolation=TF.InterpolationMode.BICUBIC, antialias=True).clamp(0, 1)
    x = TF.normalize(x, list(data["mean"]), list(data["std"]))
    with torch.no_grad():
        expected = reference.eval()(x).double()
    assert features.shape == (5, reference.num_features) and features.dtype == torch.float64
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5)


def test_the_weights_hash_is_recorded(weights):
    from vision_collapse.metrics.backbone import backbone_record

    record = backbone_record(_eval(f"eval.backbone=timm:{MODEL}", f"eval.backbone_weights={weights}"))
    assert record["backbone"] == f"timm:{MODEL}"
    assert record["backbone_weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert backbone_record(_eval()) == {"backbone": "judge"}


def test_every_missing_piece_is_one_line_and_nothing_is_downloaded(tmp_path, monkeypatch):
    from vision_collapse.metrics import backbone

    def no_network(*args, **kwargs):
        raise AssertionError("tried the network")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", no_network)
    cases = [
        (_eval(f"eval.backbone=timm:{MODEL}"), "needs its weights on disk"),
        (_eval(f"eval.backbone=timm:{MODEL}", f"eval.backbone_weights={tmp_path / 'none.pth'}"), "does not exist"),
        (_eval("eval.backbone=timm:no_such_net_at_all"), "timm has no model 'no_such_net_at_all'"),
    ]
    for cfg, message in cases:
        with pytest.raises(UserError) as caught:
            backbone.feature_extractor(cfg, None)
        assert message in str(caught.value) and "\n" not in str(caught.value)
    for overrides, message in ((["eval.backbone=dino"], "unknown eval.backbone 'dino'"),
                               (["eval.backbone=timm:"], "eval.backbone must be of type str"),
                               (["eval.backbone_weights=w.pth"], "eval.backbone_weights names a timm model's")):
        with pytest.raises(UserError) as caught:
            _eval(*overrides)
        assert message in str(caught.value)


def test_each_backbone_mistake_stops_a_run_with_one_line_before_writing(tmp_path, capsys, weights):
    from vision_collapse.cli import main

    from helpers import FAST_GMM

    other = tmp_path / "other.pth"  # weights of another architecture
    torch.save(timm.create_model("test_vit", pretrained=False, num_classes=0).state_dict(), other)
    cases = [
        (["eval.backbone=timm:vit_small_patch14_dinov2.lvd142m"],
         "models--timm--vit_small_patch14_dinov2.lvd142m"),  # names the file it looked for
        (["eval.backbone=timm:vit_smal_patch14_dinov2"], "nearest: vit_small_patch14_dinov2"),
        ([f"eval.backbone=timm:{MODEL}", f"eval.backbone_weights={other}"], "first mismatched key: "),
        (["judge.kind=probe"], "judge.kind=probe reads a backbone's features"),
    ]
    for k, (overrides, message) in enumerate(cases):
        out = tmp_path / f"run{k}"
        capsys.readouterr()
        assert main(["run", "configs/neutral.yaml", *FAST_GMM, *overrides, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err, err
        assert not out.exists()
