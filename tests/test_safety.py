"""Kill, corrupt and lock cases: stale locks are taken over and live ones refused (training folders,
attack shards), leftovers of a killed save are cleaned so --resume and --overwrite work, a full disk
during a save keeps the previous state, a corrupt line inside a run file costs only its example, victim
cache entries are all-or-nothing, and user label names land on the dataset's own label order."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from conftest import make_tiny_encoder
from rsebench.cli import main
from rsebench.errors import UserError
from rsebench.locks import acquire, lock_state, release
from rsebench.train.spec import load_spec
from rsebench.train.trainer import LOCK_FILE, STATE_DIR, STATE_OLD, STATE_TMP, train

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parent.parent
CORPUS = [f"sentence number {i} talks about {w} and other things" for i, w in enumerate(
    "cats dogs rivers music stocks rain football coffee trains books maps wine stars chess glass salt".split())]


@contextmanager
def lock_held_elsewhere(path: Path):
    """Another live process holding the lock at `path` (killed on exit, which leaves a stale lock)."""
    code = "import sys, time; from rsebench.locks import acquire; acquire(sys.argv[1], 'testing'); print('ready', flush=True); time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == b"ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(path: Path, pid: int, host: str | None = None, start: str | None = None) -> None:
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "start": start, "created": "earlier"}))


# --------------------------------------------------------------------------------------------
# Locks


def test_lock_states_stale_live_foreign_and_reused_pid(tmp_path):
    lock = tmp_path / "x.lock"
    assert lock_state(lock)[0] == "free"
    write_lock(lock, dead_pid())
    assert lock_state(lock)[0] == "stale"
    acquire(lock, "testing")  # takes the stale lock over
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    with pytest.raises(UserError, match="already testing"):
        acquire(lock, "testing")  # a live holder (this process) is refused
    release(lock)
    assert not lock.exists()
    write_lock(lock, os.getpid(), start="not-my-start-time")  # the pid now belongs to another process
    assert lock_state(lock)[0] == "stale"
    write_lock(lock, os.getpid(), host="another-host")
    with pytest.raises(UserError, match="delete that file"):
        acquire(lock, "testing")
    release(lock)  # not ours: left alone
    assert lock.exists()


def tiny_spec(**extra) -> dict:
    fields = {"epochs": "2", "batch_size": "4", "eval_every": "0", "save_every": "2", "max_length": "16", "lr": "1e-3"}
    fields.update({k: str(v) for k, v in extra.items()})
    return load_spec("simcse", fields)


def run_train(out: Path, **kwargs):
    options = dict(max_steps=5, encoder=make_tiny_encoder(), sentences=CORPUS, results_dir=None, show_progress=False)
    options.update(kwargs)
    return train("simcse", tiny_spec(), out_dir=out, **options)


def state_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / STATE_DIR).iterdir())}


def test_stale_training_lock_is_taken_over(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    write_lock(out / LOCK_FILE, dead_pid())  # a run killed with SIGKILL leaves its lock
    assert run_train(out).steps == 5
    assert not (out / LOCK_FILE).exists()


def test_second_live_train_into_the_same_out_gets_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    run_train(out, stop_at_step=2)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with lock_held_elsewhere(out / LOCK_FILE) as pid:
        code = main(["train", "--method", "simcse", "--model", "default", "--data", str(corpus), "--out", str(out), "--resume"])
        err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"pid {pid}" in err and "already training into" in err, err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK_FILE} == before
    # The holder was killed: its lock is stale now, and the run resumes.
    assert run_train(out, resume=True).steps == 5


# --------------------------------------------------------------------------------------------
# Interrupted and failed saves


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    torch.set_num_threads(1)
    run_train(out)
    return state_bytes(out)


@pytest.mark.parametrize("crash", ["while writing", "while swapping"])
def test_leftovers_of_a_killed_save_are_cleaned_and_resume_matches(tmp_path, uninterrupted, crash):
    out = tmp_path / "run"
    run_train(out, stop_at_step=2)
    tmp = out / STATE_TMP
    tmp.mkdir()
    (tmp / "objective.safetensors").write_bytes(b"half a file")
    if crash == "while swapping":  # the complete previous state was moved aside, the new one not yet in place
        (out / STATE_DIR).rename(out / STATE_OLD)
    assert run_train(out, resume=True).steps == 5
    assert not tmp.exists() and not (out / STATE_OLD).exists()
    assert state_bytes(out).keys() == uninterrupted.keys()
    from safetensors.torch import load

    ours, theirs = load(state_bytes(out)["objective.safetensors"]), load(uninterrupted["objective.safetensors"])
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_a_save_killed_before_any_state_leaves_a_folder_that_overwrite_and_resume_understand(tmp_path):
    out = tmp_path / "run"
    (out / STATE_TMP).mkdir(parents=True)
    (out / STATE_TMP / "optimizer.pt").write_bytes(b"partial")
    with pytest.raises(UserError, match="nothing to resume"):
        run_train(out, resume=True)
    assert run_train(out, overwrite=True).steps == 5
    assert not (out / STATE_TMP).exists()


@contextmanager
def file_size_limit(limit: int):
    """Writes past `limit` bytes fail with EFBIG, as they would on a full disk (SIGXFSZ ignored)."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_previous_state(tmp_path):
    out = tmp_path / "run"
    run_train(out, stop_at_step=2)
    before = state_bytes(out)
    assert len(before["objective.safetensors"]) > 2_000_000
    with file_size_limit(1_000_000), pytest.raises(UserError, match="cannot save the training state") as error:
        run_train(out, resume=True)
    assert len(str(error.value).splitlines()) == 1 and "intact" in str(error.value)
    assert state_bytes(out) == before
    assert not (out / STATE_TMP).exists() and not (out / LOCK_FILE).exists()
    assert run_train(out, resume=True).steps == 5  # and the run goes on once there is room


