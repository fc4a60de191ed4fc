import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeea import Genome, GenomeError, UserError, get_space, list_spaces, resolve_genome
from eeea.models.cellnet import loose_ends
from eeea.models.ops import OPS
from strategies import genomes

EEEA_OPS = ["max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
            "dil_conv_5x5", "conv_7x1_1x7", "inv_res_3x3", "inv_res_5x5"]


def test_builtin_spaces():
    assert {"eeea", "nsga_net", "darts"} <= set(list_spaces())
    eeea = get_space("eeea")
    assert eeea.ops == EEEA_OPS and eeea.blocks == 5 and eeea.n_var == 40
    nsga = get_space("nsga_net")
    assert len(nsga.ops) == 9 and "sep_conv_7x7" in nsga.ops and "inv_res_3x3" not in nsga.ops
    assert eeea.eval_size == {"channels": 36, "layers": 20, "num_classes": 10}


def test_integer_bounds_follow_the_micro_encoding():
    space = get_space("eeea")
    assert (space.xl == 0).all()
    # per block: op, input, op, input; inputs of block b range over 0..b+1
    expected = [v for b in range(5) for v in (9, b + 1, 9, b + 1)] * 2
    assert space.xu.tolist() == expected
    assert space.gene_groups()[:2] == [[0, 1], [2, 3]] and len(space.gene_groups()) == 20


def test_sample_and_repair_stay_in_bounds():
    space = get_space("nsga_net")
    rng = np.random.default_rng(0)
    xs = np.array([space.sample(rng) for _ in range(500)])
    assert (xs >= space.xl).all() and (xs <= space.xu).all()
    assert len({tuple(x) for x in xs}) == 500
    wild = rng.normal(0, 20, size=space.n_var)
    repaired = space.repair(wild)
    assert repaired.dtype == np.int64 and (repaired >= space.xl).all() and (repaired <= space.xu).all()
    space.decode(repaired)


@pytest.mark.parametrize("space_name", ["eeea", "nsga_net"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_sampled_genome_builds_and_runs(space_name, data):
    genome = data.draw(genomes(space_name))
    space = get_space(space_name)
    model = space.build(genome, channels=4, layers=5, num_classes=3, auxiliary=True, drop_path_prob=0.2)
    model.train()
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 3) and aux.shape == (2, 3)
    assert torch.isfinite(logits).all()
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_loose_end_concatenation_matches_the_published_eeea_cells(shared_dir):
    import yaml

    ref = yaml.safe_load((shared_dir / "reference" / "genotypes.yaml").read_text())
    for name in ("ea_net", "eeea_a", "eeea_b", "eeea_c"):
        for cell in ("normal", "reduce"):
            assert loose_ends([tuple(p) for p in ref[name][cell]]) == ref[name][f"{cell}_concat"], (name, cell)


def test_darts_space_takes_four_block_cells_with_explicit_outputs():
    g = resolve_genome("darts_v2")
    assert g.space == "darts" and len(g.arch["normal"]) == 8
    assert g.arch["normal_concat"] == [2, 3, 4, 5]
    space = get_space("darts")
    implicit = Genome("darts", {"normal": g.arch["normal"], "reduce": g.arch["reduce"]})
    assert space.validate(implicit).arch["normal_concat"] == loose_ends(g.arch["normal"])
    with pytest.raises(GenomeError, match="only 5-block cells have an integer encoding"):
        space.encode(g)
    with pytest.raises(GenomeError, match="normal_concat: expected distinct state indices in 0..5"):
        space.validate(Genome("darts", {**g.arch, "normal_concat": [2, 9]}))


def test_drop_path_only_in_training():
    model = get_space("eeea").build(resolve_genome("eeea_c"), channels=4, layers=3, drop_path_prob=0.9)
    x = torch.randn(4, 3, 16, 16)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    assert not torch.equal(a, model(x))


def test_every_op_keeps_shape_or_halves_it():
    x = torch.randn(2, 6, 9, 9)
    for name, make in OPS.items():
        assert make(6, 1)(x).shape == x.shape, name
        assert make(6, 2)(torch.randn(2, 6, 8, 8)).shape == (2, 6, 4, 4), name


def test_user_space_from_yaml_path_and_env(tmp_path, monkeypatch):
    (tmp_path / "tiny.yaml").write_text(
        "name: tiny\nkind: cell\nops: [skip_connect, sep_conv_3x3]\nblocks: 2\n"
        "eval_size: {channels: 8, layers: 3, num_classes: 2}\n"
    )
    space = get_space(tmp_path / "tiny.yaml")
    assert space.n_var == 16 and space.name == "tiny"
    monkeypatch.setenv("EEEA_SPACES", str(tmp_path))
    assert "tiny" in list_spaces()
    g = get_space("tiny").random_genome(np.random.default_rng(1))
    assert get_space("tiny").build(g)(torch.randn(1, 3, 8, 8)).shape == (1, 2)


@pytest.mark.parametrize(
    "text, message",
    [("name: x\nkind: cell\nops: [sep_conv_9x9]\n", "unknown: \\['sep_conv_9x9'\\]"),
     ("name: x\nkind: nope\n", "unknown space kind 'nope'"),
     ("kind: cell\n", "lacks 'name'"),
     ("[1, 2]\n", "a space definition is a mapping"),
     ("name: x\nkind: cell\nops: [skip_connect]\nconcat: sideways\n", "loose|explicit")],
)
def test_bad_space_files(tmp_path, text, message):
    path = tmp_path / f"bad{abs(hash(text))}.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        get_space(path)


def test_unknown_space_and_size_options():
    with pytest.raises(UserError, match="unknown search space 'nope'"):
        get_space("nope")
    space = get_space("eeea")
    g = resolve_genome("eeea_a")
    with pytest.raises(UserError, match="unknown size option 'width'"):
        space.build(g, width=3)
    with pytest.raises(UserError, match="channels: must be an integer >= 1"):
        space.count_params(g, channels=0)
    with pytest.raises(UserError, match="network must be cifar or imagenet"):
        space.build(g, network="mnist")
