"""The Once-for-All MobileNetV3 space: blocks, layout, encoding, validation, and exact counting on random genomes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from eeea import Genome, GenomeError, UserError, count_macs, count_params, create_model, get_space, resolve_genome
from eeea.models.specs import profile_macs
from eeea.models.mobilenet import MBConv, MobileNetV3, SqueezeExcite, make_divisible, mbv3_net_spec

torch.set_num_threads(1)
SPACE = get_space("ofa_mbv3")


@st.composite
def ofa_genomes(draw: st.DrawFn) -> Genome:
    """Random genomes drawn through the space's own integer encoding."""
    x = [draw(st.integers(int(lo), int(hi))) for lo, hi in zip(SPACE.xl, SPACE.xu)]
    return SPACE.decode(np.array(x))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# building blocks -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected", [(16, 16), (72, 72), (40 * 3, 120), (24 * 4.5, 112), (10, 16), (4, 8), (59, 56), (60, 64)]
)
def test_make_divisible_rounds_to_nearest_multiple_of_8_without_losing_10_percent(value, expected):
    assert make_divisible(value, 8) == expected


def test_squeeze_excite_hidden_width_is_quarter_rounded_to_8():
    se = SqueezeExcite(120)
    assert se.reduce.out_channels == make_divisible(120 // 4, 8) == 32
    assert se.reduce.bias is not None and se.expand.bias is not None
    assert isinstance(se.gate, nn.Hardsigmoid)


def test_mbconv_hidden_width_and_residual_rule():
    block = MBConv(40, 40, 5, 1, 3, "relu", True)
    assert block.expand[0].out_channels == make_divisible(40 * 3, 8) and block.residual and block.se is not None
    assert not MBConv(40, 80, 3, 1, 4, "h_swish", False).residual  # widths differ
    assert not MBConv(40, 40, 3, 2, 4, "h_swish", False).residual  # stride 2
    assert MBConv(16, 16, 3, 1, 1, "relu", False).expand is None  # expansion 1: no expansion conv
    x = torch.randn(2, 40, 12, 12)
    assert block(x).shape == x.shape


# the OFA layout of EEEA-Net-C1/C2 ------------------------------------------------------------------------------
def test_c1_layout_is_the_width_1_ofa_mobilenet_v3():
    model = create_model("eeea_c1")
    first = model.stem[0]
    assert (first[0].in_channels, first[0].out_channels, first[0].kernel_size, first[0].stride) == (3, 16, (3, 3), (2, 2))
    assert isinstance(first[2], nn.Hardswish)
    assert model.stem[1].expand is None and model.stem[1].residual  # first block: MBConv k3 e1, 16 -> 16
    blocks = list(model.blocks)
    depths = [2, 2, 2, 2, 4]
    firsts = np.cumsum([0] + depths[:-1])
    widths, strides = [24, 40, 80, 112, 160], [2, 2, 2, 1, 2]
    acts, ses = [nn.ReLU, nn.ReLU, nn.Hardswish, nn.Hardswish, nn.Hardswish], [False, True, False, True, True]
    for s, i in enumerate(firsts):
        block = blocks[i]
        assert block.project[0].out_channels == widths[s]
        assert block.depthwise[0].stride == (strides[s], strides[s])
        assert isinstance(block.depthwise[2], acts[s])
        assert (block.se is not None) == ses[s]
        assert not block.residual  # the width changes at every stage's first block (stage 4 runs at stride 1)
        assert all(b.residual for b in blocks[i + 1 : i + depths[s]])
    c1 = resolve_genome("eeea_c1").arch
    for block, k, e in zip(blocks, c1["kernels"], c1["expansions"]):
        assert block.depthwise[0].kernel_size == (k, k)
        assert block.expand[0].out_channels == make_divisible(block.expand[0].in_channels * e, 8)
    final, mix = model.head
    assert (final[0].in_channels, final[0].out_channels) == (160, 960) and isinstance(final[1], nn.BatchNorm2d)
    assert (mix[1].in_channels, mix[1].out_channels) == (960, 1280)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in mix)  # the feature mix has no BatchNorm
    assert model.classifier[1].bias is not None and model.classifier[1].out_features == 1000


@pytest.mark.parametrize("name, params_m, macs_m", [("eeea_c1", 5.1, 137), ("eeea_c2", 6.0, 217)])
def test_c1_c2_counts_match_the_paper_within_1_percent_at_192px(name, params_m, macs_m):
    genome = resolve_genome(name)
    params, macs = count_params(genome), count_macs(genome)
    assert abs(params / (params_m * 1e6) - 1) < 0.01
    assert abs(macs / (macs_m * 1e6) - 1) < 0.01
    model = create_model(name).eval()
    assert n_params(model) == params
    assert profile_macs(model, torch.zeros(1, 3, 192, 192)) == macs