# --------------------------------------------------------------------------------------------
# Attack run files


@pytest.fixture(scope="module")
def attack_setup(tmp_path_factory):
    from rsebench.robustness.victim import VictimSettings, build_victim

    old = os.environ.get("RSEBENCH_CACHE")
    os.environ["RSEBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        encoder = make_tiny_encoder(pooler="mean")
        victim, meta = build_victim(encoder, "mr", VictimSettings(probe_c=1000.0, max_train=64, eval_max=32))
    finally:
        if old is None:
            os.environ.pop("RSEBENCH_CACHE")
        else:
            os.environ["RSEBENCH_CACHE"] = old
    return encoder, victim, meta


def pgd_plan(setup, n=5):
    from rsebench.records import model_section
    from rsebench.robustness.recipes import load_recipe
    from rsebench.robustness.runner import RunPlan, embedding_variants, select_examples

    encoder, _, meta = setup
    recipe = load_recipe("pgd")
    variant = embedding_variants(recipe, eps=[0.05], steps=2)[0]
    return RunPlan(recipe, "mr", select_examples("mr", n), 0, meta, model_section(encoder, "tiny"), variant)


def STABLE(record) -> dict:  # noqa: N802
    record = record if isinstance(record, dict) else record.to_json()
    return {k: v for k, v in record.items() if k not in ("timings", "created", "environment", "run_files", "_path")}


def test_a_corrupt_line_inside_a_run_file_is_reported_and_only_its_example_redone(attack_setup, tmp_path, monkeypatch):
    from rsebench import progress
    from rsebench.records import read_record
    from rsebench.robustness import runner

    plan, victim = pgd_plan(attack_setup), attack_setup[1]
    whole = read_record(runner.execute_run(plan, victim, tmp_path / "a"))
    runner.execute_run(plan, victim, tmp_path / "b")
    path = plan.run_path(tmp_path / "b", (1, 1))
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 6  # header + 5 examples
    damaged = json.loads(lines[2])["position"]
    lines[2] = '{"type": "example", "position": 3, "id": "mr:att\x00\x00garbage\n'  # line 3: a damaged block, newline intact
    path.write_text("".join(lines))

    attacked, said = [], []
    real_attacker = runner._attacker

    def recording_attacker(plan_, victim_):
        attack, substitutes = real_attacker(plan_, victim_)
        return (lambda position: attacked.append(position) or attack(position)), substitutes

    monkeypatch.setattr(runner, "_attacker", recording_attacker)
    monkeypatch.setattr(progress, "say", said.append)
    resumed = read_record(runner.execute_run(plan, victim, tmp_path / "b"))
    assert attacked == [damaged]  # the good lines after it were kept
    assert any(f"{path}:3:" in message and "corrupt" in message for message in said), said
    assert STABLE(resumed) == STABLE(whole)
    assert "garbage" in path.with_name(path.name + ".corrupt").read_text() and "garbage" not in path.read_text()


def test_a_corrupt_header_is_refused_and_the_file_kept(attack_setup, tmp_path):
    from rsebench.robustness import runner

    plan, victim = pgd_plan(attack_setup, n=2), attack_setup[1]
    runner.execute_run(plan, victim, tmp_path, stop_after=1)
    path = plan.run_path(tmp_path, (1, 1))
    text = path.read_text()
    path.write_text("#" + text)
    with pytest.raises(UserError, match=r":1: the run file's header line is corrupt.*--restart"):
        runner.execute_run(plan, victim, tmp_path)
    assert path.read_text() == "#" + text


def test_two_attacks_on_one_shard_the_second_gets_one_clear_error(attack_setup, tmp_path):
    from rsebench.robustness import runner

    plan, victim = pgd_plan(attack_setup, n=3), attack_setup[1]
    runner.execute_run(plan, victim, tmp_path, stop_after=1)
    path = plan.run_path(tmp_path, (1, 1))
    before = path.read_bytes()
    with lock_held_elsewhere(path.with_name(path.name + ".lock")) as pid:
        with pytest.raises(UserError, match=f"pid {pid}.*already attacking pgd"):
            runner.execute_run(plan, victim, tmp_path)
    assert path.read_bytes() == before
    runner.execute_run(plan, victim, tmp_path)  # the holder is gone: its lock is stale and taken over
    assert len(path.read_text().splitlines()) == 4


def test_a_full_disk_during_an_attack_is_one_line_and_the_run_resumes(attack_setup, tmp_path):
    from rsebench.records import read_record
    from rsebench.robustness import runner

    plan, victim = pgd_plan(attack_setup, n=4), attack_setup[1]
    whole = read_record(runner.execute_run(plan, victim, tmp_path / "a"))
    runner.execute_run(plan, victim, tmp_path / "b", stop_after=1)
    path = plan.run_path(tmp_path / "b", (1, 1))
    with file_size_limit(path.stat().st_size + 40), pytest.raises(UserError, match="cannot write run file .*resumes") as error:
        runner.execute_run(plan, victim, tmp_path / "b")  # the next line does not fit: a torn line is left
    assert len(str(error.value).splitlines()) == 1
    assert not path.read_text().endswith("\n")
    resumed = read_record(runner.execute_run(plan, victim, tmp_path / "b"))
    assert STABLE(resumed) == STABLE(whole)


# --------------------------------------------------------------------------------------------
# Victim cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RSEBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "victims"


def _build(encoder):
    from rsebench.robustness.victim import VictimSettings, build_victim

    return build_victim(encoder, "mr", VictimSettings(max_train=48, eval_max=16))


def test_victim_cache_entries_are_all_or_nothing(cache, monkeypatch):
    import safetensors.torch

    encoder = make_tiny_encoder(pooler="mean")
    _, meta = _build(encoder)
    entry = cache / meta["key"]
    assert sorted(p.name for p in cache.iterdir()) == [meta["key"]]  # no lock, no temporary folder left
    assert _build(encoder)[1]["cached"]

    # A half-written entry (as a killed writer of older versions could leave) is never used: it is rebuilt.
    weights = entry / "victim.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    _, rebuilt = _build(encoder)
    assert not rebuilt["cached"] and rebuilt["clean_accuracy"] == meta["clean_accuracy"]
    (entry / "meta.json").unlink()
    assert not _build(encoder)[1]["cached"]
    assert _build(encoder)[1]["cached"]

    # A writer that dies mid-write leaves no entry, only a temporary folder that the next writer removes.
    shutil.rmtree(entry)
    real_save = safetensors.torch.save_file

    def dying_save(tensors, filename, *args, **kwargs):
        Path(filename).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", dying_save)
    assert not _build(encoder)[1]["cached"]
    assert not entry.exists() and not list(cache.glob(f".{meta['key']}.tmp-*"))
    monkeypatch.setattr(safetensors.torch, "save_file", real_save)
    (cache / f".{meta['key']}.tmp-99999").mkdir()  # from a builder killed outright
    assert not _build(encoder)[1]["cached"]
    assert sorted(p.name for p in cache.iterdir()) == [meta["key"]]
    assert _build(encoder)[1]["cached"]


def test_a_second_builder_waits_for_the_first_then_uses_its_entry(cache):
    import time

    from rsebench.data import text_hash
    from rsebench.robustness.victim import VictimSettings, training_data, victim_key

    encoder = make_tiny_encoder(pooler="mean")
    settings = VictimSettings(max_train=48, eval_max=16)
    data = training_data("mr", settings)
    key = victim_key(encoder, "mr", settings, text_hash(data.texts + (data.texts_b or []) + [str(x) for x in data.labels]))
    cache.mkdir(parents=True)
    code = ("import sys, time; from rsebench.locks import acquire, release; acquire(sys.argv[1], 'building'); "
            "print('ready', flush=True); time.sleep(2); release(sys.argv[1])")
    holder = subprocess.Popen([sys.executable, "-c", code, str(cache / f"{key}.lock")], stdout=subprocess.PIPE, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout.readline().strip() == b"ready"
    started = time.perf_counter()
    _, meta = _build(encoder)  # waits for the holder instead of failing or building beside it
    waited = time.perf_counter() - started
    holder.wait()
    holder.stdout.close()
    assert waited > 1.0 and meta["key"] == key and not (cache / f"{key}.lock").exists()


# --------------------------------------------------------------------------------------------
# Labels of a user's training file


def write_tsv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("label\tpremise\thypothesis\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows))
    return path


def test_label_names_map_onto_the_attack_sets_order(tmp_path):
    from rsebench.data import load_dataset
    from rsebench.robustness.victim import VictimSettings, training_data

    snli = load_dataset("snli", "attack")
    assert snli.label_names == ["entailment", "neutral", "contradiction"]
    # Names in an order where sorting would permute them (contradiction < entailment < neutral).
    rows = [("contradiction", "a man sleeps", "a man runs"), ("entailment", "a man sleeps", "a man rests"),
            ("neutral", "a man sleeps", "a man dreams"), ("Entailment ", "a dog barks", "an animal makes noise"), ("2", "a", "b")]
    data = training_data("snli", VictimSettings(train_file=str(write_tsv(tmp_path / "nli.tsv", rows)), max_train=None))
    assert data.label_names == snli.label_names
    assert data.labels == [2, 0, 1, 0, 2]
    with pytest.raises(UserError, match=r"nli2.tsv:3: label 'maybe' is not a class of .*entailment, neutral, contradiction"):
        training_data("snli", VictimSettings(train_file=str(write_tsv(tmp_path / "nli2.tsv", rows[:1] + [("maybe", "a", "b")]))))
    with pytest.raises(UserError, match="label 3 out of range"):
        training_data("snli", VictimSettings(train_file=str(write_tsv(tmp_path / "nli3.tsv", [("3", "a", "b")]))))


def test_absurd_integer_labels_are_refused_without_allocating(tmp_path):
    from rsebench.data import load_user_file

    path = tmp_path / "huge.tsv"
    path.write_text("label\ttext\n0\tfine\n200000000\tnot a class\n")
    with pytest.raises(UserError, match="label 200000000 is not a class index"):
        load_user_file(path)


# --------------------------------------------------------------------------------------------
# Strict JSON


def test_records_and_run_lines_never_hold_nan_or_infinity(tmp_path):
    from rsebench.evaluate.sts import STSResult, sts_record
    from rsebench.records import write_json_atomic
    from rsebench.robustness.runner import _json_line

    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"value": float("inf")})
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(UserError, match="example mr:attack:1 produced a NaN"):
        _json_line({"type": "example", "id": "mr:attack:1", "original_scores": [float("nan"), 0.1]})
    result = STSResult("stsb", "test", "original", 3, float("nan"), float("nan"), {}, 0.1)
    from rsebench.records import MODEL_FIELDS

    record = sts_record(result, {k: "m" for k in MODEL_FIELDS}, {})
    assert record["metrics"]["spearman_cosine"] is None and record["metrics"]["pearson_cosine"] is None
    json.dumps(record.to_json(), allow_nan=False)
