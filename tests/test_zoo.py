import pytest
import torch
import yaml

import eeea
from eeea import UserError, count_params, create_model, resolve_genome

# shared/reference/eeea-net.md: 20 cells, C = 36, 10 classes, auxiliary head excluded, no non-local block.
REFERENCE_PARAMS = {
    "ea_net": 2_925_046, "eeea_a": 1_769_230, "eeea_b": 1_870_318, "eeea_c": 3_513_358, "amoebanet_a": 3_145_078,
    "darts_v2": 3_349_342, "darts_v1": 3_169_414, "pdarts": 3_433_798, "pc_darts": 3_634_678, "cars_i": 3_594_718,
}


@pytest.mark.parametrize("name, params", sorted(REFERENCE_PARAMS.items()))
def test_reference_parameter_counts_exactly(name, params):
    model = create_model(name, num_classes=10, channels=36, layers=20, auxiliary=False)
    assert sum(p.numel() for p in model.parameters()) == params
    assert count_params(resolve_genome(name)) == params


def test_all_published_genotypes_are_registered(shared_dir):
    ref = yaml.safe_load((shared_dir / "reference" / "genotypes.yaml").read_text())
    assert set(ref) <= set(eeea.list_models())
    for name, cells in ref.items():
        g = resolve_genome(name)
        concat = eeea.get_space(g.space).cells_of(g)
        for cell in ("normal", "reduce"):
            assert g.arch[cell] == cells[cell], name
            assert concat[cell][1] == cells[f"{cell}_concat"], name


def test_create_model_accepts_name_genome_file_and_text(tmp_path):
    genome = resolve_genome("eeea_a")
    path = genome.save(tmp_path / "a.yaml")
    x = torch.randn(2, 3, 32, 32)
    outputs = []
    for arch in ("eeea_a", genome, path, str(path), genome.to_text()):
        torch.manual_seed(0)
        model = create_model(arch, channels=8, layers=5, num_classes=7).eval()
        with torch.no_grad():
            outputs.append(model(x))
    assert all(torch.equal(outputs[0], o) for o in outputs[1:])
    assert outputs[0].shape == (2, 7)


def test_create_model_sizes_and_auxiliary():
    model = create_model("darts_v2", num_classes=100, channels=16, layers=8, auxiliary=True, drop_path_prob=0.1)
    model.train()
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 100)
    assert model.drop_path_prob == 0.1
    imagenet = create_model("eeea_c", network="imagenet", channels=8, layers=5, num_classes=11).eval()
    with torch.no_grad():
        assert imagenet(torch.randn(1, 3, 96, 96)).shape == (1, 11)


def test_unknown_names_are_one_clear_error():
    with pytest.raises(UserError, match="'eeea_z' is not a zoo name, genome file or genome text"):
        create_model("eeea_z")
    with pytest.raises(UserError, match="genome file missing.yaml: cannot read"):
        create_model("missing.yaml")
