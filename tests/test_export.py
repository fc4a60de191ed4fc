"""`eeea export`: fp32 ONNX matches torch, int8 keeps CCC >= 0.99 on held-out clips (classifiers: top-1 agreement on
real images), TorchScript, any genome; named tensors and metadata that explain the file."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from ser_helpers import TINY, trained_tiny

from eeea import Genome, count_params, get_space
from eeea.checkpoint import save_checkpoint
from eeea.cli import main
from eeea.data.cifar import CIFAR_MEAN, CIFAR_STD, embedded_sample
from eeea.data.final import IMAGENET_MEAN
from eeea.export import (INT8_MIN_AGREEMENT, INT8_MIN_CCC, Score, check_inputs, export, network_images, pick_int8,
                         run_onnx)
from eeea.onnx_io import read_metadata
from eeea.teachers import ONNXTeacher

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


@pytest.fixture(scope="module")
def int8_file(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8") / "m8.onnx"
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(checkpoint), "--format", "onnx-int8", "--out", str(out)]) == 0
    return out, printed.getvalue()


def _why(printed: str) -> str:
    """The line of an int8 export that says which method it kept and why."""
    return next(line for line in printed.splitlines() if line.startswith(("kept ", "no int8 variant beats fp32")))


def test_int8_export_keeps_ccc_and_is_small(int8_file):
    out, printed = int8_file
    assert f"{out.stat().st_size:,} bytes" in printed and "(kept)" in printed
    kept = [line for line in printed.splitlines() if "(kept)" in line][0]
    assert float(kept.split("= ")[1].split()[0]) >= 0.99 and "on 32 held-out EmoDB clips" in kept
    method = kept.split("int8 ")[1].split(")")[0]
    assert f"kept {method}" in _why(printed)  # and why


def test_the_kept_int8_file_is_no_slower_than_fp32_or_the_export_says_why(int8_file):
    """Real timings on this machine: `eeea export` of a trained student keeps an int8 file no slower than its fp32
    file, or prints in one line that no int8 variant beats fp32, with fp32's latency, and its latency line says so."""
    out, printed = int8_file
    meta = read_metadata(out)
    timed = __import__("json").loads(meta["latency_us"])
    latency = next(line for line in printed.splitlines() if line.startswith("latency: "))
    if timed[meta["quantization"]] > timed["fp32"]:
        assert _why(printed).startswith("no int8 variant beats fp32 on this machine: fp32 ")
        assert "--format onnx" in _why(printed) and "slower than the fp32 file" in latency
    else:
        assert _why(printed).startswith(f"kept {meta['quantization']} (the fastest int8 that passes the check)")
        assert "slower" not in latency
    graph = __import__("onnx").load(str(out)).graph
    ops = {n.op_type for n in graph.node}
    assert ops & {"ConvInteger", "QLinearConv", "DequantizeLinear", "MatMulInteger"}  # really quantised
    # compact: no node names, short tensor names, the graph's input and output keep theirs
    assert all(n.name == "" for n in graph.node) and max(len(t.name) for t in graph.initializer) <= 6
    assert [v.name for v in graph.input] == ["audio"]
    assert [v.name for v in graph.output] == ["arousal_dominance_valence"]
    ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])


def test_int8_file_explains_itself(int8_file):
    out, printed = int8_file
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta == read_metadata(out)
    genome = Genome.from_text(meta["genome"])  # the genome key round-trips to the same network
    assert genome == TINY and meta["genome_key"] == genome.key == TINY.key and meta["space"] == "wav2small"
    size = __import__("json").loads(meta["size"])
    assert size == {"seconds": 5.0, "outputs": 3} and int(meta["params"]) == count_params(genome, size)
    assert get_space("wav2small").build(genome, **size).state_dict().keys() == trained_tiny().state_dict().keys()
    assert meta["eeea_version"] == __import__("eeea").__version__ and meta["weights"] == "trained"
    assert meta["sample_rate"] == "16000" and "[-1, 1] at 16000 Hz" in meta["input"]
    assert meta["output_dims"] == "arousal,dominance,valence" and "[0, 1]" in meta["output"]
    why = _why(printed)
    assert f"kept {meta['quantization']}" in why and meta["quantization_choice"] == f"--quantization auto: {why}"
    assert meta["quantization_check"].startswith("CCC 0.99")
    timed = __import__("json").loads(meta["latency_us"])
    assert set(timed) >= {"fp32", meta["quantization"]} and all(v > 0 for v in timed.values())
    assert meta["latency_timed_with"].startswith("onnxruntime ") and "1 thread" in meta["latency_timed_with"]
    x = np.asarray(__import__("eeea.data.emodb", fromlist=["x"]).load_emodb().waves[0], dtype=np.float32)[None]
    (y,) = session.run(None, {session.get_inputs()[0].name: x})  # the snippet of the README
    assert y.shape == (1, 3)


