"""Loading eeea models from elsewhere: torch.hub on the repository, and the example script run outside it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from eeea import count_params, list_models, resolve_genome

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def hub_load(name: str, **kwargs) -> torch.nn.Module:
    return torch.hub.load(str(ROOT), name, source="local", **kwargs)


def test_hub_loads_eeea_c_and_c1_with_size_keywords():
    model = hub_load("eeea_c")
    assert sum(p.numel() for p in model.parameters()) == 3_513_358
    c1 = hub_load("eeea_c1", num_classes=10).eval()
    with torch.no_grad():
        assert c1(torch.randn(1, 3, 192, 192)).shape == (1, 10)
    assert sum(p.numel() for p in c1.parameters()) == count_params(resolve_genome("eeea_c1"), num_classes=10)


def test_hub_has_an_entry_point_for_every_zoo_model():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    for name in list_models():
        entry = getattr(hubconf, name)
        assert callable(entry) and entry.__name__ == name and entry.__doc__


def test_hub_refuses_pretrained_weights_it_does_not_have():
    with pytest.raises(ValueError, match="no pretrained weights"):
        hub_load("eeea_c1", pretrained=True)


def test_example_runs_from_another_directory(tmp_path):
    script = ROOT / "examples" / "use_eeea.py"
    genome_file = ROOT / "examples" / "my_mobilenet.yaml"
    result = subprocess.run(
        [sys.executable, str(script), str(genome_file)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "eeea_c1: 5,068,128 parameters, 135,878,208 MACs at 192 px" in result.stdout
    assert "space ofa_mbv3, 4,319,056 parameters (built model: 4,319,056)" in result.stdout
