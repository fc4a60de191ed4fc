"""The NAS-Bench-201 and NAS-Bench-Macro spaces: encodings, the benchmarks' own names of a network, and exact counts
(equal to the built model and to the benchmarks' published parameter counts, every row)."""
from __future__ import annotations

import csv
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeea import Genome, GenomeError, get_space
from eeea.cli import main
from eeea.counting import count_params
from eeea.models.macro import macro_key, parse_macro_key
from eeea.models.nb201 import cell_string, parse_cell_string
from eeea.spaces.benchmarks import NB201_DATA_SIZES

from strategies import assert_round_trips, genomes

SPACES = ["nb201", "nas_bench_macro"]


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_count_params_equals_the_built_model_and_it_runs(name, data):
    space = get_space(name)
    genome = data.draw(genomes(name))
    model = space.build(genome).eval()
    assert space.count_params(genome) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        assert model(torch.zeros(2, *space.input_shape())).shape == (2, 10)


@pytest.mark.parametrize("name", SPACES)
def test_encoding_round_trips(name):
    space = get_space(name)
    for seed in range(20):
        assert_round_trips(space, seed)


@settings(max_examples=200, deadline=None)
@given(genome=genomes("nb201"))
def test_cell_string_round_trips(genome):
    space = get_space("nb201")
    text = space.benchmark_name(genome)
    assert text.count("+") == 2 and text.startswith("|") and space.from_benchmark(text) == genome
    assert cell_string(parse_cell_string(text)) == text


@settings(max_examples=200, deadline=None)
@given(genome=genomes("nas_bench_macro"))
def test_macro_key_round_trips(genome):
    space = get_space("nas_bench_macro")
    key = space.benchmark_name(genome)
    assert len(key) == 8 and set(key) <= set("012") and space.from_benchmark(key) == genome
    assert macro_key(parse_macro_key(key)) == key


def test_the_benchmark_names_map_to_the_right_ops():
    g = get_space("nb201").from_benchmark("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert g.arch["edges"] == ["nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"]
    m = get_space("nas_bench_macro").from_benchmark("01200000")
    assert m.arch["layers"][:3] == ["identity", "mbconv_k3_e3", "mbconv_k5_e6"]


@pytest.mark.parametrize("bad", ["", "|none~0|", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~0|+|none~0|+|none~0|none~1|none~2|"])
def test_bad_cell_strings_are_one_line_errors(bad):
    with pytest.raises(GenomeError, match="NAS-Bench-201|node|edge"):
        get_space("nb201").from_benchmark(bad)


@pytest.mark.parametrize("bad", ["0120000", "012000003", "01200003", "abcdefgh"])
def test_bad_macro_keys_are_errors(bad):
    with pytest.raises(GenomeError, match="NAS-Bench-Macro key"):
        get_space("nas_bench_macro").from_benchmark(bad)


def test_unknown_op_in_a_genome_is_refused():
    with pytest.raises(GenomeError, match="unknown op"):
        get_space("nb201").validate(Genome("nb201", {"edges": ["none"] * 5 + ["conv"]}))


def test_nb201_counts_equal_the_benchmark_every_row(shared_dir):
    """All 491 rows of NASLib's NAS-Bench-201 CIFAR-10 counts, to the parameter (BN affine weights included)."""
    space = get_space("nb201")
    with open(shared_dir / "data" / "nasbench201_counts_cifar10.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 491
    wrong = [r["arch"] for r in rows if count_params(space.from_benchmark(r["arch"])) != int(r["params"])]
    assert not wrong, f"{len(wrong)} cells differ, e.g. {wrong[0]}"


@pytest.mark.parametrize("dataset, head", [("cifar100", 5_850), ("imagenet16", 7_150)])
def test_nb201_counts_the_network_of_each_data_set(shared_dir, dataset, head):
    """CIFAR-100 and ImageNet16-120 train the same cells with a 100- and a 120-class head (64 x 90 + 90 and
    64 x 110 + 110 parameters more than CIFAR-10's): the task counts that network, and it is the one built."""
    from eeea.tasks import get_task

    task = get_task("nb201", data=str(shared_dir / "data" / "nasbench201.csv"), dataset=dataset)
    size = task.size_overrides()
    assert size == NB201_DATA_SIZES[dataset] and size["num_classes"] == {"cifar100": 100, "imagenet16": 120}[dataset]
    space = get_space("nb201")
    with open(shared_dir / "data" / "nasbench201_counts_cifar10.csv") as f:
        rows = list(csv.DictReader(f))[:50]
    assert all(count_params(space.from_benchmark(r["arch"]), size) == int(r["params"]) + head for r in rows)
    genome = space.from_benchmark(rows[0]["arch"])
    model = space.build(genome, **size).eval()
    assert count_params(genome, size) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        n = size["input_size"]
        assert model(torch.zeros(2, 3, n, n)).shape == (2, size["num_classes"])
    assert space.count_macs(genome, **size) < space.count_macs(genome) or dataset == "cifar100"


def test_show_gives_an_nb201_cell_s_params_on_every_data_set(capsys):
    genome = get_space("nb201").validate(Genome("nb201", {"edges": ["nor_conv_3x3"] * 6}))
    assert main(["show", genome.to_text()]) == 0
    out = capsys.readouterr().out
    counts = {d: count_params(genome, s) for d, s in NB201_DATA_SIZES.items()}
    assert counts["cifar100"] - counts["cifar10"] == 5_850 and counts["imagenet16"] - counts["cifar10"] == 7_150
    assert ("params of the benchmark's network per data set: "
            + ", ".join(f"{d} {c:,}" for d, c in counts.items())) in out


@settings(max_examples=40, deadline=None)
@given(genome=genomes("nb201"))
def test_describe_gives_each_data_set_s_whole_count(genome):
    """describe() counts the cell's body once and adds each data set's classifier: the whole count of each."""
    space = get_space("nb201")
    counts = ", ".join(f"{d} {space.count_params(genome, **s):,}" for d, s in NB201_DATA_SIZES.items())
    assert space.describe(genome)[1] == f"params of the benchmark's network per data set: {counts}"


def test_macro_counts_equal_the_benchmark_every_network(shared_dir):
    """All 6,561 NAS-Bench-Macro networks, to the parameter."""
    space = get_space("nas_bench_macro")
    table = json.loads((shared_dir / "data" / "nas-bench-macro_cifar10.json").read_text())
    assert len(table) == 6561
    wrong = [k for k, v in table.items() if count_params(space.from_benchmark(k)) != v["params"]]
    assert not wrong, f"{len(wrong)} networks differ, e.g. {wrong[0]}"


def test_macs_are_positive_and_grow_with_convs():
    space = get_space("nb201")
    none = space.validate(Genome("nb201", {"edges": ["none"] * 6}))
    conv = space.validate(Genome("nb201", {"edges": ["nor_conv_3x3"] * 6}))
    assert 0 < space.count_macs(none) < space.count_macs(conv)
