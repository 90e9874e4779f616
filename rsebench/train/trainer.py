"""The training loop: data order, optimiser and schedule, accelerate (CPU, one or many GPUs, bf16/fp16),
STS-B dev model selection, resumable training state, checkpoint and training record.

Output folder layout (`out_dir`):
    config.json, model.safetensors, tokenizer files,   the inference model (best STS-B dev score):
    modules.json, 1_Pooling/, sentence_bert_config.json  a sentence-transformers directory
    rsebench.json                                       metadata: method, spec + hash, seed, data hash, best dev, versions
    training_state/                                     resume point: weights of every trained module (safetensors),
                                                        optimiser/scheduler/RNG (plain tensors, loaded weights_only)
    .rsebench-train.lock                                while a process trains into the folder (see rsebench.locks)

Safety: the model, the corpus and the output location are checked before anything in `out_dir` is
removed; saves go to a temporary folder and are swapped in, and what a killed save leaves behind is
recognised and cleaned by the next run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from rsebench.errors import UserError
from rsebench.train.objective import Objective, build_objective
from rsebench.train.spec import hash_spec

STATE_DIR = "training_state"
MODEL_FILES = ("config.json", "model.safetensors", "modules.json", "sentence_bert_config.json", "rsebench.json", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "added_tokens.json",
               "sentencepiece.bpe.model", "spiece.model")
MODEL_DIRS = ("1_Pooling", "2_Normalize", STATE_DIR)
LOCK_FILE = ".rsebench-train.lock"
STATE_TMP, STATE_OLD = f".{STATE_DIR}.tmp", f".{STATE_DIR}.old"  # a save in progress; the state it replaces
CHECKPOINT_TMP = ".checkpoint.tmp"  # the inference model being written


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    best_dev: float | None
    seconds: float
    metadata: dict
    record_path: Path | None


# ---------------------------------------------------------------------------------------------
# Output folder: never clobber another run or unrelated files


def _run_identity(out: Path) -> dict | None:
    for path in (out / STATE_DIR / "state.json", out / "rsebench.json"):
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return {}
    return None


def refuse_model_in_out(model: str | Path, out: Path) -> None:
    """`--model X --out X` (or a model inside --out) would train over, or delete, its own base model."""
    if not isinstance(model, (str, Path)) or str(model) == "default":
        return
    path = Path(model).expanduser()
    if not path.exists():
        return
    base, target = path.resolve(), out.expanduser().resolve()
    if base == target or target in base.parents:
        raise UserError(f"--model {model} lies in --out {out}: the run would write over (or with --overwrite delete) its own "
                        "base model; give a new folder as --out")


def recover_interrupted_save(out: Path) -> None:
    """Clean what a save killed half-way leaves (see `save_state`): a complete previous state moved
    aside as `.training_state.old` is put back; half-written folders are removed."""
    from rsebench.progress import say

    final, old = out / STATE_DIR, out / STATE_OLD
    if old.is_dir() and not final.exists():
        old.rename(final)
        say(f"train: {out}: restored the last complete training state (a save was interrupted while swapping it)")
    for name in (STATE_TMP, STATE_OLD, CHECKPOINT_TMP):
        if (out / name).exists():
            shutil.rmtree(out / name)
            say(f"train: {out}: removed {name}, left by an interrupted save")


def _run_files(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name != LOCK_FILE]


def prepare_out_dir(out: Path, identity: dict, overwrite: bool, resume: bool) -> bool:
    """Check `out` and return True when training should resume from its saved state."""
    if overwrite and resume:
        raise UserError("--overwrite and --resume exclude each other; choose one")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the checkpoint")
    if out.is_dir():
        recover_interrupted_save(out)
    if not out.exists() or not _run_files(out):
        if resume:
            raise UserError(f"nothing to resume in {out}: no saved training state; drop --resume to start a new run")
        return False
    previous = _run_identity(out)
    if previous is None:
        raise UserError(f"--out {out} holds files that are not an rsebench training run; choose an empty or new folder")
    if resume:
        if not (out / STATE_DIR / "state.json").is_file():
            raise UserError(f"cannot resume {out}: it has no {STATE_DIR}/ (finished runs keep it; was it deleted?); use --overwrite to retrain")
        differs = [k for k in ("method", "spec_hash", "data_hash") if previous.get(k) != identity[k]]
        if differs:
            raise UserError(f"cannot resume {out}: its run has a different {', '.join(differs)}; use the same settings, or --overwrite")
        return True
    if not overwrite:
        raise UserError(f"--out {out} already holds a training run ({previous.get('method', '?')}); pass --resume to continue it "
                        "or --overwrite to replace it")
    for name in MODEL_FILES:  # remove only what a run writes
        (out / name).unlink(missing_ok=True)
    for name in MODEL_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    return False


# ---------------------------------------------------------------------------------------------
# Data order: a seeded permutation per epoch, so any step's batch is known after a restart


def batch_indices(n_sentences: int, batch_size: int, step: int, seed: int, rank: int = 0, world: int = 1) -> np.ndarray:
    per_epoch = max(1, n_sentences // (batch_size * world))
    epoch, position = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n_sentences)
    start = (position * world + rank) * batch_size
    return order[start:start + batch_size]


def steps_per_epoch(n_sentences: int, batch_size: int, world: int = 1) -> int:
    return max(1, n_sentences // (batch_size * world))


# ---------------------------------------------------------------------------------------------
# Training state (resume)


def _trainable_state(objective: Objective) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in objective.state_dict().items()}


def _write_failure(err: BaseException) -> str:
    if isinstance(err, OSError):
        return err.strerror or str(err)
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def save_state(out: Path, objective: Objective, optimizer, scheduler, info: dict) -> None:
    """Write the resume point to a temporary folder, then swap it in (a kill never leaves half a state).

    A write that fails (full disk, quota, permissions) removes the temporary folder and raises one
    UserError line; the previous `training_state/` is untouched. A kill mid-way leaves `.training_state.tmp`
    (and, during the swap, `.training_state.old`): `recover_interrupted_save` cleans them on the next run.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tmp = out / STATE_TMP
    final = out / STATE_DIR
    old = out / STATE_OLD
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        save_file(_trainable_state(objective), str(tmp / "objective.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(rng, tmp / "rng.pt")
        with (tmp / "state.json").open("w", encoding="utf-8") as handle:  # written last: its presence means complete
            handle.write(json.dumps(info, indent=2, sort_keys=True, allow_nan=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, RuntimeError, SafetensorError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = f"the previous state in {final} is intact" if final.is_dir() else "no earlier state was saved"
        raise UserError(f"cannot save the training state in {out} ({_write_failure(err)}); {kept}: free disk space or fix "
                        "permissions, then rerun with --resume") from None
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def save_checkpoint(encoder, out: Path, metadata: dict) -> None:
    """Write the inference model into `out` via a temporary folder: a failed write (full disk) leaves the
    previous checkpoint's files as they were and raises one UserError line."""
    tmp = out / CHECKPOINT_TMP
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        encoder.save(tmp, None)
        (tmp / "rsebench.json").write_text(json.dumps(metadata, indent=2, sort_keys=True, allow_nan=False) + "\n")
    except (OSError, RuntimeError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"cannot save the model in {out} ({_write_failure(err)}); the previous checkpoint files are intact: "
                        "free disk space or fix permissions, then rerun with --resume") from None
    # Same file system: each rename is atomic. Weights first, the metadata naming them last.
    entries = sorted(tmp.iterdir(), key=lambda p: (p.name != "model.safetensors", p.name == "rsebench.json", p.name))
    for entry in entries:
        _move_into(entry, out / entry.name)
    shutil.rmtree(tmp, ignore_errors=True)


def _move_into(source: Path, target: Path) -> None:
    if source.is_dir():
        target.mkdir(exist_ok=True)
        for child in source.iterdir():
            _move_into(child, target / child.name)
    else:
        os.replace(source, target)


def load_state(out: Path, objective: Objective, optimizer, scheduler) -> dict:
    import pickle

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from rsebench.encoder import check_safetensors

    folder = out / STATE_DIR
    check_safetensors(folder / "objective.safetensors", fix="the training state cannot be resumed: use --overwrite to retrain")
    try:
        info = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        weights = load_file(str(folder / "objective.safetensors"))
        # weights_only=True: plain tensors and containers only, never arbitrary pickled objects.
        optimizer_state = torch.load(folder / "optimizer.pt", weights_only=True, map_location="cpu")
        scheduler_state = torch.load(folder / "scheduler.pt", weights_only=True, map_location="cpu")
        rng = torch.load(folder / "rng.pt", weights_only=True, map_location="cpu")
    except (OSError, ValueError, RuntimeError, EOFError, SafetensorError, pickle.UnpicklingError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot resume from {folder}: {reason}; use --overwrite to retrain") from None
    objective.load_state_dict(weights)
    optimizer.load_state_dict(optimizer_state)
    scheduler.load_state_dict(scheduler_state)
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return info


# ---------------------------------------------------------------------------------------------


def linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def dev_set(size: int):
    from rsebench.data import load_dataset

    dev = load_dataset("stsb", "dev")
    if size and size < len(dev):
        dev = replace(dev, sentences1=dev.sentences1[:size], sentences2=dev.sentences2[:size], scores=dev.scores[:size],
                      subsets=dev.subsets[:size], ids=dev.ids[:size])
    return dev


def _is_main_process() -> bool:
    """Rank 0 (or a single process): launchers (accelerate, torchrun) set RANK before the script runs."""
    return os.environ.get("RANK", "0") == "0"


def train(method: str, spec: dict, model: str = "default", data: str | Path | None = None, max_sentences: int | None = None,
          max_steps: int | None = None, out_dir: str | Path = "checkpoints/run", overwrite: bool = False, resume: bool = False,
          results_dir: str | Path | None = "results", cpu: bool = False, encoder=None, sentences: list[str] | None = None,
          stop_at_step: int | None = None, show_progress: bool = True, label: str | None = None) -> TrainResult:
    """Train `method` with `spec` and save the best (STS-B dev) inference model to `out_dir`.

    `encoder` / `sentences` let Python callers pass an already built encoder or corpus;
    `stop_at_step` saves the training state and returns early (a planned interruption).
    `label` names the run in tables (e.g. a study's ablation arm); it is not part of the spec.

    Before anything in `out_dir` is touched: the output location is checked (a folder, writable), the
    base model must not lie in it, the corpus is read and the model loaded. Then `out_dir` is locked
    (`.rsebench-train.lock`) for the whole run, so a second run into the same folder is refused.
    """
    from rsebench.data import load_corpus
    from rsebench.encoder import load_encoder
    from rsebench.locks import held
    from rsebench.paths import check_writable_folder

    if overwrite and resume:
        raise UserError("--overwrite and --resume exclude each other; choose one")
    out = Path(out_dir)
    check_writable_folder(out, "--out")
    if results_dir is not None:
        check_writable_folder(results_dir, "--results-dir")  # the record is written at the end: fail now, not then
    if encoder is None:
        refuse_model_in_out(model, out)
    if sentences is None:
        sentences = load_corpus(data, max_sentences)
    if encoder is None:
        encoder = load_encoder(model, pooler=spec["pooler"], device="cpu")
    if not _is_main_process():
        return _train_in_place(method, spec, model, data, max_sentences, max_steps, out_dir, overwrite, resume, results_dir, cpu,
                               encoder, sentences, stop_at_step, show_progress, label)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot create the folder ({err.strerror or err}); choose another --out") from None
    try:
        with held(out / LOCK_FILE, f"training into {out}"):
            return _train_in_place(method, spec, model, data, max_sentences, max_steps, out_dir, overwrite, resume, results_dir,
                                   cpu, encoder, sentences, stop_at_step, show_progress, label)
    finally:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a run refused before it wrote anything leaves no empty folder behind


def _train_in_place(method: str, spec: dict, model: str, data: str | Path | None, max_sentences: int | None,
                    max_steps: int | None, out_dir: str | Path, overwrite: bool, resume: bool, results_dir: str | Path | None,
                    cpu: bool, encoder, sentences: list[str] | None, stop_at_step: int | None, show_progress: bool,
                    label: str | None) -> TrainResult:
    """The training loop proper (see `train`; the caller holds the folder's lock)."""
    from accelerate import Accelerator

    from rsebench.data import load_corpus, text_hash
    from rsebench.encoder import load_encoder
    from rsebench.progress import progress_bar, say
    from rsebench.records import environment

    started, cpu_started = time.perf_counter(), time.process_time()
    if sentences is None:
        sentences = load_corpus(data, max_sentences)
    elif max_sentences is not None:
        sentences = sentences[:max_sentences]
    if len(sentences) < 2:
        raise UserError("the corpus needs at least 2 sentences (InfoNCE uses in-batch negatives)")
    out = Path(out_dir)
    data_hash = text_hash(sentences)
    run_spec = dict(spec)
    s_hash = hash_spec(run_spec)
    identity = {"method": method, "spec_hash": s_hash, "data_hash": data_hash}
    resuming = prepare_out_dir(out, identity, overwrite, resume)

    from accelerate.utils import DistributedDataParallelKwargs

    # Some parameters never receive gradients (the backbone's dense pooler under [CLS] pooling, the unused word
    # tables of the RTD helpers): DDP must not wait for them.
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    accelerator = Accelerator(mixed_precision=spec["mixed_precision"] if torch.cuda.is_available() and not cpu else "no", cpu=cpu,
                              kwargs_handlers=[ddp])
    rank, world = accelerator.process_index, accelerator.num_processes
    torch.manual_seed(int(spec["seed"]) + rank)
    if encoder is None:
        encoder = load_encoder(model, pooler=spec["pooler"], device="cpu")
    else:
        encoder.pooler = spec["pooler"]
    batch_size = min(int(spec["batch_size"]), len(sentences) // world)
    if batch_size < 2:
        raise UserError(f"{len(sentences)} sentences are too few for {world} processes; give a larger corpus")
    per_epoch = steps_per_epoch(len(sentences), batch_size, world)
    total_steps = int(spec["epochs"]) * per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps) if max_steps > 0 else total_steps
    objective = build_objective(method, encoder, spec)
    objective.train()
    # Parameter groups come from the objective (e.g. the joint RTD generator at its own rate); each group is
    # clipped on its own, so the generator's large MLM gradients never shrink the encoder's step.
    groups = objective.parameter_groups(float(spec["lr"]), float(spec["weight_decay"]))
    optimizer = torch.optim.AdamW(groups)
    scheduler = linear_schedule(optimizer, int(round(float(spec["warmup_ratio"]) * total_steps)), total_steps)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    inner: Objective = accelerator.unwrap_model(objective)

    start_step, best_dev, history, spent = 0, None, [], 0.0
    cpu_spent: float | None = 0.0  # CPU seconds of this process (all threads): the cost that load does not inflate
    if resuming:
        info = load_state(out, inner, optimizer, scheduler)
        start_step, best_dev, history, spent = info["step"], info.get("best_dev"), info.get("history", []), info.get("seconds", 0.0)
        cpu_spent = info.get("cpu_seconds")  # None: a state saved before rsebench counted CPU time (the total is unknown)
        if start_step >= total_steps and info.get("total_steps") == total_steps:
            say(f"{out}: already trained for {start_step} steps; nothing to resume")
    eval_every, save_every = int(spec["eval_every"]), int(spec["save_every"])
    dev = dev_set(int(spec["dev_size"])) if eval_every > 0 else None
    base_metadata = {"method": method, "spec": run_spec, "spec_hash": s_hash, "seed": int(spec["seed"]), "data_hash": data_hash,
                     "n_sentences": len(sentences), "base_model": model if isinstance(model, str) else str(model),
                     "base_model_name": encoder.name, "total_steps": total_steps, "processes": world,
                     "mixed_precision": accelerator.mixed_precision, "versions": environment()["packages"], "label": label,
                     **inner.describe()}

    def cpu_total() -> float | None:
        return None if cpu_spent is None else cpu_spent + time.process_time() - cpu_started

    def metadata(step: int) -> dict:
        return {**base_metadata, "steps": step, "best_dev": best_dev, "dev": {"task": "stsb", "split": "dev", "n": len(dev) if dev else 0,
                "metric": "spearman_cosine"}, "seconds": spent + time.perf_counter() - started, "cpu_seconds": cpu_total()}

    def state_info(step: int) -> dict:
        return {**identity, "step": step, "total_steps": total_steps, "best_dev": best_dev, "history": history,
                "seconds": spent + time.perf_counter() - started, "cpu_seconds": cpu_total()}

    def evaluate_and_keep(step: int) -> None:
        nonlocal best_dev
        if accelerator.is_main_process:
            from rsebench.evaluate.sts import score_pairs

            score = score_pairs(inner.encoder, dev).spearman
            if score != score:  # NaN: undefined (e.g. every dev pair got the same similarity); stored as null, never "best"
                score = None
            history.append({"step": step, "dev_spearman": score})
            if score is not None and (best_dev is None or score > best_dev):
                best_dev = score
                save_checkpoint(inner.encoder, out, metadata(step))
        accelerator.wait_for_everyone()

    def batch_at(step: int) -> dict[str, torch.Tensor]:
        index = batch_indices(len(sentences), batch_size, step, int(spec["seed"]), rank, world)
        batch = inner.encoder.tokenize([sentences[i] for i in index], max_length=int(spec["max_length"]))  # truncates
        return {k: v.to(accelerator.device) for k, v in batch.items()}

    out.mkdir(parents=True, exist_ok=True)
    step, running = start_step, {}
    end = total_steps if stop_at_step is None else min(total_steps, stop_at_step)
    with progress_bar(f"train {method}", total=total_steps, enabled=show_progress and accelerator.is_main_process) as advance:
        advance(start_step)
        while step < end:
            batch = batch_at(step)
            with accelerator.autocast():
                loss, terms = objective(batch)
            if not torch.isfinite(loss):
                raise UserError(f"loss became {float(loss)} at step {step + 1}; lower the learning rate or the perturbation sizes")
            accelerator.backward(loss)
            if float(spec["grad_clip"]) > 0:
                for index, group in enumerate(optimizer.param_groups):
                    # accelerate unscales fp16 gradients in its call; a second unscale would be an error
                    clip = accelerator.clip_grad_norm_ if index == 0 else torch.nn.utils.clip_grad_norm_
                    clip(group["params"], float(spec["grad_clip"]))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            inner.after_step()
            step += 1
            values = {k: float(v) for k, v in terms.items()}
            running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in values.items()} if running else values
            if step % 10 == 0 or step == end:
                history.append({"step": step, "lr": scheduler.get_last_lr()[0], **values})
            advance(1, **{k: running[k] for k in values})
            if eval_every and (step % eval_every == 0 or step == total_steps):
                evaluate_and_keep(step)
            if accelerator.is_main_process and ((save_every and step % save_every == 0) or step == end):
                save_state(out, inner, optimizer, scheduler, state_info(step))
    if start_step == step and accelerator.is_main_process and not (out / STATE_DIR).exists():
        save_state(out, inner, optimizer, scheduler, state_info(step))
    spent_total = spent + time.perf_counter() - started
    meta = metadata(step)
    meta["seconds"] = spent_total
    record_path = None
    if step >= total_steps and accelerator.is_main_process:
        if not eval_every:  # no model selection: the final weights are the checkpoint
            save_checkpoint(inner.encoder, out, meta)
        elif not (out / "model.safetensors").is_file():  # resumed after the last evaluation
            save_checkpoint(inner.encoder, out, meta)
        else:
            from rsebench.records import write_text_atomic

            write_text_atomic(out / "rsebench.json", json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n",
                              fix="free disk space or fix permissions, then rerun with --resume")
        if results_dir is not None:
            record_path = write_train_record(out, meta, history, results_dir)
    accelerator.wait_for_everyone()
    return TrainResult(out, step, best_dev, spent_total, meta, record_path)


def training_signal(history: list[dict]) -> dict:
    """Whether the adversarial parts had something to teach, from the logged loss terms (means over the run):
    InfoNCE of the adversarial vs the clean positive (a ratio near 1 means the adversarial view is no harder),
    and replaced-token-detection accuracy against its majority-class prior (above 0 means it beats always
    guessing "original")."""
    def mean(key: str) -> float | None:
        values = [entry[key] for entry in history if isinstance(entry.get(key), (int, float)) and math.isfinite(entry[key])]
        return sum(values) / len(values) if values else None

    clean, adversarial = mean("cl_clean"), mean("cl_adv")
    accuracy, prior = mean("rtd_acc"), mean("rtd_prior")
    signal = {}
    if clean is not None and adversarial is not None:
        signal.update(cl_clean_mean=clean, cl_adv_mean=adversarial, cl_adv_over_clean=adversarial / clean if clean > 0 else None)
    if accuracy is not None and prior is not None:
        signal.update(rtd_acc_mean=accuracy, rtd_prior_mean=prior, rtd_acc_over_prior=accuracy - prior)
    return signal


def write_train_record(out: Path, meta: dict, history: list, results_dir: str | Path) -> Path:
    """The "train" record, in the same model folder as the checkpoint's eval and attack records.
    Its identity is the model's key: how the model was trained."""
    from rsebench.encoder import load_encoder
    from rsebench.records import make_record, model_section, write_record

    saved = load_encoder(str(out), device="cpu")
    record = make_record(
        "train",
        model=model_section(saved, str(out)),
        task={"name": meta["method"], "n": meta["n_sentences"], "corpus_hash": meta["data_hash"]},
        metrics={"best_dev_spearman": meta["best_dev"], "steps": meta["steps"], **training_signal(history)},
        settings=meta["spec"],
        timings={"seconds": meta["seconds"], "seconds_per_step": meta["seconds"] / max(1, meta["steps"]),
                 **({"cpu_seconds": meta["cpu_seconds"], "cpu_seconds_per_step": meta["cpu_seconds"] / max(1, meta["steps"])}
                    if meta.get("cpu_seconds") is not None else {})},
        identity={},
        seed=meta["seed"],
        data={"hash": meta["data_hash"], "n_sentences": meta["n_sentences"]},
        details={"history": history, "generator": meta.get("generator"), "mixed_precision": meta["mixed_precision"],
                 "processes": meta["processes"], "dev": meta["dev"], "total_steps": meta["total_steps"]},
    )
    return write_record(record, results_dir)
