"""Latency tables: the builder, count_latency (overhead + the walk's entries), EE-PI's latency budget, bad table files."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from torch import nn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eeea import LatencyTable, count_latency, count_macs, get_space
from eeea.cli import main
from eeea.errors import UserError
from eeea import latency
from eeea.latency import (QUANTILE, blocked_layout, describe_device, enumerate_modules, shapes_to_measure,
                          shipped_table, spec_key, version_mismatch)
from eeea.models.specs import chain_params, walk_macs
from eeea.search.eepi import EEPI, BudgetRepair
from eeea.units import format_duration, parse_duration

from strategies import genomes

DATA = Path(__file__).resolve().parent / "data"
TINY = "tiny_wav2small"


@pytest.fixture(scope="module", autouse=True)
def tiny_space_on_path():
    """The tiny space resolves by name (genomes name their space) through EEEA_SPACES."""
    old = os.environ.get("EEEA_SPACES")
    os.environ["EEEA_SPACES"] = str(DATA)
    yield
    if old is None:
        del os.environ["EEEA_SPACES"]
    else:
        os.environ["EEEA_SPACES"] = old


def synthetic_table(name: str, seed: int = 0, overhead: float = 12.5, samples: int = 60) -> LatencyTable:
    """A table of every module of ``name`` (at every shape met) with seeded random times: no timing, exact sums."""
    space = get_space(name)
    size = space.size()
    rng = np.random.default_rng(seed)
    entries = {
        spec_key(spec): sorted((int(np.prod(s)), s, float(rng.uniform(0.5, 500.0))) for s in shapes)
        for spec, shapes in enumerate_modules(space, size, samples=samples, patience=50).items()
    }
    return LatencyTable(space.name, size, "onnxruntime", 1, overhead, entries, source="synthetic.json")


@pytest.fixture(scope="module")
def tiny_table() -> LatencyTable:
    return synthetic_table(TINY)


@pytest.fixture(scope="module")
def cell_table() -> LatencyTable:
    return synthetic_table("eeea", samples=300)


@pytest.fixture(scope="module")
def nb201_table() -> LatencyTable:
    return synthetic_table("nb201", samples=200)


# the builder -------------------------------------------------------------------------------------------------------
def test_table_builder_writes_a_file_for_a_tiny_space(tmp_path, capsys):
    out = tmp_path / "lut.json"
    argv = ["latency-table", "--space", TINY, "--out", str(out), "--samples", "20", "--calibrate", "3", "--quiet"]
    assert main(argv) == 0
    table = LatencyTable.load(out)
    data = json.loads(out.read_text())
    assert data["machine"]["cpus"] and data["versions"]["onnxruntime"] and data["runtime"] == "onnxruntime"
    assert table.space == TINY and table.threads == 1 and table.size == get_space(TINY).size()
    assert table.overhead_us > 0 and table.correction["scale"] > 0
    space = get_space(TINY)
    rng = np.random.default_rng(5)
    for _ in range(20):  # complete: every module of any genome of the tiny space has an entry
        g = space.random_genome(rng)
        assert all(spec_key(s) in table.entries for s, _ in space.spec_walk(g, **table.size))
        assert count_latency(g, table) > 0
    assert table.quantile == QUANTILE and table.optimization == "all"  # the protocol is recorded with the figures
    # never overwrites without --force
    assert main(argv) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    ext = tmp_path / "ext.json"
    assert main([*argv[:4], str(ext), *argv[5:], "--optimization", "extended", "--quantile", "0.5"]) == 0
    table = LatencyTable.load(ext)
    assert (table.optimization, table.quantile) == ("extended", 0.5)
    timer = table.timer()  # what the front is timed with: as the table was measured
    assert (timer.optimization, timer.quantile, timer.runtime, timer.threads) == ("extended", 0.5, "onnxruntime", 1)
    assert "graph optimisation extended" in describe_device(table)


def test_networks_timed_in_the_tables_passes_come_back_per_pass():
    """measure_table times extra networks in the modules' own passes (a benchmark's genomes meet the same drift of a
    shared machine as the table that predicts them); each figure is an item's fastest pass."""
    space = get_space(TINY)
    rng = np.random.default_rng(1)
    genomes = [space.random_genome(rng) for _ in range(3)]
    size = space.size()
    networks = [(space.build(g, **size), tuple(space.genome_input_shape(g, **size))) for g in genomes]
    table, per_pass = latency.measure_table(space, samples=10, calibrate=0, passes=2, budget_s=0.01,
                                            networks=networks)
    assert len(per_pass) == 2 and all(len(p) == 3 and min(p) > 0 for p in per_pass)
    assert table.protocol["passes"] == 2 and table.entries and table.correction["scale"] == 1.0
    assert latency.fastest([[3.0, 5.0], [4.0, 1.0]]) == [3.0, 1.0]
    # a module's figure: its fastest pass net of its baseline's fastest, never negative
    assert latency.module_figures([[10.0, 7.0, 2.0], [8.0, 9.0, 3.0]], [2, 2]) == [6.0, 5.0]
    assert latency.module_figures([[1.0, 5.0]], [1]) == [0.0]


