"""The search report (``eeea report`` and the search's own ``report.html``): what it embeds, on finished, interrupted
(kill -9) and resumed runs and mid-run; bad input; and the page itself in real headless Chromium: every candidate
plotted, the front equal to pareto.csv, a table that sorts, no console error, a screenshot that is not blank."""
from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from report_helpers import chromium, console_errors, missing, open_report, report_data, screenshot_spread

from eeea.cli import main
from eeea.search.archive import SearchRun
from eeea.search.quality import TrueFront

TABLE = "nasbench201.csv"
SER_FLAGS = ["--max-params", "72k", "--population", "2", "--generations", "0", "--epochs", "1", "--workers", "1",
             "--device", "cpu", "--threads", "1", "--no-measure-latency", "--quiet"]


def _flags(table: Path, population: int = 20, generations: int = 3, seed: int = 0) -> list[str]:
    return ["--task", "nb201", "--data", str(table), "--population", str(population), "--generations",
            str(generations), "--seed", str(seed), "--quiet"]


def _archive(run: Path) -> list[dict]:
    """The archive's records; a last line a kill cut short is left out (as every reader of an archive does)."""
    text = (run / "archive.jsonl").read_text()
    lines = text.split("\n")
    complete, torn = lines[:-1], lines[-1]
    return [json.loads(line) for line in complete if line.strip()] + ([json.loads(torn)] if _whole(torn) else [])


