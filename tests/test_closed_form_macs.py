"""MACs are counted in closed form: every registered module kind has a formula equal to thop's figure, and counting
never builds a module. thop (``profile_macs``) stays the reference here only."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eeea import get_space
from eeea.models import specs
from eeea.models.ops import OP_MACS, OPS
from eeea.models.specs import MAC_FORMULAS, MODULE_BUILDERS, profile_macs, profiled_spec_macs, spec_macs
from eeea.spaces.base import list_spaces

torch.set_num_threads(1)
AUDIO = {"seconds": 0.25}  # short clips keep the reference (thop on the built model) fast


def test_every_registered_kind_has_a_closed_form_formula():
    assert set(MAC_FORMULAS) == set(MODULE_BUILDERS)
    assert set(OP_MACS) == set(OPS)


def test_counting_builds_no_module(monkeypatch):
    """A count of a spec never seen before is answered without building (or profiling) anything."""
    spec_macs.cache_clear()
    monkeypatch.setattr(specs, "MODULE_BUILDERS", {})  # building any spec would raise KeyError now
    try:
        for name in list_spaces():
            space = get_space(name)
            size = space.size(**(AUDIO if len(space.input_shape()) == 1 else {}))
            for seed in range(3):
                assert space.count_macs(space.random_genome(np.random.default_rng(seed)), **size) > 0
    finally:
        spec_macs.cache_clear()


def _size(space_name: str, data: st.DataObject) -> dict:
    space = get_space(space_name)
    if len(space.input_shape()) == 1:
        return {"seconds": data.draw(st.sampled_from([0.1, 0.25, 0.33])), "outputs": data.draw(st.integers(1, 4))}
    if space_name in ("eeea", "nsga_net", "darts"):
        network = data.draw(st.sampled_from(["cifar", "imagenet"]))
        return {"channels": data.draw(st.sampled_from([4, 6])), "layers": data.draw(st.integers(3, 5)),
                "num_classes": data.draw(st.integers(2, 12)), "network": network,
                "input_size": data.draw(st.sampled_from([16, 32] if network == "cifar" else [64, 96]))}
    if space_name == "nb201":  # its residual reductions halve even sizes only (as NAS-Bench-201's 32 px)
        return {"num_classes": data.draw(st.integers(2, 12)), "input_size": data.draw(st.sampled_from([16, 32, 40]))}
    return {"num_classes": data.draw(st.integers(2, 12)), "input_size": data.draw(st.sampled_from([32, 40, 57]))}


@pytest.mark.parametrize("space_name", list_spaces())
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_closed_form_equals_thop_on_the_built_model(space_name, data):
    """Property test over random genomes of every space (the registered ones and every YAML in search_spaces/)."""
    space = get_space(space_name)
    size = space.size(**_size(space_name, data))
    x = [data.draw(st.integers(int(lo), int(hi))) for lo, hi in zip(space.xl, space.xu)]
    genome = space.decode(np.array(x))
    model = space.build(genome, **size).eval()
    example = torch.zeros(1, *space.genome_input_shape(genome, **size))
    assert space.count_macs(genome, **size) == profile_macs(model, example)


# Spec by spec, on odd shapes no space produces today ------------------------------------------------------------
def _spec_and_shape(data: st.DataObject) -> tuple[tuple, tuple]:
    kind = data.draw(st.sampled_from(sorted(MODULE_BUILDERS)))
    c = data.draw(st.sampled_from([2, 4, 6, 8]))
    h, w = data.draw(st.integers(5, 13)), data.draw(st.integers(5, 13))
    image = (c, h, w)
    if kind == "op":  # the cells' ops run on even sizes (skip_connect at stride 2 halves them exactly)
        op, stride = data.draw(st.sampled_from(sorted(OPS))), data.draw(st.sampled_from([1, 2]))
        return ("op", op, c, stride), (c, 2 * (h // 2), 2 * (w // 2)) if stride == 2 else image
    if kind == "relu_conv_bn":
        k = data.draw(st.sampled_from([1, 3]))
        return (kind, c, data.draw(st.integers(1, 8)), k, data.draw(st.sampled_from([1, 2])), k // 2), image
    if kind == "factorized_reduce":
        return (kind, c, 2 * data.draw(st.integers(1, 4))), (c, 2 * (h // 2), 2 * (w // 2))
    if kind == "linear":
        n = data.draw(st.integers(1, 20))
        return (kind, n, data.draw(st.integers(1, 9))), (n,)
    if kind == "global_avg_pool":
        return (kind,), image
    if kind in ("stem_cifar", "stem0_imagenet"):
        return (kind, c), (3, h, w)
    if kind == "stem1_imagenet":
        return (kind, c), image
    if kind == "conv_bn_act":
        return (kind, c, data.draw(st.integers(1, 9)), data.draw(st.sampled_from([1, 3, 5])),
                data.draw(st.sampled_from([1, 2])), data.draw(st.sampled_from(["relu", "h_swish"]))), image
    if kind == "mbconv":
        c = data.draw(st.sampled_from([8, 16]))  # widths of the MobileNetV3 layouts (multiples of 8)
        return (kind, c, data.draw(st.sampled_from([c, 8, 24])), data.draw(st.sampled_from([3, 5, 7])),
                data.draw(st.sampled_from([1, 2])), data.draw(st.sampled_from([1, 3, 4, 6])),
                data.draw(st.sampled_from(["relu", "h_swish"])), data.draw(st.booleans())), (c, h, w)
    if kind == "feature_mix":
        return (kind, c, data.draw(st.integers(1, 16)), "h_swish"), image
    if kind == "classifier":
        n = data.draw(st.integers(1, 20))
        return (kind, n, data.draw(st.integers(1, 9)), 0.0), (n,)
    if kind == "log_mel_front":
        n_fft = data.draw(st.sampled_from([32, 64, 100]))
        return (kind, n_fft, n_fft, data.draw(st.sampled_from([10, 16, 32])), data.draw(st.integers(4, 30)), 16000,
                0.0, 8000.0, 1e-7), (data.draw(st.integers(n_fft, 3000)),)
    if kind == "conv_bn_relu":
        return (kind, c, data.draw(st.integers(1, 9)), data.draw(st.sampled_from([1, 2, 3, 5]))), image
    if kind == "max_pool2d":
        k = data.draw(st.sampled_from([2, 3]))
        return (kind, k, data.draw(st.sampled_from([1, 2, None])), data.draw(st.integers(0, k // 2))), image
    if kind == "attention_pool":
        return (kind, c, data.draw(st.booleans())), image
    if kind == "mean_pool":
        return (kind,), image
    even = (c, 2 * (h // 2), 2 * (w // 2))
    if kind in ("nb201_op", "nb201_cell"):
        ops = [data.draw(st.sampled_from(["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]))
               for _ in range(6 if kind == "nb201_cell" else 1)]
        return (kind, ops[0] if kind == "nb201_op" else tuple(ops), c), image
    if kind == "nb201_reduction":
        return (kind, c, data.draw(st.sampled_from([4, 8]))), even
    if kind == "nb201_stem":
        return (kind, c), (3, h, w)
    if kind == "nb201_head":
        return (kind, c), image
    if kind == "macro_identity":
        stride = data.draw(st.sampled_from([1, 2]))
        return (kind, c, data.draw(st.sampled_from([c, 8])), stride), image
    raise AssertionError(f"no strategy for module kind {kind!r}: add one here")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_each_formula_equals_thop_and_the_module_output_shape(data):
    spec, shape = _spec_and_shape(data)
    assert spec_macs(spec, shape) == profiled_spec_macs(spec, shape)