@pytest.mark.parametrize("flag, value", [("--quantile", "2"), ("--quantile", "low"), ("--optimization", "max")])
def test_bad_protocol_flags_are_one_line_and_exit_2(tmp_path, capsys, flag, value):
    assert main(["latency-table", "--space", TINY, "--out", str(tmp_path / "t.json"), flag, value, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert flag in err and err.count("\n") == 1 and not (tmp_path / "t.json").exists()


def test_a_timing_is_the_chosen_quantile_of_its_runs(monkeypatch):
    """On a shared machine runs fall in a fast and a slow mode: the figure is a low quantile of the timed runs, not
    the median, which flips between the modes from one session to the next."""
    durations = [5.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0]  # seconds, as a fake clock reports them
    ticks = iter(np.cumsum([0.0] + [d for d in durations for d in (d, 0.0)]))
    monkeypatch.setitem(latency.CLOCKS, "fake", lambda: next(ticks))
    calls = []
    us = latency.time_us(lambda: calls.append(1), warmup=0, runs=len(durations), budget_s=1e9, clock="fake",
                         quantile=0.1)
    assert len(calls) == len(durations) and us == pytest.approx(np.quantile(durations, 0.1) * 1e6)
    for bad in (-0.1, 1.5, "0.1", True):
        with pytest.raises(UserError, match="--quantile"):
            latency.Timer(quantile=bad)
    with pytest.raises(UserError, match="--optimization"):
        latency.Timer(optimization="fast")


def test_the_correction_is_kept_only_where_it_predicts_left_out_networks(tiny_table):
    """Networks the sum already predicts keep the sum as it is; networks it misses by a factor and a fixed cost get
    that affine correction back."""
    space = get_space(TINY)
    rng = np.random.default_rng(3)
    walks = [space.spec_walk(space.random_genome(rng), **tiny_table.size) for _ in range(20)]
    sums = np.array([tiny_table.sum_us(w) for w in walks])
    noise = 1 + 0.02 * np.sin(np.arange(len(walks)))  # a steady, small measurement error
    table = LatencyTable.from_dict(tiny_table.to_dict())
    table.fit_correction(walks, sums * noise)
    assert (table.correction["scale"], table.correction["offset_us"]) == (1.0, 0.0)
    table.fit_correction(walks, (2 * sums + 300) * noise)
    assert table.correction["scale"] == pytest.approx(2, rel=0.05)
    assert np.median(np.abs(np.array([table.predict(w) for w in walks]) / ((2 * sums + 300) * noise) - 1)) < 0.02


def test_blocked_layout_handoffs_are_counted_and_corrected(tiny_table):
    """Modules the runtime runs in its blocked layout save their reorders where two of them meet: the table counts
    the elements handed between such neighbours, keeps the flag through its file, and fits the saving when whole
    networks show it."""
    space = get_space(TINY)
    rng = np.random.default_rng(4)
    walks = [space.spec_walk(space.random_genome(rng), **tiny_table.size) for _ in range(24)]
    kinds = sorted({spec_key(spec) for w in walks for spec, _ in w})
    table = LatencyTable.from_dict(tiny_table.to_dict())
    table.blocked = frozenset(k for k in kinds if '"conv' in k or '"max_pool' in k)
    walk = walks[0]
    expected = sum(int(np.prod(shape)) for (a, _), (b, shape) in zip(walk, walk[1:])
                   if spec_key(a) in table.blocked and spec_key(b) in table.blocked)
    assert table.handoff(walk) == expected
    again = LatencyTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.blocked == table.blocked and again.handoff(walk) == expected
    sums = np.array([table.sum_us(w) for w in walks])
    handoffs = np.array([table.handoff(w) for w in walks], dtype=float)
    assert len(set(handoffs)) > 3  # the networks differ in it
    measured = sums - 0.002 * handoffs * sums.mean() / max(handoffs.mean(), 1.0) + 20
    table.fit_correction(walks, measured)
    assert table.correction["per_handoff_element_us"] < 0 and "handoff" in table.correction_form()
    assert np.allclose([table.predict(w) for w in walks], measured, rtol=1e-3)
    assert blocked_layout(nn.Identity(), (4, 8, 8)) is False  # nothing to lay out: no reorders


def test_a_table_without_protocol_fields_holds_medians_at_full_optimisation(tiny_table, tmp_path):
    data = tiny_table.to_dict()
    data["protocol"] = {}
    table = LatencyTable.from_dict(data)
    assert (table.quantile, table.optimization) == (0.5, "all")
    for field, value, message in (("graph_optimization", "turbo", "unknown graph optimisation"),
                                  ("quantile", 3, "not between 0 and 1"), ("quantile", "low", "not between")):
        bad = {**data, "protocol": {field: value}}
        with pytest.raises(UserError, match=message):
            LatencyTable.from_dict(bad, "lut.json")


def test_measured_shape_choice_and_scaling():
    counts = {(4, 10, 8): 5, (4, 5, 4): 1, (4, 20, 16): 2, (4, 3, 2): 1}
    assert shapes_to_measure(counts, 1) == [(4, 10, 8)]
    assert shapes_to_measure(counts, 2) == [(4, 10, 8), (4, 20, 16)]  # the largest first: no scaling far up
    assert shapes_to_measure(counts, 3) == [(4, 10, 8), (4, 20, 16), (4, 3, 2)]
    spec = ("conv_bn_relu", 4, 4, 3)
    table = LatencyTable(TINY, {}, "torch", 1, 0.0, {spec_key(spec): [(320, (4, 10, 8), 100.0), (1280, (4, 20, 16), 250.0)]})
    assert table.module_us(spec, (4, 10, 8)) == 100.0  # measured shape: exact
    assert table.module_us(spec, (4, 20, 8)) == pytest.approx(100.0 + 150.0 * (640 - 320) / 960)  # between: linear
    assert table.module_us(spec, (4, 5, 4)) == pytest.approx(25.0)  # below: proportional to the nearest
    assert table.module_us(spec, (4, 40, 16)) == pytest.approx(500.0)  # above: proportional to the nearest


# count_latency -----------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), scale=st.floats(0.5, 2.0), offset=st.floats(-50, 50))
def test_count_latency_is_overhead_plus_the_walks_entries(tiny_table, cell_table, nb201_table, seed, scale, offset):
    for table in (tiny_table, cell_table, nb201_table):
        space = get_space(table.space)
        genome = space.random_genome(np.random.default_rng(seed))
        walk = space.spec_walk(genome, **table.size)
        exact = {spec_key(s): {shape: us for _, shape, us in pts} for s, pts in
                 ((json.loads(k), v) for k, v in table.entries.items())}
        # a genome with a module (or shape) the enumeration never met has no exact sum to compare with
        assume(all(shape in exact.get(spec_key(s), {}) for s, shape in walk))
        by_hand = table.overhead_us + sum(exact[spec_key(s)][shape] for s, shape in walk)
        table.correction = {"scale": 1.0, "offset_us": 0.0}
        assert count_latency(genome, table) == pytest.approx(by_hand, rel=1e-12)
        table.correction = {"scale": scale, "offset_us": offset}
        assert count_latency(genome, table) == pytest.approx(offset + scale * by_hand, rel=1e-9)
        table.correction = {"scale": 1.0, "offset_us": 0.0}
        assert walk_macs(walk) == count_macs(genome, table.size)  # the walk is the one MACs are counted on


#: every space whose networks are walks of module specs; cell spaces at their search size (8 cells, C = 16, 32x32)
WALKED = ("wav2small", "mobilenet_audio", "ofa_mbv3", "nb201", "nas_bench_macro", "eeea", "darts", "nsga_net")


@pytest.mark.parametrize("name", WALKED)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_the_walk_is_the_network_that_params_and_macs_count(name, data):
    """Latency sums over the very modules the exact counters count: the walk's params and MACs are the genome's."""
    space = get_space(name)
    genome = data.draw(genomes(name))
    size = space.size(**(space.search_size if name in ("eeea", "darts", "nsga_net") else {}))
    walk = space.spec_walk(genome, **size)
    assert walk_macs(walk) == space.count_macs(genome, **size)
    assert chain_params(spec for spec, _ in walk) == space.count_params(genome, **size)
    assert walk[0][1] == tuple(space.genome_input_shape(genome, **size))


def test_count_latency_is_fast(tiny_table):
    """Thousands of genomes per second once the walks' shapes are memoised (the speed itself: bench_latency)."""
    space = get_space(TINY)
    genomes = [space.random_genome(np.random.default_rng(i)) for i in range(200)]
    first = [count_latency(g, tiny_table) for g in genomes]
    assert [count_latency(g, tiny_table) for g in genomes] == first


# EE-PI -------------------------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), quantile=st.floats(0.4, 1.0))
def test_eepi_never_admits_a_genome_over_max_latency(tiny_table, seed, quantile):
    space = get_space(TINY)
    rng = np.random.default_rng(seed)
    latencies = [count_latency(space.random_genome(rng), tiny_table) for _ in range(50)]
    limit = float(np.quantile(latencies, quantile)) + 1e-6
    eepi = EEPI(space, max_latency=limit, latency_table=tiny_table)
    pop = eepi.population(rng, 2)  # the tiny space has 20 genomes
    assert all(count_latency(space.decode(x), tiny_table) <= limit for x in pop)
    offspring = np.array([space.sample(rng) for _ in range(6)])
    repaired = BudgetRepair(eepi)._do(None, offspring, random_state=rng)
    assert all(count_latency(space.decode(x), tiny_table) <= limit for x in repaired)


#: the spaces the default SER search may use; eeea ships a reference table of each at the SER evaluation size (the
#: union's composed from its members')
SER_SPACES = ("wav2small", "mobilenet_audio", "audio_union")


def _ser_size(space):
    from eeea.tasks import get_task

    return space.size(**get_task("ser").size_overrides())


@pytest.mark.parametrize("name", SER_SPACES)
def test_reference_tables_ship_for_the_ser_spaces_and_cover_them(name):
    space = get_space(name)
    table = shipped_table(space, _ser_size(space))
    assert table is not None and table.space == name and table.runtime == "onnxruntime" and table.threads == 1
    assert table.machine["machine"] and table.versions["onnxruntime"] and table.calibration
    assert "reference" in table.source and "CPU" in describe_device(table)
    rng = np.random.default_rng(3)
    for _ in range(100):  # every random genome gets a positive prediction (no missing module stops a search)
        assert count_latency(space.random_genome(rng), table) > 0
    assert shipped_table(space, {**_ser_size(space), "seconds": 2.5}) is None  # another size: not this table's
    assert shipped_table(get_space(TINY), get_space(TINY).size()) is None
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"latency_tables/*.json"' in pyproject  # a non-editable install carries the tables


@pytest.mark.parametrize("name", SER_SPACES)
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), quantile=st.floats(0.3, 1.0))
def test_eepi_with_a_reference_table_never_admits_a_genome_over_max_latency(name, seed, quantile):
    space = get_space(name)
    size = _ser_size(space)
    table = shipped_table(space, size)
    rng = np.random.default_rng(seed)
    latencies = [count_latency(space.random_genome(rng), table) for _ in range(40)]
    limit = float(np.quantile(latencies, quantile)) + 1e-6
    eepi = EEPI(space, max_params=72_000, eval_size=size, max_latency=limit, latency_table=table)
    pop = eepi.population(rng, 4)
    assert all(count_latency(space.decode(x), table) <= limit for x in pop)
    repaired = BudgetRepair(eepi)._do(None, np.array([space.sample(rng) for _ in range(6)]), random_state=rng)
    assert all(count_latency(space.decode(x), table) <= limit for x in repaired)


