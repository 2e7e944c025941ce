"""Tests of vidcolor.models (architectures, sizes, variants) and vidcolor.losses."""

from __future__ import annotations

import math

import pytest
import torch

from vidcolor.losses import ab_l2_loss, rebalanced_cross_entropy
from vidcolor.models import (
    ARCHITECTURES,
    VARIANTS,
    Architecture,
    all_variants,
    build_model,
    count_parameters,
    uses_rebalancing,
)

Q = 261


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plain_has_thesis_parameter_count():
    count = count_parameters(build_model("plain", "rebalance", 1.0, Q))
    assert abs(count - 32.2e6) / 32.2e6 < 0.01, count


def test_residual_has_thesis_parameter_count():
    count = count_parameters(build_model("residual", "rebalance", 1.0, Q))
    assert abs(count - 16.6e6) / 16.6e6 < 0.02, count


def test_variants_share_the_graph_except_l2_head():
    base = count_parameters(build_model("plain", "rebalance", 0.125, Q))
    assert count_parameters(build_model("plain", "no-rebalance", 0.125, Q)) == base
    assert count_parameters(build_model("plain", "dropout", 0.125, Q)) == base
    l2 = build_model("plain", "l2", 0.125, Q)
    assert count_parameters(l2) == base - (Q - 2) * (32 + 1)  # pred: 32 channels in at 0.125
    dropouts = [m.p for m in build_model("plain", "dropout", 0.125, Q).modules()
                if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 8
    assert dropouts[0] == pytest.approx(0.1) and dropouts[-1] == pytest.approx(0.3)
    assert dropouts == sorted(dropouts)


@pytest.mark.parametrize("arch", ["plain", "residual"])
@pytest.mark.parametrize("size", [(32, 32), (40, 24), (8, 16)])
def test_output_is_a_quarter_of_any_multiple_of_8(arch, size):
    model = build_model(arch, "rebalance", 0.0625, Q).eval()
    out = model(torch.rand(2, 1, *size))
    assert model.head == "histogram"
    assert out.shape == (2, Q, size[0] // 4, size[1] // 4)


def test_l2_variant_predicts_bounded_ab():
    model = build_model("plain", "l2", 0.0625, Q).eval()
    assert model.head == "ab"
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.mul_(50)
        out = model(torch.rand(1, 1, 32, 32))
    assert out.shape == (1, 2, 8, 8)
    assert out.abs().max() <= 110.0 + 1e-4


def test_width_scales_channels():
    small = count_parameters(build_model("residual", "rebalance", 0.0625, Q))
    larger = count_parameters(build_model("residual", "rebalance", 0.125, Q))
    assert small < larger < 16.6e6 / 20


def test_bad_arch_variant_width():
    with pytest.raises(ValueError, match="architecture"):
        build_model("unet", "rebalance", 1.0, Q)
    with pytest.raises(ValueError, match="no variant 'l2'"):
        build_model("residual", "l2", 1.0, Q)
    with pytest.raises(ValueError, match="width"):
        build_model("plain", "rebalance", 0.0, Q)
    for width in (float("inf"), float("nan"), 64.5, 1e6):
        with pytest.raises(ValueError, match="width must be a number in"):
            build_model("plain", "rebalance", width, Q)
    for num_bins in (-1, 221 * 221 + 1, 2.5, True):
        with pytest.raises(ValueError, match="num_bins"):
            build_model("plain", "rebalance", 1.0, num_bins)
    assert set(VARIANTS["residual"]) == {"rebalance", "no-rebalance"}
    assert uses_rebalancing("rebalance") and uses_rebalancing("dropout")
    assert not uses_rebalancing("no-rebalance") and not uses_rebalancing("l2")


def _tiny(num_bins: int, width: float = 1.0, variant: str = "rebalance") -> torch.nn.Module:
    """A one-layer network: the factory of the architecture the registry test adds."""
    model = torch.nn.Conv2d(1, num_bins, 1, stride=4)
    model.arch, model.variant, model.width, model.head = "tiny", variant, width, "histogram"
    return model


def test_a_registered_architecture_is_built_and_offered(monkeypatch):
    """One module with a factory plus one registration: build_model builds it, the variants
    and the command line's choices and help list it."""
    from click.testing import CliRunner

    from vidcolor._cli import train as train_cli  # its options made before "tiny" is added

    assert list(ARCHITECTURES) == ["plain", "residual"]
    assert all_variants() == ("rebalance", "no-rebalance", "dropout", "l2")
    monkeypatch.setitem(ARCHITECTURES, "tiny", Architecture(
        "tiny", "tests.test_models:_tiny", ("no-rebalance", "tv"), "a test network, 22"))
    model = build_model("tiny", "tv", 0.5, 11)
    assert model.arch == "tiny" and model.variant == "tv" and count_parameters(model) == 22
    assert VARIANTS["tiny"] == ("no-rebalance", "tv") and "tiny" in VARIANTS
    assert all_variants()[-1] == "tv"
    with pytest.raises(ValueError, match="choose one of no-rebalance, tv"):
        build_model("tiny", "rebalance")
    with pytest.raises(ValueError, match="choose one of plain, residual, tiny"):
        build_model("huge")
    assert "residual (16.6 M) or tiny (a test network, 22)" in train_cli._arch_help()
    assert train_cli._variant_help() == ("Loss/graph variant [default: rebalance]; rebalance is "
                                         "plain/residual only; dropout and l2 are plain only; "
                                         "tv is tiny only.")
    assert train_cli._default_variant("tiny") == "no-rebalance"
    result = CliRunner().invoke(train_cli.train, ["--help"])
    assert "plain (Zhang, 32.2 M) or residual (16.6 M)." in " ".join(result.output.split())


def test_the_registry_does_not_import_torch():
    """The command line reads the architectures for its help without loading torch."""
    import subprocess
    import sys

    code = ("import sys, vidcolor.models as m; assert 'plain' in m.VARIANTS; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cross_entropy_of_uniform_prediction_is_log_q():
    target = torch.zeros(2, 4, 3, 3)
    target[:, 1] = 0.7
    target[:, 2] = 0.3
    loss = rebalanced_cross_entropy(torch.zeros(2, 4, 3, 3), target)
    assert loss.item() == pytest.approx(math.log(4), rel=1e-6)


def test_rebalancing_weights_the_argmax_bin():
    logits = torch.randn(1, 3, 2, 2)
    target = torch.zeros(1, 3, 2, 2)
    target[0, 0, 0, :] = 1.0  # top row: bin 0
    target[0, 2, 1, :] = 0.6  # bottom row: arg-max bin 2
    target[0, 1, 1, :] = 0.4
    weights = torch.tensor([2.0, 5.0, 0.5])
    plain = -(target * torch.log_softmax(logits, 1)).sum(1)
    expected = (plain * torch.tensor([[2.0, 2.0], [0.5, 0.5]])).mean()
    assert rebalanced_cross_entropy(logits, target, weights).item() == pytest.approx(
        expected.item(), rel=1e-6)


def test_cross_entropy_is_minimal_at_target_and_has_gradient():
    target = torch.softmax(torch.randn(1, 5, 2, 2), 1)
    good = rebalanced_cross_entropy(target.log(), target)
    logits = torch.zeros(1, 5, 2, 2, requires_grad=True)
    worse = rebalanced_cross_entropy(logits, target)
    worse.backward()
    assert good < worse
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_l2_loss():
    pred = torch.zeros(1, 2, 2, 2)
    true = torch.zeros(1, 2, 2, 2)
    assert ab_l2_loss(pred, true).item() == 0.0
    true[:, 0] = 110.0
    assert ab_l2_loss(pred, true).item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        ab_l2_loss(pred, torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError):
        rebalanced_cross_entropy(torch.zeros(1, 3, 2, 2), torch.zeros(1, 4, 2, 2))


@pytest.mark.parametrize("arch, variant", [("plain", "rebalance"), ("plain", "dropout"),
                                           ("plain", "l2"), ("residual", "rebalance")])
def test_a_meta_spec_sizes_any_network_without_memory(arch, variant):
    """The largest width builds on the meta device (132 G parameters, nothing allocated), with
    the real network's shapes; its activations per pixel grow with the width."""
    from vidcolor.models import MAX_WIDTH, activations_per_pixel

    real = build_model(arch, variant, 0.125, Q)
    spec = build_model(arch, variant, 0.125, Q, device="meta")
    assert {k: (v.shape, v.dtype) for k, v in spec.state_dict().items()} == {
        k: (v.shape, v.dtype) for k, v in real.state_dict().items()}
    huge = build_model(arch, variant, MAX_WIDTH, Q, device="meta")
    assert all(p.is_meta for p in huge.parameters())
    assert count_parameters(huge) > 1000 * count_parameters(real)
    small, large = activations_per_pixel(spec), activations_per_pixel(huge)
    assert activations_per_pixel(real) == small and 0 < small < large
