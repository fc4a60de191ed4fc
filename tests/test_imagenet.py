"""ImageNet networks: the DARTS-style cell network at 224 px, the ImageNet paper table, and the CLI on C1/C2."""
from __future__ import annotations

import pytest
import torch

from eeea import count_macs, count_params, create_model, resolve_genome
from eeea.cli import main
from eeea.models.specs import profile_macs
from eeea.tables import paper_table

torch.set_num_threads(1)
DARTS_IMAGENET = dict(network="imagenet", channels=48, layers=14, num_classes=1000)


@pytest.fixture(scope="module")
def darts_imagenet() -> torch.nn.Module:
    return create_model("darts_v2", **DARTS_IMAGENET).eval()


def test_darts_imagenet_runs_at_224px_and_counts_exactly(darts_imagenet):
    genome = resolve_genome("darts_v2")
    with torch.no_grad():
        assert darts_imagenet(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    params = count_params(genome, DARTS_IMAGENET)
    macs = count_macs(genome, DARTS_IMAGENET)
    assert params == sum(p.numel() for p in darts_imagenet.parameters())
    assert macs == profile_macs(darts_imagenet, torch.zeros(1, 3, 224, 224))
    # DARTS reports 4.7 M parameters and 574 M multiply-adds. Parameters agree to 1 %; our MAC convention folds
    # BatchNorm into the convs and leaves out element-wise sums (530 M), so it sits 8 % below their profiler's figure.
    assert abs(params / 4.7e6 - 1) < 0.01
    assert 0.90 < macs / 574e6 < 0.95


def test_darts_imagenet_auxiliary_head_in_training():
    model = create_model("darts_v2", **{**DARTS_IMAGENET, "channels": 8, "layers": 5}, auxiliary=True).train()
    logits, aux = model(torch.randn(2, 3, 224, 224))
    assert logits.shape == aux.shape == (2, 1000)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)  # no auxiliary output at inference


def test_imagenet_paper_table_rows_carry_measured_counts():
    headers, rows = paper_table("imagenet", {"eeea_c1": 30.0})
    by_zoo = {r[headers.index("eeea model")]: r for r in rows}
    assert set(by_zoo) == {"eeea_c1", "eeea_c2"}  # the rows whose figures the paper's reference records
    c1 = by_zoo["eeea_c1"]
    assert c1[headers.index("paper top-1 error %")] == 25.7
    assert c1[headers.index("params")] == count_params(resolve_genome("eeea_c1"))
    assert c1[headers.index("MACs")] == count_macs(resolve_genome("eeea_c1"))
    assert c1[headers.index("measured error %")] == 30.0
    assert by_zoo["eeea_c2"][headers.index("paper MACs M")] == 217


def test_cli_table_imagenet(capsys):
    assert main(["table", "imagenet", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("model,paper top-1 error %")
    assert any(line.startswith("EEEA-Net-C1,25.7,5.1,137,evolution,eeea_c1,5068128,135878208,,,,") for line in lines)
    assert main(["table", "mnist"]) == 2
    assert "no table for 'mnist'" in capsys.readouterr().err


def test_cli_show_and_zoo_handle_the_mobilenet_space(capsys):
    assert main(["show", "eeea_c1"]) == 0
    out = capsys.readouterr().out
    assert "space:  ofa_mbv3" in out
    assert "params: 5,068,128" in out and "per input of 3x192x192" in out
    assert "stage 5: 4 x MBConv -> 160 ch, stride 2, h_swish, SE: k7e6, k3e4, k3e6, k7e3" in out
    assert main(["show", "eeea_c2", "--input-size", "224"]) == 0
    assert "per input of 3x224x224" in capsys.readouterr().out
    assert main(["zoo", "--format", "csv"]) == 0
    zoo = capsys.readouterr().out.splitlines()
    assert any(line.startswith("eeea_c1,ofa_mbv3,5068128,135878208,") for line in zoo)
    assert any(line.startswith("eeea_c2,ofa_mbv3,5995904,215615312,") for line in zoo)
    # a cell-network size flag leaves the MobileNet rows without counts instead of failing the listing
    assert main(["zoo", "--format", "csv", "--layers", "8"]) == 0
    assert any(line.startswith("eeea_c1,ofa_mbv3,,,") for line in capsys.readouterr().out.splitlines())
    assert main(["show", "eeea_c1", "--layers", "8"]) == 2
    assert "unknown size option 'layers'" in capsys.readouterr().err