def test_max_latency_without_a_table_uses_the_reference_table_of_the_ser_space():
    from eeea.search.config import resolve_config
    from eeea.search.loop import latency_table

    # a ser space eeea ships a table of, the default (audio_union) among them: no --latency-table needed
    for chosen in ({"space": "mobilenet_audio"}, {}):
        config = resolve_config({}, {"max_latency": "5ms", **chosen})
        space = get_space(config["space"])
        table, notes = latency_table(config, space, _ser_size(space))
        assert table is not None and table.space == space.name and config["max_latency"] == 5000.0
        assert notes[0].startswith("latency_us (pred): predicted on the reference table of an")
    assert space.name == "audio_union"
    with pytest.raises(UserError, match="--max-latency needs --latency-table FILE .* no table for space"):
        latency_table(config, get_space(TINY), get_space(TINY).size())


def test_the_union_table_is_composed_from_its_members_and_predicts_as_they_do():
    """No union table is measured: a union network is one member's, so the members' tables (one device, one protocol)
    compose into the union's, with one correction refitted on all their calibration networks."""
    from scipy.stats import spearmanr

    union = get_space("audio_union")
    table = shipped_table(union, _ser_size(union))
    members = [shipped_table(m, _ser_size(m)) for m in union.members]
    assert table.protocol["composed_from"] == sorted(m.name for m in union.members)
    assert len(table.calibration) == sum(len(m.calibration) for m in members)
    assert set(table.entries) == set().union(*(m.entries for m in members))
    measured = np.array([c["measured_us"] for c in table.calibration])
    predicted = np.array([table.correction["offset_us"] + table.correction["scale"] * c["sum_us"]
                          + table.correction["per_handoff_element_us"] * c["handoff"] for c in table.calibration])
    own = []
    for m in members:  # each member's table on its own networks, with its own correction
        c = m.correction
        own += [abs(c["offset_us"] + c["scale"] * x["sum_us"] + c["per_handoff_element_us"] * x["handoff"]
                    - x["measured_us"]) / x["measured_us"] for x in m.calibration]
    # one correction for both families: median error 7.5 % on the measured networks, against 6.3 % for the
    # members' own corrections (2026-12-03)
    assert np.median(np.abs(predicted - measured) / measured) <= np.median(own) * 1.25
    rng = np.random.default_rng(5)
    for space, own_table in zip(union.members, members):
        genomes = [space.random_genome(rng) for _ in range(60)]
        alone = np.array([count_latency(g, own_table) for g in genomes])
        composed = np.array([count_latency(g, table) for g in genomes])  # a member's genome, on the union's table
        assert spearmanr(alone, composed)[0] > 0.99  # ranks as the member's own table does
        assert 0.93 < np.median(composed / alone) < 1.07  # measured: 0.98 (wav2small), 1.02 (mobilenet_audio)


