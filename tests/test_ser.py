"""The SER task and the EmoDB recipe (embedded subset, zip, folder, speaker-independent split, A/D/V mapping)."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
from ser_helpers import TINY, ser_task

from eeea import UserError, get_space
from eeea.data.emodb import TEST_SPEAKERS, VALID_SPEAKERS, adv_mapping, embedded_path, load_emodb, parse_name
from eeea.tasks import get_task

torch.set_num_threads(1)


def test_embedded_subset_is_small_real_and_covers_every_speaker_and_emotion():
    assert embedded_path().stat().st_size <= 10 * 2**20
    clips = load_emodb()
    assert len(clips) == 135
    assert set(clips.speakers) == {"03", "08", "09", "10", "11", "12", "13", "14", "15", "16"}
    assert {parse_name(n)[2] for n in clips.names} == set("WLEAFTN")
    assert all(w.dtype == np.float32 and 1.0 < len(w) / 16000 < 9.5 for w in clips.waves)


def test_mapping_is_cited_and_scaled_to_unit_range():
    mapping = adv_mapping()
    assert set(mapping) == set("WLEAFTN")
    assert np.allclose(mapping["N"], 0.5)
    assert mapping["W"][0] > mapping["T"][0]  # anger is more aroused than sadness
    assert mapping["F"][2] > mapping["W"][2]  # happiness is more pleasant than anger
    assert all(np.all((v >= 0) & (v <= 1)) for v in mapping.values())


def test_speaker_independent_three_way_split():
    """The search trains on 5 speakers and scores the 2 validation speakers; the test speakers are read only by a
    final training, which trains on training + validation speakers."""
    train, valid = ser_task().train_set, ser_task().test_set
    assert set(valid.speakers) == set(VALID_SPEAKERS)
    assert not set(train.speakers) & (set(valid.speakers) | set(TEST_SPEAKERS))
    final = get_task("ser")
    final.prepare_final("cpu", (16000,))
    assert set(final.test_set.speakers) == set(TEST_SPEAKERS)
    assert set(final.train_set.speakers) == set(train.speakers) | set(VALID_SPEAKERS)
    with pytest.raises(UserError, match="held-out speaker"):
        load_emodb().split_by_speaker(["99"])


def test_reads_the_corpus_zip_and_a_folder(shared_dir, tmp_path):
    emodb_zip = shared_dir / "data" / "emodb.zip"
    clips = load_emodb(emodb_zip, speakers=["03"])
    assert len(clips) == 49 and set(clips.speakers) == {"03"}
    with zipfile.ZipFile(emodb_zip) as z:
        names = [n for n in z.namelist() if n.startswith("wav/16a0")]
        z.extractall(tmp_path, names)
    folder = load_emodb(tmp_path)
    assert len(folder) == len(names)
    with pytest.raises(UserError, match="not an EmoDB zip or folder"):
        load_emodb(tmp_path / "missing")


def test_evaluate_reports_objective_and_per_dimension_ccc_deterministically():
    task = ser_task()
    space = get_space("wav2small")
    results = []
    for _ in range(2):
        torch.manual_seed(1)
        results.append(task.evaluate(space.build(TINY), {"epochs": 1}, seed=3))
    assert results[0] == results[1]
    r = results[0]
    assert {"1-ccc", "ccc_arousal", "ccc_dominance", "ccc_valence"} <= set(r)
    assert r["1-ccc"] == pytest.approx(1 - np.mean([r["ccc_arousal"], r["ccc_dominance"], r["ccc_valence"]]))


def test_training_improves_ccc_and_loss_options():
    from ser_helpers import trained_tiny

    assert ser_task().score(trained_tiny())["ccc"] > 0.3
    task = get_task("ser", loss="ccc+mse", crop_seconds=0.5)
    task.train_set, task.test_set = ser_task().train_set, ser_task().test_set
    assert np.isfinite(task.evaluate(get_space("wav2small").build(TINY), {"epochs": 1}, seed=0)["1-ccc"])
    with pytest.raises(UserError, match="loss must be one of"):
        get_task("ser", loss="mae")
    with pytest.raises(UserError, match="unknown budget key"):
        ser_task().evaluate(get_space("wav2small").build(TINY), {"epoch": 1}, seed=0)


def test_a_student_that_stalls_at_ccc_0_under_ccc_alone_learns_under_the_default_loss():
    """A wav2small-space student (attention + Gram head) that 1 - CCC alone left at CCC ~0 for seeds 0 and 1 (its
    outputs ran away from the targets' mean, test_metrics.py) learns under the default ccc+mean; see
    docs/decisions.md. The search records the loss it used, so a resumed or older run keeps its own."""
    from eeea import resolve_genome
    from eeea.tasks.base import task_class, task_defaults

    assert task_defaults(task_class("ser"))["loss"] == "ccc+mean"
    genome = resolve_genome("wav2small:mels=32;hop=32;channels=16,24;kernels=3,3;pool=1,1;head=attention_gram")
    space = get_space("wav2small")
    torch.manual_seed(0)
    model = space.build(genome, **space.size(outputs=3))
    assert 1 - get_task("ser").evaluate(model, {"epochs": 8}, seed=0)["1-ccc"] > 0.3


def test_teacher_labels_csv_replaces_the_mapping(tmp_path):
    clips = load_emodb()
    csv = tmp_path / "labels.csv"
    csv.write_text("path,arousal,dominance,valence\n" + "".join(f"x/{n}.wav,{i / 1000},0.25,0.75\n"
                                                              for i, n in enumerate(clips.names)))
    task = get_task("ser", labels=str(csv))
    task.prepare("cpu")
    assert np.allclose(task.test_set.targets[:, 1:], [0.25, 0.75])
    assert len(set(task.train_set.targets[:, 0].tolist())) == len(task.train_set)


def test_a_diverging_student_is_archived_diverged_not_ok():
    """A NaN loss raises the same Diverged as the image tasks, so the executor records ``diverged``."""
    from eeea.search.executors import Job, LocalExecutor

    executor = LocalExecutor("ser", {"crop_seconds": 0.5}, "wav2small", "cpu")
    job = Job(TINY.key, TINY.to_text(), 0, {}, {"epochs": 2, "batch_size": 16, "lr": 1e38})
    (result,) = executor.map([job])
    assert result["status"] == "diverged" and result["objectives"]["1-ccc"] == 1.0


def test_non_finite_outputs_raise_diverged():
    from eeea.tasks.training import Diverged

    model = get_space("wav2small").build(TINY)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(Diverged):
        ser_task().score(model)


def test_a_clip_budget_caps_each_epoch_with_a_fresh_draw(monkeypatch):
    """``clips_per_epoch``: an epoch trains on that many clips (whole batches), drawn afresh each epoch, so a large
    corpus costs a search candidate no more than a small one; none (the default of eeea train and bench_ser) is every
    clip, as before."""
    from eeea.tasks import ser
    from eeea.tasks.ser import DEFAULT_BUDGET, SEARCH_CLIPS_PER_EPOCH, complete_budget
    from eeea.search.config import resolve_config

    task = ser_task()
    seen: list[list[int]] = []
    crops = ser.random_crops
    monkeypatch.setattr(ser, "random_crops",
                        lambda waves, index, *a: seen.append(list(index)) or crops(waves, index, *a))
    model = get_space("wav2small").build(TINY)
    training = task.start(model, {"epochs": 2, "batch_size": 8, "clips_per_epoch": 20}, seed=0)
    assert training.steps == 2
    for epoch in range(2):
        training.train_epoch(epoch)
    first, second = sum(seen[:2], []), sum(seen[2:], [])
    assert len(seen) == 4 and len(set(first)) == 16 and set(first) != set(second)
    assert task.start(model, {"epochs": 1, "batch_size": 8}, seed=0).steps == len(task.train_set) // 8
    assert DEFAULT_BUDGET["clips_per_epoch"] is None
    assert complete_budget({"clips_per_epoch": 0})["clips_per_epoch"] is None
    assert resolve_config({})["train"]["clips_per_epoch"] == SEARCH_CLIPS_PER_EPOCH
    with pytest.raises(UserError, match="clips_per_epoch must be a positive integer"):
        complete_budget({"clips_per_epoch": -3})