class FakeTimer:
    """A clock injected into export: each ONNX file "runs" as long as its kind (fp32, static or dynamic int8, told
    apart by the operators quantisation put in) is set to take; it remembers what it timed."""

    def __init__(self, **us: float) -> None:
        self.us, self.timed = us, []

    def onnx_us(self, path, x, budget_s=None) -> float:
        ops = {n.op_type for n in __import__("onnx").load(str(path)).graph.node}
        kind = ("dynamic" if ops & {"DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"} else
                "static" if "QuantizeLinear" in ops else "fp32")
        assert x.shape[0] == 1  # timed at batch 1
        self.timed.append(kind)
        return self.us[kind]

    def describe(self) -> str:
        return "a fake clock"


#: held-out clips the fake-clock exports check on (fewer than export's 32: each export quantises and scores them)
FEW = 6


@pytest.fixture(scope="module")
def both_pass_inputs():
    """Inputs on which both int8 methods of the tiny student pass the check: static calibrated on clips of both
    speaker groups (calibrated on the training speakers alone, its CCC falls just under the bar on this student)."""
    calibration, check = check_inputs((80000,))
    return calibration[:FEW] + check[:FEW], check[:FEW]


@pytest.fixture(scope="module")
def silence_inputs():
    """Static quantisation calibrated on silence: it clips the activations of real speech (a real, reproducible way
    to make one method fail the check)."""
    calibration, check = check_inputs((80000,))
    return [np.zeros_like(x) for x in calibration[:4]], check[:FEW]


def test_auto_keeps_the_fastest_int8_that_passes(tmp_path, both_pass_inputs):
    timer = FakeTimer(fp32=900.0, static=400.0, dynamic=11700.0)
    report = export(trained_tiny(), (80000,), tmp_path / "m8.onnx", "onnx-int8", timer=timer, inputs=both_pass_inputs)
    assert report.int8_method == "static" and not report.slower_than_fp32 and sorted(timer.timed) == [
        "dynamic", "fp32", "static"]
    assert report.reason == ("kept static (the fastest int8 that passes the check): fp32 900us, static 400us, "
                             "dynamic 11.7ms on this machine")
    assert report.lines()[-1] == report.reason
    meta = read_metadata(tmp_path / "m8.onnx")
    assert meta["quantization"] == "static" and meta["latency_timed_with"] == "a fake clock"
    assert __import__("json").loads(meta["latency_us"]) == {"dynamic": 11700.0, "fp32": 900.0, "static": 400.0}
    assert meta["quantization_choice"] == f"--quantization auto: {report.reason}"


def test_auto_says_so_in_one_line_when_fp32_is_faster(tmp_path, both_pass_inputs):
    report = export(trained_tiny(), (80000,), tmp_path / "m8.onnx", "onnx-int8", inputs=both_pass_inputs,
                    timer=FakeTimer(fp32=900.0, static=1200.0, dynamic=11700.0))
    assert report.int8_method == "static" and report.slower_than_fp32
    assert report.reason == ("no int8 variant beats fp32 on this machine: fp32 900us, static 1.2ms, dynamic 11.7ms; "
                             "kept static, the fastest int8 (smaller than fp32, slower); for speed export fp32 with "
                             "--format onnx (900us)")
    assert "\n" not in report.reason and report.reason in report.lines()
    assert read_metadata(tmp_path / "m8.onnx")["quantization_choice"].endswith(report.reason)