def test_only_tables_of_every_member_from_one_device_compose(tmp_path, capsys):
    union = get_space("audio_union")
    wav2small, mobilenet = (shipped_table(m, _ser_size(m)) for m in union.members)
    with pytest.raises(UserError, match="one table of each member"):
        latency.compose_table(union, [wav2small])
    other = LatencyTable.from_dict({**mobilenet.to_dict(), "threads": 2}, "phone.json")
    with pytest.raises(UserError, match=r"^eeea's reference table wav2small.json \+ phone.json: the member tables "
                                        r"differ in threads \(1 vs 2\)"):
        latency.compose_table(union, [wav2small, other])
    other = LatencyTable.from_dict({**mobilenet.to_dict(), "machine": {"machine": "aarch64"}}, "phone.json")
    with pytest.raises(UserError, match="differ in machine"):
        latency.compose_table(union, [wav2small, other])
    # the command: a device's own member tables composed into a file --latency-table takes
    folder = Path(latency.__file__).parent / latency.SHIPPED_DIR
    members = [str(folder / f"{m.name}.json") for m in union.members]
    assert main(["latency-table", "--space", "audio_union", "--compose", *members, "--out", str(tmp_path / "u.json")]) == 0
    assert "composed from" in capsys.readouterr().out
    written = LatencyTable.load(tmp_path / "u.json")
    shipped = shipped_table(union, _ser_size(union))
    assert written.entries == shipped.entries and written.calibration == shipped.calibration
    assert written.correction == {k: v for k, v in shipped.correction.items() if k != "networks"}  # kept by the file
    assert main(["latency-table", "--space", "audio_union", "--compose", members[0], "--out",
                 str(tmp_path / "v.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "one table of each member" in err and not (tmp_path / "v.json").exists()


def test_a_table_of_another_runtime_version_is_one_note_not_an_error(tiny_table):
    table = synthetic_table(TINY, samples=5)
    table.versions = {"onnxruntime": "0.0.1"}
    note = version_mismatch(table)
    assert note.count("\n") == 0 and "measured with onnxruntime 0.0.1" in note and "predictions may be off" in note
    from importlib.metadata import version

    table.versions = {"onnxruntime": version("onnxruntime")}
    assert version_mismatch(table) is None


def test_a_spec_the_table_lacks_is_estimated_from_its_kind(tiny_table):
    """Enumeration misses rare specs (a classifier of an unusual width): the kind's nearest entry, scaled by MACs."""
    space = get_space(TINY)
    genome = space.random_genome(np.random.default_rng(0))
    walk = space.spec_walk(genome, **tiny_table.size)
    spec, shape = next((s, sh) for s, sh in walk if s[0] == "conv_bn_relu")
    table = LatencyTable(TINY, tiny_table.size, "onnxruntime", 1, 0.0,
                         {k: v for k, v in tiny_table.entries.items() if k != spec_key(spec)})
    assert table.module_us(spec, shape) > 0
    table.entries = {k: v for k, v in table.entries.items() if not k.startswith('["conv_bn_relu"')}
    table._cache.clear()
    table._kinds = None
    with pytest.raises(UserError, match="no entry for module"):
        table.module_us(spec, shape)


def test_eepi_refuses_an_unmeetable_latency(tiny_table):
    eepi = EEPI(get_space(TINY), max_latency=1.0, latency_table=tiny_table)
    with pytest.raises(UserError, match="--max-latency 1us cannot be met .* predicted latency of"):
        eepi.check_feasible()


def test_durations():
    assert parse_duration("2ms") == 2000.0 and parse_duration("500us") == 500.0 and parse_duration("0.1s") == 1e5
    assert parse_duration(250) == 250.0 and format_duration(2345) == "2.35ms" and format_duration(850.2) == "850us"
    for bad in ("2", "2 min", "-1ms", True):
        with pytest.raises(UserError, match="--max-latency"):
            parse_duration(bad, "--max-latency")


# bad table files ---------------------------------------------------------------------------------------------------
def _search(tmp_path, table: Path, *extra: str) -> list[str]:
    return ["search", "--space", TINY, "--latency-table", str(table), "--max-latency", "1s",
            "--out", str(tmp_path / "run"), "--population", "2", "--generations", "0", "--quiet", *extra]


@pytest.mark.parametrize("case, message", [
    ("corrupt", "not valid JSON"),
    ("not a table", "not a valid latency table"),
    ("other space", "latency table of space eeea, not tiny_wav2small"),
    ("missing spec", "no entry for module"),
    ("absent", "does not exist"),
])
def test_bad_table_files_are_one_line_and_exit_2_before_training(tmp_path, capsys, tiny_table, case, message):
    path = tmp_path / "lut.json"
    if case == "corrupt":
        path.write_text('{"format": 1, "entries": [')
    elif case == "not a table":
        path.write_text('{"format": 1, "space": "tiny_wav2small"}')
    elif case == "other space":
        synthetic_table("eeea", samples=5).save(path)
    elif case == "missing spec":
        table = synthetic_table(TINY)
        table.entries = {k: v for k, v in table.entries.items() if not k.startswith('["mean_pool"')}
        table.save(path)
    assert main(_search(tmp_path, path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("eeea: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "archive.jsonl").exists() or not (tmp_path / "run" / "archive.jsonl").read_text()


def test_latency_objective_needs_a_table(tmp_path, capsys):
    assert main(["search", "--space", TINY, "--objectives", "1-ccc,latency", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    assert "latency needs --latency-table" in capsys.readouterr().err
    assert main(["search", "--space", TINY, "--max-latency", "2ms", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "--max-latency needs --latency-table" in capsys.readouterr().err


def test_export_prints_the_measured_latency_of_the_file(tmp_path, capsys):
    assert main(["export", "wav2small_17k", "--format", "onnx", "--out", str(tmp_path / "w.onnx"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "latency: " in out and "onnxruntime" in out and "1 thread, batch 1" in out


@pytest.mark.slow
def test_latency_bounded_search_writes_predicted_and_measured_latency(tmp_path, tiny_table):
    """A tiny ser search under --max-latency with the latency objective: every candidate within budget, and
    pareto.csv carries the prediction beside the front's measured fp32 and int8 latency."""
    import csv

    table_path = tmp_path / "lut.json"
    tiny_table.save(table_path)
    space = get_space(TINY)
    limit = float(np.median([count_latency(space.random_genome(np.random.default_rng(i)), tiny_table)
                             for i in range(30)]))
    run = tmp_path / "run"
    assert main(["search", "--space", TINY, "--latency-table", str(table_path), "--max-latency", f"{limit}us",
                 "--objectives", "1-ccc,latency", "--population", "2", "--generations", "0", "--epochs", "1",
                 "--workers", "1", "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    records = [json.loads(line) for line in (run / "archive.jsonl").read_text().splitlines()]
    assert records and all(r["objectives"]["latency"] <= limit + 1e-3 for r in records)
    rows = list(csv.DictReader((run / "pareto.csv").open()))
    assert rows and all(float(r["latency"]) <= limit + 1e-3 and float(r["measured_fp32"]) > 0 for r in rows)
    assert all(float(r["measured_int8"]) > 0 for r in rows if r["status"] == "ok" and r["measured_int8"])


def test_latency_table_piped_states_its_cost_and_prints_module_progress_with_an_eta(tmp_path):
    """Output to a pipe: the expected time and peak memory up front, then each phase's progress as plain lines (no
    carriage-return frames), the first ETA after the first module, and the summary."""
    import subprocess
    import sys

    out = tmp_path / "lut.json"
    done = subprocess.run([sys.executable, "-m", "eeea.cli", "latency-table", "--space", TINY, "--out", str(out),
                           "--samples", "5", "--calibrate", "3", "--passes", "1"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "EEEA_SPACES": str(DATA)})
    assert done.returncode == 0, done.stderr[-2000:]
    err = done.stderr
    assert "\r" not in err and "\r" not in done.stdout and "\x1b[" not in err
    lines = err.splitlines()
    expected = next(i for i, line in enumerate(lines) if "expected about" in line)
    assert re.search(r"module shapes of \d+ specs and 3 whole networks, 1 interleaved pass; expected about "
                     r"\d+(m\d\ds|s) on an idle core \(longer while other work shares the machine\) and \d+\.\d GiB "
                     r"peak memory", lines[expected])
    exporting = [i for i, line in enumerate(lines) if "exporting to ONNX: " in line]
    timing = [line for line in lines if f"latency table {TINY}: timing: " in line]
    assert exporting and min(exporting) > expected  # said before the work
    total = int(re.search(r"timing: \d+/(\d+) timings", timing[0]).group(1))
    assert re.search(r"timing: 1/\d+ timings, \d+s elapsed, ETA \d+", timing[1])  # an ETA after the first module
    assert timing[-1].startswith(f"latency table {TINY}: timing: {total}/{total} timings") and "done" in timing[-1]
    assert any("layout check" in line and "done" in line for line in lines)
    assert done.stdout.startswith(f"wrote {out}")
    assert LatencyTable.load(out).space == TINY
