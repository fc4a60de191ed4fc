import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eeea import Genome, GenomeError, get_space, resolve_genome
from strategies import genomes

SPACES = ["eeea", "nsga_net", "darts"]


@pytest.mark.parametrize("space", SPACES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trips_preserve_genome_and_key(tmp_path_factory, space, data):
    g = data.draw(genomes(space))
    tmp = tmp_path_factory.mktemp("g")
    assert Genome.from_text(g.to_text()) == g
    assert Genome.from_dict(g.to_dict()) == g
    assert Genome.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    for suffix in (".yaml", ".json"):
        assert Genome.load(g.save(tmp / f"g{suffix}")).key == g.key
    assert get_space(space).decode(get_space(space).encode(g)) == g


def test_key_is_stable_across_releases():
    # A genome's key names it in archives and run directories: changing how keys are computed orphans old runs.
    assert resolve_genome("eeea_c").key == "f14a3b8ee01826ca"
    assert len(resolve_genome("darts_v2").key) == 16


def test_key_and_equality_ignore_the_name():
    g = resolve_genome("eeea_a")
    assert Genome(g.space, g.arch) == g and Genome(g.space, g.arch).key == g.key
    assert resolve_genome("eeea_a") != resolve_genome("eeea_b")
    assert len({resolve_genome("eeea_a"), Genome(g.space, g.arch)}) == 1


def test_text_form_is_one_line_and_readable():
    text = resolve_genome("eeea_a").to_text()
    assert "\n" not in text
    assert text.startswith("eeea:normal=max_pool_3x3@0,inv_res_3x3@0,")
    assert ";reduce=skip_connect@0," in text


def test_text_form_keeps_one_item_lists_and_scalars():
    g = Genome("x", {"depths": [4], "k": 3, "ratio": 0.5, "flag": True, "name": "mean", "pairs": [["a", 1]]})
    assert g.to_text() == "x:depths=4,;k=3;ratio=0.5;flag=true;name=mean;pairs=a@1,"
    assert Genome.from_text(g.to_text()) == g


def test_yaml_file_is_readable(tmp_path):
    path = resolve_genome("eeea_c").save(tmp_path / "c.yaml", meta={"error": 0.1})
    doc = yaml.safe_load(path.read_text())
    assert doc["format"] == "eeea-genome" and doc["version"] == 1 and doc["space"] == "eeea"
    assert doc["arch"]["normal"][0] == ["dil_conv_5x5", 0]
    assert doc["meta"] == {"error": 0.1}
    assert "- [dil_conv_5x5, 0]" in path.read_text()


def _arch(**changes):
    arch = {k: [list(p) for p in v] for k, v in resolve_genome("eeea_c").arch.items()}
    arch.update(changes)
    return arch


@pytest.mark.parametrize(
    "arch, message",
    [
        (_arch(normal=[["sep_conv_9x9", 0]] + _arch()["normal"][1:]), r"normal\[0\]: unknown op 'sep_conv_9x9'"),
        (_arch(reduce=_arch()["reduce"][:6] + [["skip_connect", 5]] + _arch()["reduce"][7:]),
         r"reduce\[6\]: input 5 out of range for block 3 \(0\.\.4\)"),
        (_arch(normal=_arch()["normal"][:9]), r"normal: expected 10 \(op, input\) pairs .* got 9"),
        (_arch(normal_concat=[5, 6]), r"unknown field 'normal_concat' .*loose ends"),
        ({"normal": _arch()["normal"]}, r"missing field 'reduce'"),
        (_arch(colour=1), r"unknown field 'colour'"),
        (_arch(normal=[["skip_connect", "0"]] + _arch()["normal"][1:]), r"normal\[0\]: input '0' out of range"),
        (_arch(normal=[["skip_connect"]] + _arch()["normal"][1:]), r"normal\[0\]: expected \[op, input\]"),
    ],
)
def test_validation_names_the_bad_field(arch, message):
    with pytest.raises(GenomeError, match=message):
        get_space("eeea").validate(Genome("eeea", arch))


def test_validation_rejects_wrong_space():
    with pytest.raises(GenomeError, match="genome is from space 'darts', not 'eeea'"):
        get_space("eeea").validate(resolve_genome("darts_v2"))


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"space": "eeea"}, "missing field 'arch'"),
        ({"space": "eeea", "arch": [], "version": 1}, "'arch' must be a mapping"),
        ({"space": "eeea", "arch": {}, "version": 9}, "version 9 is not supported"),
        ({"space": "eeea", "arch": {}, "format": "other"}, "format 'other'"),
        ({"space": "eeea", "arch": {}, "extra": 1}, "unknown field 'extra'"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_genome_documents(doc, message):
    with pytest.raises(GenomeError, match=message):
        Genome.from_dict(doc)


@pytest.mark.parametrize(
    "text, message",
    [("normal=a@0,", "must start with 'SPACE:'"), ("eeea:normal", "is not NAME=VALUE"),
     ("eeea:normal=a@x,", "is not an integer"), ("eeea:normal=a@0", "must be inside a list")],
)
def test_bad_genome_text(text, message):
    with pytest.raises(GenomeError, match=message):
        Genome.from_text(text)


def test_bad_genome_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("space: [unclosed\n")
    with pytest.raises(GenomeError, match="not valid YAML"):
        Genome.load(tmp_path / "bad.yaml")
    with pytest.raises(Exception, match="genome file .*missing.yaml: cannot read"):
        Genome.load(tmp_path / "missing.yaml")
