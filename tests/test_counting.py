import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eeea import count_macs, count_params, create_model, get_space, resolve_genome
from eeea.models.specs import profile_macs
from strategies import examples, genomes


def built_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("auxiliary_head"))


sizes = st.fixed_dictionaries(
    {
        "channels": st.integers(2, 24),
        "layers": st.integers(3, 9),
        "num_classes": st.integers(1, 120),
        "network": st.sampled_from(["cifar", "cifar", "imagenet"]),
        "auxiliary": st.booleans(),
    }
).map(lambda s: {**s, "channels": s["channels"] + (s["channels"] % 2 if s["network"] == "imagenet" else 0)})


@pytest.mark.parametrize("space_name", ["eeea", "nsga_net", "darts"])
@examples(default=30, thorough=175)
@given(data=st.data(), size=sizes)
def test_count_params_equals_the_built_model(space_name, data, size):
    genome = data.draw(genomes(space_name))
    model = get_space(space_name).build(genome, **size)
    assert count_params(genome, size) == built_params(model)


@pytest.mark.parametrize("space_name", ["eeea", "nsga_net"])
@examples(default=6, thorough=15)
@given(data=st.data())
def test_count_macs_equals_thop_on_the_built_model(space_name, data):
    genome = data.draw(genomes(space_name))
    network = data.draw(st.sampled_from(["cifar", "imagenet"]))
    size = {
        "channels": data.draw(st.sampled_from([4, 6, 8])),
        "layers": data.draw(st.integers(3, 6)),
        "num_classes": data.draw(st.integers(2, 20)),
        "network": network,
        "input_size": data.draw(st.sampled_from([16, 32] if network == "cifar" else [64, 96])),
    }
    space = get_space(space_name)
    model = space.build(genome, **size).eval()
    x = torch.zeros(1, *space.input_shape(**size))
    assert count_macs(genome, size) == profile_macs(model, x)


def test_published_model_macs_equal_thop():
    for name in ("eeea_c", "darts_v2"):
        genome = resolve_genome(name)
        model = create_model(name).eval()
        assert count_macs(genome) == profile_macs(model, torch.zeros(1, 3, 32, 32))


def test_auxiliary_head_is_excluded_from_counts():
    genome = resolve_genome("eeea_b")
    with_aux = create_model("eeea_b", auxiliary=True)
    assert count_params(genome, auxiliary=True) == count_params(genome) == built_params(with_aux)
    assert sum(p.numel() for p in with_aux.parameters()) > count_params(genome)


def test_darts_reference_macs():
    # DARTS (second order) on CIFAR-10: 528M multiply-adds is the figure the DARTS-family papers quote.
    assert round(count_macs(resolve_genome("darts_v2")) / 1e6) == 528


def test_counts_do_not_depend_on_call_order():
    genome = resolve_genome("pc_darts")
    first = count_params(genome, channels=10, layers=5)
    count_params(resolve_genome("nasnet_a"), channels=10, layers=5)
    assert count_params(genome, {"channels": 10}, layers=5) == first