def test_asked_methods_are_kept_and_a_slower_one_is_named(tmp_path, both_pass_inputs, silence_inputs):
    timer = FakeTimer(fp32=900.0, static=400.0, dynamic=11700.0)
    report = export(trained_tiny(), (80000,), tmp_path / "d.onnx", "onnx-int8", quantization="dynamic", timer=timer,
                    inputs=both_pass_inputs)
    assert report.int8_method == "dynamic" and list(report.int8) == ["dynamic"] and timer.timed == ["fp32", "dynamic"]
    assert report.slower_than_fp32 and report.reason == (
        "kept dynamic as asked, slower than fp32 on this machine: fp32 900us, dynamic 11.7ms; for speed use "
        "--quantization auto or --format onnx (900us)")
    with pytest.raises(__import__("eeea").UserError, match=r"static CCC .* \(need >= 0.99\); export fp32 with "
                                                           r"--format onnx instead \(or --quantization auto"):
        export(trained_tiny(), (80000,), tmp_path / "s.onnx", "onnx-int8", quantization="static",
               inputs=silence_inputs, timer=timer)
    assert not (tmp_path / "s.onnx").exists()


def test_auto_never_keeps_a_method_that_fails_the_check(tmp_path, silence_inputs):
    """Real files: static calibrated on silence fails the check; auto keeps dynamic however fast static would be."""
    timer = FakeTimer(fp32=900.0, static=1.0, dynamic=600.0)
    report = export(trained_tiny(), (80000,), tmp_path / "m8.onnx", "onnx-int8", inputs=silence_inputs, timer=timer)
    static, dynamic = report.int8["static"], report.int8["dynamic"]
    assert report.int8_method == "dynamic" and static.ccc < INT8_MIN_CCC <= dynamic.ccc and "static" not in timer.timed
    assert report.reason == (f"kept dynamic (the fastest int8 that passes the check): fp32 900us, dynamic 600us on "
                             f"this machine; failed the check: static CCC {static.ccc:.4f} (need >= 0.99)")
    assert read_metadata(tmp_path / "m8.onnx")["quantization"] == "dynamic"


def test_pick_int8_rule():
    good, bad = Score(ccc=0.995), Score(ccc=0.95)
    fast_static = {"fp32": 900.0, "static": 400.0, "dynamic": 11700.0}
    assert pick_int8({"static": good, "dynamic": good}, fast_static)[0] == "static"
    assert pick_int8({"static": good, "dynamic": Score(ccc=0.999)}, fast_static)[0] == "static"  # speed decides
    assert pick_int8({"static": good, "dynamic": good}, {**fast_static, "static": 20000.0})[0] == "dynamic"
    assert pick_int8({"static": bad, "dynamic": good}, fast_static)[0] == "dynamic"
    assert pick_int8({"static": Score(runs=False), "dynamic": good}, fast_static)[1].endswith(
        "failed the check: static does not run (need >= 0.99)")
    with pytest.raises(__import__("eeea").UserError, match=r"static CCC 0.9000, dynamic CCC 0.9500 \(need >= 0.99\)"):
        pick_int8({"static": Score(ccc=0.9), "dynamic": bad}, fast_static)
    # classifiers: the bar is top-1 agreement
    a, b = Score(agreement=0.97, mean_error=0.0), Score(agreement=1.0, mean_error=0.01)
    assert pick_int8({"static": a, "dynamic": b}, {**fast_static, "dynamic": 700.0}) == (
        "dynamic", f"kept dynamic (the fastest int8 that passes the check): fp32 900us, dynamic 700us on this "
                   f"machine; failed the check: static top-1 agreement 0.970 (need >= {INT8_MIN_AGREEMENT})")
    assert INT8_MIN_CCC == 0.99


