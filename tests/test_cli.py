import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from eeea import Genome, resolve_genome
from eeea.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_zoo_lists_every_model_with_exact_counts(capsys):
    code, out, _ = run(capsys, "zoo", "--format", "csv")
    assert code == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["eeea_c"]["params"] == "3513358" and rows["eeea_c"]["space"] == "eeea"
    assert rows["darts_v2"]["MACs"] == "528396480"
    assert len(rows) >= 13


def test_zoo_text_and_sizes(capsys):
    code, out, _ = run(capsys, "zoo", "--num-classes", "100")
    assert code == 0 and "eeea_a" in out and "1,769,230" not in out  # 100 classes change the classifier
    assert out.splitlines()[1].startswith("----")


def test_zoo_names_the_input_of_each_mac_count_and_holds_no_weights(capsys):
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(run(capsys, "zoo", "--format", "csv")[1]))}
    assert rows["eeea_c"]["MACs per"] == "32x32 image" and rows["eeea_c1"]["MACs per"] == "192x192 image"
    assert rows["wav2small_17k"]["MACs per"] == "5 s of 16 kHz audio"
    code, out, _ = run(capsys, "zoo", "--input-size", "224")
    assert code == 0 and next(line for line in out.splitlines() if line.startswith("eeea_c1 ")).count("224x224 image")
    assert "The zoo holds architectures, not trained weights" in out
    assert "not trained weights" not in run(capsys, "zoo", "--format", "csv")[1]  # CSV stays one table
    assert "per input of 80000 (5 s of 16 kHz audio), batch 1" in run(capsys, "show", "wav2small_17k")[1]


def test_show_by_name_file_and_text(capsys, tmp_path):
    code, out, _ = run(capsys, "show", "eeea_c")
    assert code == 0
    assert "params: 3,513,358 (3.51M)" in out and "MACs:   563,139,216" in out
    assert "normal cell (output = concat of states [3, 5, 6]):" in out
    assert "state 2 = dil_conv_5x5(c_{k-2}) + max_pool_3x3(c_{k-2})" in out
    text = resolve_genome("eeea_c").to_text()
    assert f"text:   {text}" in out
    saved = tmp_path / "c.yaml"
    assert run(capsys, "show", text, "--save", str(saved))[0] == 0
    assert Genome.load(saved) == resolve_genome("eeea_c")
    code, out, _ = run(capsys, "show", str(saved), "--channels", "16", "--layers", "8")
    assert code == 0 and "channels=16, layers=8" in out


def test_show_save_never_overwrites_without_force(capsys, tmp_path):
    target = tmp_path / "mine.yaml"
    target.write_text("precious\n")
    code, _, err = run(capsys, "show", "eeea_a", "--save", str(target))
    assert code == 2 and "exists; pass --force" in err
    assert target.read_text() == "precious\n"
    assert run(capsys, "show", "eeea_a", "--save", str(target), "--force")[0] == 0
    assert Genome.load(target) == resolve_genome("eeea_a")


def test_table_cifar10_has_every_paper_row(capsys):
    code, out, _ = run(capsys, "table", "cifar10", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 17
    c = next(r for r in rows if r["model"].startswith("EEEA-Net-C"))
    assert c["paper error %"] == "2.46" and c["paper params M"] == "3.6" and c["GPU-days"] == "0.52"
    assert c["params"] == "3513358" and c["MACs"] == "563139216" and c["measured error %"] == ""
    enas = next(r for r in rows if r["model"].startswith("ENAS"))
    assert enas["params"] == "" and enas["paper error %"] == "2.89"
    assert "measured error %" in run(capsys, "table", "cifar10")[1]
    md = run(capsys, "table", "cifar100", "--format", "markdown")[1]
    assert "| EEEA-Net-C (β=5) [6] | 15.02 |" in md  # [6]: its note under the table


def test_table_notes_where_counts_differ_from_the_paper(capsys):
    """Rows whose count differs from the paper's beyond its rounding carry a mark and a note under the table with both
    figures, the difference and the reason where it is known; a row within rounding has none."""
    code, out, _ = run(capsys, "table", "cifar10")
    assert code == 0
    table, notes = out.split("\n\n", 1)
    nasnet = next(line for line in table.splitlines() if line.startswith("NASNet-A+CO"))
    assert nasnet.startswith("NASNet-A+CO [1]")
    assert next(line for line in table.splitlines() if line.startswith("EEEA-Net-A")).startswith("EEEA-Net-A (β=3)  ")
    flat = " ".join(notes.split())
    assert "[1] NASNet-A+CO: 3,830,950 params, +23.6 % against the paper's 3.1 M: the paper quotes NASNet's own" in flat
    assert "DARTS-V1+CO: 3,169,414 params, +9.3 % against the paper's 2.9 M" in flat
    assert "EEEA-Net-C (β=5): 3,513,358 params, -2.4 % against the paper's 3.6 M: the paper counts the unused " \
           "non-local block" in flat
    assert "EEEA-Net-A" not in flat
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(run(capsys, "table", "cifar10", "--format", "csv")[1]))}
    assert "+9.3 %" in rows["DARTS-V1+CO"]["note"] and rows["EEEA-Net-A (β=3)"]["note"] == ""
    c100 = run(capsys, "table", "cifar100")[1]  # 100-class counts in the table, notes on the paper's 10-class ones
    assert "+23.6 %" in c100 and "count a 100-class classifier" in c100
    imagenet = " ".join(run(capsys, "table", "imagenet")[1].split())
    assert "EEEA-Net-C1: 135,878,208 MACs, -0.8 % against the paper's 137 M" in imagenet


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "nope"], "'nope' is not a zoo name"),
        (["show", "eeea:normal=bogus_op@0,"], "normal: expected 10"),
        (["table", "mnist"], "no table for 'mnist'"),
        (["zoo", "--channels", "x"], "--channels: 'x' is not an integer"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["show", "eeea_a", "--save", "/nonexistent/dir/g.yaml"], "/nonexistent/dir does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("eeea: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_errors_without_traceback_and_debug_shows_it():
    exe = Path(sys.executable).with_name("eeea")
    done = subprocess.run([str(exe), "show", "eeea_q"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("eeea: error:") and "Traceback" not in done.stderr
    done = subprocess.run([str(exe), "--debug", "show", "eeea_q"], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" in done.stderr
    done = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("eeea ")


def test_tables_group_digits_per_column_and_keep_exact_csv():
    from eeea.tables import render

    rows = [[0, 20506, 0.5], [1, 5667, 0.25]]
    text = render(["rank", "params", "x"], rows).splitlines()
    assert text[2].split() == ["0", "20,506", "0.5"] and text[3].split() == ["1", "5,667", "0.25"]
    assert render(["rank", "params", "x"], rows, "csv").splitlines()[1] == "0,20506,0.5"