def test_c1_runs_at_192px_and_counts_follow_size_overrides():
    genome = resolve_genome("eeea_c1")
    model = create_model("eeea_c1", num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 192, 192)).shape == (2, 10)
    assert count_params(genome, num_classes=10) == n_params(model)
    assert count_macs(genome, num_classes=10, input_size=224) == profile_macs(model, torch.zeros(1, 3, 224, 224))
    assert count_macs(genome, input_size=224) > count_macs(genome)


# random genomes ------------------------------------------------------------------------------------------------
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ofa_genomes())
def test_random_genomes_build_run_and_count_exactly(genome):
    model = create_model(genome, num_classes=10).eval()
    n = genome.arch["resolution"]
    assert SPACE.genome_input_shape(genome) == (3, n, n)
    with torch.no_grad():
        assert model(torch.randn(1, 3, n, n)).shape == (1, 10)
    assert count_params(genome, num_classes=10) == n_params(model)
    assert count_macs(genome, num_classes=10) == profile_macs(model, torch.zeros(1, 3, n, n))


@settings(max_examples=200, deadline=None)
@given(ofa_genomes())
def test_encoding_round_trips_and_is_canonical(genome):
    x = SPACE.encode(genome)
    assert x.shape == (SPACE.n_var,) and (x >= SPACE.xl).all() and (x <= SPACE.xu).all()
    assert SPACE.decode(x) == genome
    assert SPACE.encode(SPACE.decode(x)).tolist() == x.tolist()
    assert Genome.from_text(genome.to_text()) == genome
    assert Genome.from_dict(genome.to_dict()) == genome
    assert len(genome.arch["kernels"]) == len(genome.arch["expansions"]) == sum(genome.arch["depths"])


def test_encoding_shape_and_groups():
    assert SPACE.n_var == 5 * 4 * 2 + 5 + 1
    groups = SPACE.gene_groups()
    assert sorted(i for g in groups for i in g) == list(range(SPACE.n_var))
    assert groups[0] == [0, 1]  # a block's kernel and expansion travel together
    rng = np.random.default_rng(0)
    for _ in range(20):
        SPACE.validate(SPACE.decode(SPACE.sample(rng)))
    assert SPACE.resolutions[0] == 128 and SPACE.resolutions[-1] == 224 and 192 in SPACE.resolutions


# validation ----------------------------------------------------------------------------------------------------
def _c1(**changes) -> Genome:
    arch = {**resolve_genome("eeea_c1").arch, **changes}
    return Genome("ofa_mbv3", arch)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"kernels": [3] * 11}, "kernels"),
        ({"expansions": [3] * 11 + [5]}, "expansions[11]"),
        ({"depths": [2, 2, 2, 2, 5]}, "depths[4]"),
        ({"depths": [2, 2, 2, 2]}, "depths"),
        ({"resolution": 193}, "resolution"),
        ({"width": 1.2}, "width"),
    ],
)
def test_bad_genomes_name_the_field(changes, field):
    with pytest.raises(GenomeError, match=field.replace("[", r"\[").replace("]", r"\]")):
        SPACE.validate(_c1(**changes))


def test_missing_field_and_bad_sizes_are_user_errors():
    arch = dict(resolve_genome("eeea_c1").arch)
    del arch["depths"]
    with pytest.raises(GenomeError, match="depths"):
        SPACE.validate(Genome("ofa_mbv3", arch))
    with pytest.raises(UserError, match="layers"):
        create_model("eeea_c1", layers=20)
    with pytest.raises(UserError, match="input_size"):
        count_macs(resolve_genome("eeea_c1"), input_size=8)


# a different input (the seam for an audio front end) ------------------------------------------------------------
def test_network_takes_other_input_channels_and_a_front_module():
    c1 = resolve_genome("eeea_c1").arch
    spec = mbv3_net_spec(c1["kernels"], c1["expansions"], c1["depths"], num_classes=7, in_channels=1, stem_stride=1)
    front = nn.Unflatten(1, (1, 32, 40))  # stands in for a log-mel front end: (B, 32*40) -> (B, 1, 32, 40)
    model = MobileNetV3(spec, front=front).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 32 * 40)).shape == (2, 7)
        assert model.forward_features(torch.randn(2, 32 * 40)).shape == (2, 1280)
    assert model.stem[0][0].in_channels == 1 and model.stem[0][0].stride == (1, 1)