def test_an_arousal_only_student_names_its_output(tmp_path):
    """A student of a corpus labelled with arousal only has one output, and its file says so."""
    model = get_space("wav2small").build(TINY, outputs=1)
    ck = save_checkpoint(tmp_path / "ck", TINY, model, {"seconds": 1.0, "outputs": 1}, {"dims": ["arousal"]})
    assert main(["export", str(ck), "--out", str(tmp_path / "a.onnx"), "--quiet"]) == 0
    session = ort.InferenceSession(str(tmp_path / "a.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["arousal"] and session.get_inputs()[0].name == "audio"
    assert read_metadata(tmp_path / "a.onnx")["output_dims"] == "arousal"
    assert ONNXTeacher(tmp_path / "a.onnx").dims == ("arousal",)
    export(model, (16000,), tmp_path / "b.onnx", "onnx")  # the API alone: named after as many dimensions as it has
    assert read_metadata(tmp_path / "b.onnx") == {}
    assert run_onnx(tmp_path / "b.onnx", [np.zeros((1, 800), "f")]).shape == (1, 1)
    session = ort.InferenceSession(str(tmp_path / "b.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].name == "arousal"


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
    printed = capsys.readouterr().out
    assert "max |exported - torch|" in printed and "top-1 agreement 1.000 on 100 CIFAR-10 images at 192x192" in printed
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, 192, 192]  # the OFA genome's own input size
    assert (session.get_inputs()[0].name, session.get_outputs()[0].name) == ("image", "logits")
    meta = read_metadata(out)
    assert meta["genome_name"] == "eeea_c1" and meta["resolution"] == "192x192"
    assert meta["weights"].startswith("untrained")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A small NAS-Bench-201 cell network trained briefly on real CIFAR-10 images (not those the check uses)."""
    space = get_space("nb201")
    genome = Genome.from_text("nb201:edges=avg_pool_3x3,nor_conv_3x3,nor_conv_1x1,skip_connect,skip_connect,none")
    size = space.size(channels=4, cells=1)
    torch.manual_seed(0)
    model = space.build(genome, **size)
    data = embedded_sample(30, skip=20)
    x = torch.from_numpy(network_images(data.images, (32, 32), CIFAR_MEAN, CIFAR_STD))
    y = torch.from_numpy(data.labels)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        for index in torch.randperm(len(y), generator=generator).split(50):
            loss = torch.nn.functional.cross_entropy(model(x[index]), y[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
    meta = {"dataset": "cifar10", "classes": data.classes}
    return save_checkpoint(tmp_path_factory.mktemp("cls") / "ck", genome, model.eval(), size, meta), genome


def test_classifier_int8_is_checked_by_top1_agreement_on_real_images(classifier, tmp_path, capsys):
    ck, genome = classifier
    out = tmp_path / "c8.onnx"
    assert main(["export", str(ck), "--format", "onnx-int8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CCC" not in printed
    kept = next(line for line in printed.splitlines() if line.endswith("(kept)"))
    assert "top-1 agreement" in kept and "|logit error| max" in kept and "on 100 CIFAR-10 images at 32x32" in kept
    assert float(kept.split("top-1 agreement ")[1].split(",")[0]) >= INT8_MIN_AGREEMENT
    assert "kept " in _why(printed) and "fp32 " in _why(printed)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "image" and session.get_inputs()[0].shape[1:] == [3, 32, 32]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    meta = read_metadata(out)
    assert meta["quantization_check"].startswith("top-1 agreement") and meta["genome_key"] == genome.key
    assert meta["resolution"] == "32x32" and meta["mean"] == "0.4914,0.4822,0.4465" and meta["std"].startswith("0.247,")
    assert meta["classes"].split(",")[:2] == ["airplane", "automobile"] and "argmax = class" in meta["output"]


def test_check_images_are_real_cifar_images_at_the_network_resolution():
    calibration, check = check_inputs((3, 32, 32))
    assert sum(len(x) for x in check) == 100 and len(calibration) == 100
    pixels = np.concatenate(check) * np.array(CIFAR_STD).reshape(1, 3, 1, 1) + np.array(CIFAR_MEAN).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(pixels * 255, embedded_sample(10).images.transpose(0, 3, 1, 2), atol=1e-3)
    assert not any(np.array_equal(c[0], x) for c in calibration[:10] for x in np.concatenate(check))
    _, big = check_inputs((3, 48, 64))
    assert big[0].shape == (10, 3, 48, 64)


def test_imagefolder_checkpoint_records_imagenet_normalisation(classifier, tmp_path):
    ck, genome = classifier
    from eeea.checkpoint import load_checkpoint

    _, size, model = load_checkpoint(ck)
    other = save_checkpoint(tmp_path / "ck", genome, model, size, {"dataset": "imagefolder", "recipe": "fast"})
    assert main(["export", str(other), "--out", str(tmp_path / "c.onnx"), "--quiet"]) == 0
    meta = read_metadata(tmp_path / "c.onnx")
    assert meta["mean"] == ",".join(f"{v:g}" for v in IMAGENET_MEAN) and meta["trained_on"] == "imagefolder"
    assert "quantization" not in meta and meta["weights"] == "trained"