def _whole(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _pareto_keys(run: Path) -> list[str]:
    with open(run / "pareto.csv") as f:
        return [row["key"] for row in csv.DictReader(f)]


def _front_keys(data: dict) -> list[str]:
    return [data["records"][i]["key"] for i in data["front"]]


@pytest.fixture(scope="module")
def table(shared_dir) -> Path:
    path = shared_dir / "data" / TABLE
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def nb201_run(tmp_path_factory, table) -> Path:
    """A finished tabular search (4 rounds of 20)."""
    run = tmp_path_factory.mktemp("report") / "nb201"
    assert main(["search", "--out", str(run), *_flags(table)]) == 0
    return run


@pytest.fixture(scope="module")
def browser():
    reason = missing()
    if reason:
        pytest.skip(reason)
    with chromium() as driver:
        yield driver


# what the search's own report holds --------------------------------------------------------------------------------
def test_search_writes_a_report_of_every_candidate(nb201_run):
    data, records = report_data(nb201_run / "report.html"), _archive(nb201_run)
    assert data["status"] == "finished" and data["objectives"] == ["error", "params"]
    assert [r["key"] for r in data["records"]] == [r["key"] for r in records]  # every candidate, in archive order
    assert _front_keys(data) == sorted(_pareto_keys(nb201_run), key=[r["key"] for r in records].index)
    for shown, r in zip(data["records"], records):
        assert shown["objective"] == pytest.approx(r["objectives"]["error"], abs=1e-6)
        assert (shown["params"], shown["macs"], shown["generation"], shown["status"]) == (
            r["params"], r["macs"], r["generation"], r["status"])
        assert shown["genome"] == r["genome"] and shown["describe"][0].startswith("cell: |")
    progress = data["progress"]
    errors = [r["objectives"]["error"] for r in records]
    assert progress["best"] == pytest.approx(np.minimum.accumulate(errors), abs=1e-6)
    assert np.all(np.diff(progress["hv"]) >= 0) and 0 < progress["hv"][-1] <= 1
    assert progress["generations"] == [[0, 1], [1, 21], [2, 41], [3, 61]]  # generation -> its first evaluation
    funnel = {row["label"]: row["count"] for row in data["funnel"]}
    eepi = SearchRun.read(nb201_run).read_state()["eepi"]
    assert funnel["drawn by EE-PI"] == eepi["draws"] and funnel["evaluated"] == funnel["ok"] == len(records) == 80
    assert funnel.get("offspring screened", 0) == eepi.get("offspring_screened", 0)  # nsga2's budget repair
    by = eepi["rejected_by"]  # the default search's proposals that its predictor kept from training
    assert funnel.get("rejected by the prediction screen") == by.get("prediction") and by.get("prediction", 0) > 0
    (session,) = data["facts"]["sessions"]
    assert session["kind"] == "start" and session["outcome"] == "finished"
    assert data["facts"]["machine"]["cores"] == os.cpu_count() and data["facts"]["versions"]["pymoo"]
    log = (nb201_run / "log.txt").read_text()
    assert "report: " in log and "report: not written" not in log


def test_report_verb_adds_the_true_front_as_the_ceiling(nb201_run, tmp_path):
    """The tabular ceiling: the hypervolume so far is the fraction of the true front's (eeea.search.quality)."""
    from eeea.report.ceiling import true_front

    out = tmp_path / "r.html"
    assert main(["report", str(nb201_run), "--out", str(out), "--quiet"]) == 0
    data, records = report_data(out), _archive(nb201_run)
    front = true_front(SearchRun.read(nb201_run).config(), ["error", "params"], compute=False)  # cached by now
    assert isinstance(front, TrueFront) and data["progress"]["ceiling"] == 1.0
    for n in (1, 20, 57, 80):
        assert data["progress"]["hv"][n - 1] == pytest.approx(front.fraction(records[:n]), abs=1e-5)
    points = np.array([[r["objectives"]["error"], r["params"]] for r in records])
    assert all((front.front <= p).all(axis=1).any() for p in points)  # nothing found beats the table's true front


def test_report_help_imports_nothing_heavy():
    code = ("import sys\nfrom eeea.cli import main\ntry:\n    main(['report', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint(sorted(m for m in ('eeea.report', 'plotly', 'selenium') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "RUN_DIR" in out and out.strip().splitlines()[-1] == "[]"


# bad input: one line, exit 2, nothing of the user's changed ----------------------------------------------------------
def _refused(argv: list[str], capsys, words: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eeea: error: ") and len(err.splitlines()) == 1 and words in err, err


def test_bad_input_is_one_line(nb201_run, tmp_path, capsys):
    _refused(["report", str(tmp_path / "nowhere")], capsys, "is not a directory")
    _refused(["report", str(tmp_path)], capsys, "not a search run directory")
    _refused(["report", str(nb201_run), "--out", str(tmp_path)], capsys, "is a directory")
    _refused(["report", str(nb201_run), "--out", str(tmp_path / "no" / "r.html")], capsys, "is not a directory")
    _refused(["report", str(nb201_run), "--out", "/proc/eeea-report.html"], capsys, "cannot write in /proc")
    mine = tmp_path / "mine.html"
    mine.write_text("<p>my notes</p>")
    _refused(["report", str(nb201_run), "--out", str(mine)], capsys, "not an eeea report; pass --force")
    assert mine.read_text() == "<p>my notes</p>"
    assert main(["report", str(nb201_run), "--out", str(mine), "--force", "--quiet"]) == 0
    assert main(["report", str(nb201_run), "--out", str(mine), "--quiet"]) == 0  # an eeea report: replaced


def test_torn_archive(nb201_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "torn"
    shutil.copytree(nb201_run, run, ignore=shutil.ignore_patterns(".eeea-lock"))
    lines = (run / "archive.jsonl").read_bytes().split(b"\n")
    cut = b"\n".join(lines[:40]) + b"\n" + lines[40][:50]  # a kill mid-append: a last line without its end
    (run / "archive.jsonl").write_bytes(cut)
    assert main(["report", str(run), "--quiet"]) == 0
    data = report_data(run / "report.html")
    assert len(data["records"]) == 40 and any("torn last line" in n for n in data["notes"])
    assert (run / "archive.jsonl").read_bytes() == cut  # a report never repairs (or races) the run's archive
    broken = b"\n".join(lines[:10] + [lines[10][:50]] + lines[11:])  # damage inside the archive
    (run / "archive.jsonl").write_bytes(broken)
    _refused(["report", str(run)], capsys, "archive.jsonl:11: corrupt archive line")
    assert (run / "archive.jsonl").read_bytes() == broken


def test_report_never_imports_a_runs_own_task_code(nb201_run, tmp_path, monkeypatch):
    """A copied run directory whose config names a ``module:Class`` task must not make eeea report import it."""
    import shutil

    run = tmp_path / "theirs"
    shutil.copytree(nb201_run, run, ignore=shutil.ignore_patterns(".eeea-lock"))
    marker = tmp_path / "imported"
    (tmp_path / "their_task.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    SearchRun(run).write_config({**SearchRun.read(run).config(), "task": "their_task:Task"})
    assert main(["report", str(run), "--quiet"]) == 0
    assert not marker.exists() and len(report_data(run / "report.html")["records"]) == 80


# interrupted (kill -9), mid-run and resumed --------------------------------------------------------------------------
#: the search in a child process, writing its report after every round (its time share unlimited) so that a
#: snapshot taken mid-run holds several rounds
CHILD = ("import sys\nimport eeea.report.build as build\nbuild.MAX_SHARE = float('inf')\nfrom eeea.cli import main\n"
         "sys.exit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory, table) -> dict[str, Path]:
    """A tabular search killed (-9) once its report showed 3 rounds: the report as it stood then, ``eeea report``
    of the killed run, and the report after ``--resume`` finished it."""
    folder = tmp_path_factory.mktemp("killed")
    run, mid = folder / "run", folder / "mid.html"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "search", "--out", str(run),
                             *_flags(table, population=10, generations=12, seed=3)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    try:
        while True:
            assert proc.poll() is None, "the search ended before its report showed 3 rounds"
            assert time.time() < deadline, "no report of 3 rounds in time"
            if (run / "report.html").is_file():
                mid.write_bytes((run / "report.html").read_bytes())
                if (report_data(mid)["state"]["generation"] or 0) >= 2:
                    break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    interrupted = folder / "interrupted.html"
    assert main(["report", str(run), "--out", str(interrupted), "--quiet"]) == 0
    killed_archive = _archive(run)
    assert main(["search", "--resume", str(run), "--quiet"]) == 0
    return {"run": run, "mid": mid, "interrupted": interrupted, "final": run / "report.html",
            "killed_archive": killed_archive}


def test_reports_of_a_killed_and_resumed_run(killed_run):
    mid = report_data(killed_run["mid"])
    done = mid["state"]["generation"]
    shown = [r["key"] for r in mid["records"]]
    killed = [r["key"] for r in killed_run["killed_archive"]]
    assert mid["status"] == "running" and done >= 2 and len(shown) == 10 * (done + 1) == mid["state"]["evaluations"]
    assert killed[:len(shown)] == shown and {r["generation"] for r in mid["records"]} == set(range(done + 1))
    interrupted = report_data(killed_run["interrupted"])
    assert interrupted["status"] == "interrupted" and [r["key"] for r in interrupted["records"]] == killed
    assert interrupted["facts"]["sessions"][0]["outcome"].startswith("interrupted")
    final, records = report_data(killed_run["final"]), _archive(killed_run["run"])
    assert final["status"] == "finished" and [r["key"] for r in final["records"]] == [r["key"] for r in records]
    assert len(records) == len({r["key"] for r in records}) == 130
    assert set(_front_keys(final)) == set(_pareto_keys(killed_run["run"]))
    sessions = final["facts"]["sessions"]
    assert [(s["kind"], s["outcome"]) for s in sessions] == [("start", "interrupted (no end recorded)"),
                                                             ("resume", "finished")]
    assert sessions[1]["evaluations_at_start"] == len(killed)


# the page in headless Chromium ------------------------------------------------------------------------------------
def _points(driver, trace: str | None = None) -> int:
    """Markers drawn in the front plot (of the trace named ``trace``, or all)."""
    return driver.execute_script("""
        const gd = document.getElementById('front-plot'), name = arguments[0];
        const groups = [...gd.querySelectorAll('.scatterlayer .trace')];
        const picked = name === null ? groups : groups.filter(g => g.__data__[0].trace.name === name);
        return picked.reduce((n, g) => n + g.querySelectorAll('path.point').length, 0);""", trace)


def _column(driver, index: int) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#candidates-table tbody tr')].filter(tr => !tr.hidden)"
        ".map(tr => tr.children[arguments[0]].textContent)", index)


def _header(driver, label: str):
    from selenium.webdriver.common.by import By

    (th,) = [th for th in driver.find_elements(By.CSS_SELECTOR, "#candidates-table th") if th.text.startswith(label)]
    return th


def _check_page(driver, path: Path, run: Path, records: int, front: list[str] | None) -> dict:
    """The common checks: every candidate plotted, the front's points, a table that sorts, no console error, a
    screenshot that is not blank."""
    open_report(driver, path)
    data = report_data(path)
    assert driver.execute_script("return document.body.dataset.ready") == "plots"
    assert _points(driver) == records == len(data["records"])
    if front is not None:
        assert _points(driver, "Pareto front") == len(front)
        plotted = driver.execute_script("const gd = document.getElementById('front-plot'); return "
                                        "gd.data.find(t => t.name === 'Pareto front').customdata")
        assert sorted(data["records"][i]["key"] for i in plotted) == sorted(front)
    objective = data["objectives"][0]
    th = _header(driver, objective)
    column = [i for i, h in enumerate(driver.execute_script(
        "return [...document.querySelectorAll('#candidates-table th')].map(h => h.textContent)")) if h == objective][0]
    th.click()
    values = [float(v) for v in _column(driver, column)]
    assert values == sorted(values) and th.get_attribute("aria-sort") == "ascending"
    th.click()
    values = [float(v) for v in _column(driver, column)]
    assert values == sorted(values, reverse=True) and th.get_attribute("aria-sort") == "descending"
    assert console_errors(driver) == []
    assert screenshot_spread(driver) > 20  # a blank page is one grey level
    return data


def test_tabular_report_in_chromium(browser, nb201_run, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out = tmp_path / "report.html"
    assert main(["report", str(nb201_run), "--out", str(out), "--quiet"]) == 0  # with the true front's ceiling
    data = _check_page(browser, out, nb201_run, 80, _pareto_keys(nb201_run))
    names = browser.execute_script("return document.getElementById('progress-plot').data.map(t => t.name)")
    assert "true front (the ceiling)" in names and len(names) == 3
    # hover and click a front member: its genome, architecture and commands
    point = browser.find_element(By.CSS_SELECTOR, "#front-plot .scatterlayer .trace:last-child path.point")
    ActionChains(browser).move_to_element(point).click().perform()
    index = int(browser.find_element(By.ID, "details").get_attribute("data-index"))
    member = data["records"][index]
    assert index in data["front"]
    assert browser.find_element(By.CSS_SELECTOR, "#details pre.genome").text == member["genome"]
    assert browser.find_element(By.CSS_SELECTOR, "#details pre.describe").text.startswith("cell: |")
    train = browser.find_element(By.CSS_SELECTOR, "#details pre.cmd-train").text
    assert train.startswith("eeea train --arch ") and "--dataset cifar10" in train
    export = shlex.split(browser.find_element(By.CSS_SELECTOR, "#details pre.cmd-export").text)
    out = tmp_path / "member.onnx"  # the command as shown exports the candidate
    assert export[:2] == ["eeea", "export"] and main([*export[1:-1], str(out)]) == 0 and out.stat().st_size > 1000
    # the x axis switch: MACs
    browser.find_element(By.ID, "axis-macs").click()
    xs = browser.execute_script("const gd = document.getElementById('front-plot'); "
                                "return gd.data.filter(t => t.mode === 'markers').flatMap(t => t.x)")
    assert sorted(xs) == sorted(r["macs"] for r in data["records"])
    assert _points(browser) == 80
    # filter by status and by text
    Select(browser.find_element(By.ID, "status-filter")).select_by_value("front")
    assert len(_column(browser, 1)) == len(data["front"])
    Select(browser.find_element(By.ID, "status-filter")).select_by_value("")
    browser.find_element(By.ID, "text-filter").send_keys(member["key"])
    assert _column(browser, 1) == [member["key"]]
    assert console_errors(browser) == []


def test_ser_report_in_chromium(browser, tmp_path):
    """A tiny SER search's own report: trained candidates with their checkpoints."""
    run = tmp_path / "ser"
    assert main(["search", "--out", str(run), *SER_FLAGS]) == 0
    data = _check_page(browser, run / "report.html", run, 2, _pareto_keys(run))
    assert data["objectives"] == ["1-ccc", "params"] and {"ccc_valence", "ccc"} <= set(data["extras"])
    assert all(r["seconds"] > 0 for r in data["records"])
    for i, r in enumerate(data["records"]):  # trained weights are exported from their checkpoint
        export = browser.execute_script("return window.eeeaReport.commands(arguments[0]).export", i)
        key = r["key"]
        assert export == f"eeea export {run.resolve()}/checkpoints/{key} --format onnx-int8 --out {key}.int8.onnx"
    assert any("speakers" in line for line in data["facts"]["split"])  # the split the search read
    browser.execute_script("window.eeeaReport.showDetails(0)")
    from selenium.webdriver.common.by import By

    assert "front: log-mel" in browser.find_element(By.CSS_SELECTOR, "#details pre.describe").text


def test_mid_run_report_in_chromium(browser, killed_run):
    """The report as it stood mid-run (the search was killed just after) opens and shows the rounds so far."""
    mid = report_data(killed_run["mid"])
    open_report(browser, killed_run["mid"])
    assert _points(browser) == len(mid["records"]) == mid["state"]["evaluations"]
    marks = browser.execute_script("return document.getElementById('progress-plot').layout.annotations"
                                   ".map(a => a.text)")
    assert marks == [f"g{g}" for g in range(mid["state"]["generation"] + 1)]
    assert "running" in browser.find_element("id", "summary").text and console_errors(browser) == []
