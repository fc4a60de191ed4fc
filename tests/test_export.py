"""`eeea export`: fp32 ONNX matches torch, int8 keeps CCC >= 0.99 on held-out clips, TorchScript, any genome."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from ser_helpers import TINY, trained_tiny

from eeea import get_space
from eeea.checkpoint import save_checkpoint
from eeea.cli import main
from eeea.export import export, run_onnx

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny", TINY, trained_tiny(), {"seconds": 5.0, "outputs": 3})


def test_fp32_onnx_takes_raw_audio_of_any_length(tmp_path):
    report = export(trained_tiny(), (80000,), tmp_path / "m.onnx", "onnx")
    assert report.max_abs_diff < 1e-4 and report.bytes == (tmp_path / "m.onnx").stat().st_size
    x = np.random.default_rng(0).standard_normal((2, 12345)).astype(np.float32)
    with torch.no_grad():
        expected = trained_tiny()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", [x]), expected, rtol=1e-3, atol=1e-4)


def test_int8_export_keeps_ccc_and_is_small(checkpoint, tmp_path, capsys):
    out = tmp_path / "m8.onnx"
    assert main(["export", str(checkpoint), "--format", "onnx-int8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{out.stat().st_size:,} bytes" in printed and "(kept)" in printed
    kept = [line for line in printed.splitlines() if "(kept)" in line][0]
    assert float(kept.split("= ")[1].split()[0]) >= 0.99
    graph = __import__("onnx").load(str(out)).graph
    ops = {n.op_type for n in graph.node}
    assert ops & {"ConvInteger", "QLinearConv", "DequantizeLinear", "MatMulInteger"}  # really quantised
    # compact: no node names, short tensor names, the graph's input and output keep theirs
    assert all(n.name == "" for n in graph.node) and max(len(t.name) for t in graph.initializer) <= 6
    assert [v.name for v in graph.input] == ["input"] and [v.name for v in graph.output] == ["output"]
    ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])


def test_never_overwrites_without_force(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"mine")
    assert main(["export", str(checkpoint), "--out", str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["export", str(checkpoint), "--out", str(out), "--force"]) == 0
    assert out.stat().st_size > 1000


def test_torchscript(checkpoint, tmp_path):
    assert main(["export", str(checkpoint), "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 0
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    x = torch.randn(1, 9000)
    torch.testing.assert_close(loaded(x), trained_tiny()(x))


def test_image_genomes_export_through_their_input_shape(tmp_path, capsys):
    genome_text = get_space("eeea").random_genome(np.random.default_rng(0)).to_text()
    space = get_space("eeea")
    model = space.build(space.validate(__import__("eeea").Genome.from_text(genome_text)), channels=8, layers=3)
    report = export(model, space.input_shape(), tmp_path / "c.onnx", "onnx")
    assert report.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, 32, 32]


def test_bad_format_and_unknown_arch(tmp_path, capsys):
    assert main(["export", "nope", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "is not a zoo name" in capsys.readouterr().err
    assert main(["export", "wav2small_17k", "--format", "tflite", "--out", str(tmp_path / "x")]) == 2


def test_cli_exports_a_genome_at_its_own_resolution(tmp_path, capsys):
    out = tmp_path / "c1.onnx"
    assert main(["export", "eeea_c1", "--out", str(out), "--quiet"]) == 0
    assert "max |exported - torch|" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, 192, 192]  # the OFA genome's own input size
