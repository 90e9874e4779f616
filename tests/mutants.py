"""Mutation check: break the training and attack code on purpose, one named change at a time, and make
sure the tests that state the property notice.

    python tests/mutants.py                # every mutation, 2 at a time; exit 1 when any survives
    python tests/mutants.py --list         # the table
    python tests/mutants.py --only NAME,NAME --jobs 1
    tox -e mutants

(`python -m tests.mutants` also works where no other installed distribution ships a top-level `tests`
package; flair, pulled in by textattack, does, and shadows this folder.)

Each mutation is an exact source replacement that must match exactly once (so a refactor cannot
silently turn it into a no-op: the check then fails and names the stale pattern). Every worker copies
the repository's package, specs and tests to a temporary folder, applies one mutation at a time to the
copy and runs the mutation's own tests there (`pytest -x -q`, cwd = the copy, so the copy's `rsebench`
is imported; bytecode caching off, so a same-size edit can never reuse a stale .pyc). The unmutated
copy must pass every selected test first, otherwise "caught" would mean nothing.
Output: one line per mutation (caught / survived, with the test that failed) and, last,
`mutants: N caught, M survived`.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("rsebench", "tests", "baselines", "attacks", "pyproject.toml")
TIMEOUT_S = 600

OBJ = "tests/test_train_objectives.py"
LEAK = f"{OBJ}::test_inner_loop_gradients_do_not_leak_into_the_update"
ASCENT_TOK = f"{OBJ}::test_search_raises_the_inner_loss_above_zero_and_random_perturbations[token]"
ASCENT_SENT = f"{OBJ}::test_search_raises_the_inner_loss_above_zero_and_random_perturbations[sentence]"
BOUNDS = f"{OBJ}::test_perturbations_stay_inside_their_balls"
SPEC_BOUNDS = f"{OBJ}::test_objective_perturbations_respect_spec_bounds"
INFONCE = f"{OBJ}::test_info_nce_is_cross_entropy_of_cosine_over_temperature"
EMB = "tests/test_embedding_attack.py"
METRICS = "tests/test_attack_metrics.py"
SIGNAL = "tests/test_signal.py"
QUALITY = "tests/test_quality_comparisons.py"


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


MUTATIONS = (
    # -- RobustSentEmbed: the adversarial search -------------------------------------------------------
    Mutation("sentence_ascent_sign", "rsebench/train/perturbation.py",
             "return project_linf(delta + step_size * direction * m, eps)",
             "return project_linf(delta - step_size * direction * m, eps)",
             (ASCENT_SENT,), "sentence-level step descends instead of ascending"),
    Mutation("token_ascent_sign", "rsebench/train/perturbation.py",
             "delta = delta + step_size * scaling_index(grad, mask) * direction * _mask3(mask, grad)",
             "delta = delta - step_size * scaling_index(grad, mask) * direction * _mask3(mask, grad)",
             (ASCENT_TOK,), "token-level step descends instead of ascending"),
    Mutation("token_projection_radius", "rsebench/train/perturbation.py",
             "    norms = delta.norm(dim=-1, keepdim=True)\n    return delta * (eps / norms.clamp_min(TINY)).clamp(max=1.0)",
             "    norms = delta.norm(dim=-1, keepdim=True)\n    return delta * (2 * eps / norms.clamp_min(TINY)).clamp(max=1.0)",
             (BOUNDS, SPEC_BOUNDS), "token ball of radius 2 eps"),
    Mutation("token_projection_norm", "rsebench/train/perturbation.py",
             "    norms = delta.norm(dim=-1, keepdim=True)\n    return delta * (eps",
             "    norms = delta.abs().amax(dim=-1, keepdim=True)\n    return delta * (eps",
             (BOUNDS, SPEC_BOUNDS), "token ball measured in L-inf instead of L2"),
    Mutation("sentence_projection_radius", "rsebench/train/perturbation.py",
             "    return delta.clamp(-eps, eps)",
             "    return delta.clamp(-2 * eps, 2 * eps)",
             (BOUNDS, SPEC_BOUNDS), "sentence L-inf ball of radius 2 eps"),
    Mutation("sentence_projection_norm", "rsebench/train/perturbation.py",
             "    norms = delta.flatten(1).norm(dim=1).view(-1, 1, 1)",
             "    norms = delta.norm(dim=-1).amax(dim=1).view(-1, 1, 1)",
             (BOUNDS, SPEC_BOUNDS), "sentence L2 ball per token instead of over the whole sentence"),
    Mutation("scaling_index_sum", "rsebench/train/perturbation.py",
             "return norms / norms.amax(dim=1, keepdim=True).clamp_min(TINY)",
             "return norms / norms.sum(dim=1, keepdim=True).clamp_min(TINY)",
             (f"{OBJ}::test_scaling_index_is_gradient_norm_relative_to_sentence_max",), "scaling index relative to the sum, not the max"),
    Mutation("search_dropout_mode", "rsebench/train/robustsentembed.py",
             '        if self.search_dropout == "eval":\n            for m in modules:\n                m.eval()',
             '        if self.search_dropout == "eval":\n            for m in modules:\n                m.train()',
             (f"{OBJ}::test_search_dropout_modes",), "search_dropout=eval leaves dropout on"),
    Mutation("search_fixed_mask_not_rewound", "rsebench/train/robustsentembed.py",
             "            for step in range(max(self.token_steps, self.sentence_steps)):\n                rewind()",
             "            for step in range(max(self.token_steps, self.sentence_steps)):\n                pass",
             (f"{OBJ}::test_search_dropout_modes",), "search_dropout=fixed draws a new mask each step"),
    Mutation("inner_loop_gradient_leak", "rsebench/train/robustsentembed.py",
             "(grad,) = torch.autograd.grad(inner, point)",
             "inner.backward(retain_graph=True); grad = point.grad",
             (LEAK,), "the search's backward writes into the parameters' gradients (the official code's leak)"),
    # -- RobustSentEmbed: the loss ------------------------------------------------------------------------
    Mutation("regulariser_wrong_view", "rsebench/train/robustsentembed.py",
             "l_reg = info_nce(h2, h_adv, self.temperature)",
             "l_reg = info_nce(h1, h_adv, self.temperature)",
             (LEAK,), "regulariser anchored on view 1 instead of the clean positive view 2"),
    Mutation("adversarial_positive_rolled", "rsebench/train/robustsentembed.py",
             "l_adv = info_nce(h1, h_adv, self.temperature)",
             "l_adv = info_nce(h1, h_adv.roll(1, dims=0), self.temperature)",
             (LEAK,), "adversarial view of sentence i paired with sentence i-1"),
    Mutation("views_rolled", "rsebench/train/objective.py",
             "return z[:n], z[n:]",
             "return z[:n], z[n:].roll(1, dims=0)",
             (LEAK,), "dropout view 2 of sentence i paired with sentence i-1 (SimCSE, RobustSentEmbed)"),
    Mutation("adversarial_view_without_delta_tok", "rsebench/train/robustsentembed.py",
             "view_delta = delta_sent if self.delta_split else delta_tok + delta_sent",
             "view_delta = delta_sent",
             (LEAK,), "z_adv built from delta_sent only although delta_split is off"),
    Mutation("rtd_without_delta", "rsebench/train/robustsentembed.py",
             "edited_words = F.embedding(edit.edited, table.weight.detach()) + delta_tok",
             "edited_words = F.embedding(edit.edited, table.weight.detach())",
             (f"{OBJ}::test_delta_tok_reaches_the_discriminator_through_the_objectives_loss", LEAK),
             "delta_tok left out of the discriminator's input"),
    Mutation("rtd_word_table_not_detached", "rsebench/train/robustsentembed.py",
             "edited_words = F.embedding(edit.edited, table.weight.detach()) + delta_tok",
             "edited_words = F.embedding(edit.edited, table.weight) + delta_tok",
             (LEAK,), "missing detach: the RTD loss trains the encoder's word embeddings directly"),
    Mutation("generator_word_table_not_detached", "rsebench/train/rtd.py",
             "        table = word_embeddings.weight.detach()\n        hidden = self.body(",
             "        table = word_embeddings.weight\n        hidden = self.body(",
             (LEAK,), "missing detach: the generator's MLM loss reaches the encoder's word embeddings"),
    Mutation("rtd_argmax_ignored", "rsebench/train/rtd.py",
             '            if replacement == "argmax":',
             '            if replacement == "never":',
             (f"{OBJ}::test_argmax_replacement_takes_the_generators_best_token_and_labels_what_changed",),
             "rtd_replacement=argmax silently samples"),
    Mutation("generator_lr_ignored", "rsebench/train/robustsentembed.py",
             '{"params": generator, "lr": generator_lr,',
             '{"params": generator, "lr": lr,',
             (f"{OBJ}::test_joint_generator_has_its_own_parameter_group_and_learning_rate",), "generator trained at the encoder's lr"),
    # -- InfoNCE ----------------------------------------------------------------------------------------
    Mutation("temperature_multiplied", "rsebench/train/infonce.py",
             "dim=-1).T / temperature",
             "dim=-1).T * temperature",
             (INFONCE,), "similarities multiplied by tau instead of divided"),
    Mutation("infonce_dot_not_cosine", "rsebench/train/infonce.py",
             "logits = F.normalize(at_least_float32(anchors), dim=-1) @ F.normalize(at_least_float32(candidates), dim=-1).T",
             "logits = at_least_float32(anchors) @ at_least_float32(candidates).T",
             (INFONCE,), "dot product instead of cosine"),
    Mutation("infonce_labels_rolled", "rsebench/train/infonce.py",
             "labels = torch.arange(anchors.shape[0], device=anchors.device) + offset",
             "labels = torch.arange(anchors.shape[0], device=anchors.device).roll(1) + offset",
             (INFONCE,), "anchor i's positive taken to be candidate i-1"),
    # -- ESimCSE ----------------------------------------------------------------------------------------
    Mutation("esimcse_repetition_noop", "rsebench/train/esimcse.py",
             "repeats[chosen] = 2",
             "repeats[chosen] = 1",
             (f"{OBJ}::test_esimcse_word_repetition_lengthens_sentences_within_the_dup_rate",), "word repetition repeats nothing"),
    Mutation("esimcse_queue_dropped", "rsebench/train/esimcse.py",
             "extra_negatives=negatives)",
             "extra_negatives=None)",
             (f"{OBJ}::test_esimcse_loss_uses_the_queue_as_negatives",), "the momentum queue never enters the loss"),
    Mutation("esimcse_momentum_update_removed", "rsebench/train/esimcse.py",
             "q.mul_(m).add_(p.detach(), alpha=1 - m)",
             "q.mul_(1.0)",
             (f"{OBJ}::test_esimcse_momentum_update_is_an_exponential_moving_average",), "momentum encoder never updated"),
    Mutation("esimcse_momentum_swapped", "rsebench/train/esimcse.py",
             "q.mul_(m).add_(p.detach(), alpha=1 - m)",
             "q.mul_(1 - m).add_(p.detach(), alpha=m)",
             (f"{OBJ}::test_esimcse_momentum_update_is_an_exponential_moving_average",), "theta_m <- (1-m) theta_m + m theta"),
    # -- embedding-space FGSM / PGD ---------------------------------------------------------------------
    Mutation("fgsm_pgd_ascent_sign", "rsebench/robustness/embedding_attack.py",
             "_project(delta.detach() + config.step_size * update,",
             "_project(delta.detach() - config.step_size * update,",
             (f"{EMB}::test_fgsm_step_ascends_the_victims_loss",), "FGSM/PGD step descends the victim's loss"),
    Mutation("pgd_linf_projection_radius", "rsebench/robustness/embedding_attack.py",
             "        return delta.clamp(-eps, eps)",
             "        return delta.clamp(-2 * eps, 2 * eps)",
             (f"{EMB}::test_perturbation_stays_inside_eps_on_real_tokens",), "PGD L-inf ball of radius 2 eps"),
    Mutation("pgd_l2_projection_norm", "rsebench/robustness/embedding_attack.py",
             "    size = delta.flatten().norm(p=2)",
             "    size = delta.abs().max()",
             (f"{EMB}::test_perturbation_stays_inside_eps_on_real_tokens",), "PGD L2 ball measured in L-inf"),
    Mutation("pgd_special_tokens_perturbed", "rsebench/robustness/embedding_attack.py",
             "        gradient = gradient * mask\n",
             "        gradient = gradient * 1\n",
             (f"{EMB}::test_perturbation_stays_inside_eps_on_real_tokens", f"{EMB}::test_fgsm_step_ascends_the_victims_loss"),
             "FGSM/PGD step direction normalised over special tokens too"),
    # -- attack metrics ---------------------------------------------------------------------------------
    Mutation("asr_denominator", "rsebench/robustness/metrics.py",
             '"attack_success_rate": s / (s + f) if s + f else 0.0,',
             '"attack_success_rate": s / total if total else 0.0,',
             (METRICS,), "attack success rate over all examples instead of S + F"),
    Mutation("accuracy_under_attack_counts_skipped", "rsebench/robustness/metrics.py",
             '"accuracy_under_attack": f / total if total else None,',
             '"accuracy_under_attack": (f + k) / total if total else None,',
             (METRICS,), "skipped (already wrong) examples counted as robust"),
    # -- the adversarial-positive diagnostic (rsebench signal) --------------------------------------------
    Mutation("signal_control_not_rescaled", "rsebench/train/signal.py",
             "    return noise * scale.view(-1, 1, 1)\n",
             "    return noise\n",
             (f"{SIGNAL}::test_random_control_has_the_perturbations_norm_and_spares_padding",),
             "the random control keeps the noise's own norm instead of the perturbation's"),
    Mutation("signal_adversarial_view_is_clean", "rsebench/train/signal.py",
             "    h_adv = objective.head(objective.embed(batch, words + delta))\n",
             "    h_adv = objective.head(objective.embed(batch, words))\n",
             (f"{SIGNAL}::test_the_search_makes_a_harder_positive_than_noise_of_its_size",),
             "the diagnostic scores an unperturbed view as the adversarial one"),
    # -- paired quality comparisons (STS) -------------------------------------------------------------------
    Mutation("sts_difference_unpaired", "rsebench/stats.py",
             "np.mean([a(chunk)[0] - b(chunk)[0] for a, b in models], axis=0)",
             "np.mean([a(chunk)[0] - b(chunk[::-1])[0] for a, b in models], axis=0)",
             (f"{QUALITY}::test_paired_spearman_difference_resamples_the_pairs_jointly",),
             "the two models' correlations are resampled on different draws of the sentence pairs"),
    Mutation("sts_seed_t_one_sided", "rsebench/stats.py",
             "    return interval, float(stats.ttest_1samp(data, 0.0).pvalue)",
             "    return interval, float(stats.ttest_1samp(data, 0.0, alternative='greater').pvalue)",
             (f"{QUALITY}::test_paired_t_difference_by_hand",),
             "the seed-level paired t-test is one-sided"),
    Mutation("sts_pvalue_standard_error", "rsebench/stats.py",
             "    return float(2 * stats.norm.sf(abs(difference) / spread))",
             "    return float(2 * stats.norm.sf(abs(difference) / (spread * np.sqrt(values.size))))",
             (f"{QUALITY}::test_bootstrap_pvalue_by_hand",),
             "the z test divides by a standard error of the mean of the resamples instead of their spread"),
)


def check_table(root: Path = ROOT) -> list[str]:
    """Problems with the table: unknown files, patterns not found exactly once, no-op edits, duplicate names, missing tests."""
    problems = []
    names = [m.name for m in MUTATIONS]
    problems += [f"duplicate mutation name {n}" for n in sorted({n for n in names if names.count(n) > 1})]
    for m in MUTATIONS:
        source = root / m.path
        if not source.is_file():
            problems.append(f"{m.name}: no file {m.path}")
            continue
        count = source.read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(f"{m.name}: pattern found {count} times in {m.path} (must be exactly once)")
        if m.old == m.new:
            problems.append(f"{m.name}: the replacement changes nothing")
        for test in m.tests:
            path, _, function = test.partition("::")
            if not (root / path).is_file():
                problems.append(f"{m.name}: no test file {path}")
            elif function and f"def {function.split('[')[0]}(" not in (root / path).read_text(encoding="utf-8"):
                problems.append(f"{m.name}: no test {test}")
    return problems


def make_copy(into: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)
    return into


def environment() -> dict:
    env = dict(os.environ)
    env.update(PYTHONDONTWRITEBYTECODE="1", HF_HUB_OFFLINE="1", RSEBENCH_QUIET="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.pop("PYTHONPATH", None)
    return env


def run_pytest(copy: Path, tests: tuple[str, ...], timeout: int = TIMEOUT_S) -> tuple[int | None, str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests]
    try:
        done = subprocess.run(command, cwd=copy, env=environment(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, done.stdout + done.stderr


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0].split(" ", 1)[1]
    return "pytest exited non-zero"


def check_imports_copy(copy: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import rsebench; print(rsebench.__file__)"], cwd=copy, env=environment(),
                          capture_output=True, text=True, timeout=120)
    where = Path(done.stdout.strip() or "?").resolve()
    if copy.resolve() not in where.parents:
        raise SystemExit(f"mutants: the copy in {copy} imports rsebench from {where}; run from a checkout, not an install")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutation check of rsebench's training and attack code")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    parser.add_argument("--only", default="", help="comma-separated mutation names")
    parser.add_argument("--jobs", type=int, default=2, help="mutations run in parallel (default 2)")
    args = parser.parse_args(argv)

    problems = check_table()
    if problems:
        print("mutants: the mutation table is stale:\n  " + "\n  ".join(problems))
        return 2
    selected = [m for m in MUTATIONS if not args.only or m.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"mutants: unknown mutation(s) {', '.join(sorted(unknown))}; see --list")
        return 2
    if args.list:
        for m in selected:
            print(f"{m.name:38s} {m.path:42s} {m.what}")
        return 0

    started = time.perf_counter()
    jobs = max(1, min(args.jobs, len(selected)))
    results: dict[str, tuple[str, str, float]] = {}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="rsebench-mutants-") as tmp:
        copies: queue.Queue[Path] = queue.Queue()
        for j in range(jobs):
            copies.put(make_copy(Path(tmp) / f"copy{j}"))
        check_imports_copy(Path(tmp) / "copy0")
        work: queue.Queue = queue.Queue()
        baseline_tests = tuple(sorted({t for m in selected for t in m.tests}))
        work.put(("baseline", baseline_tests))
        for m in selected:
            work.put((m, m.tests))

        def worker() -> None:
            copy = copies.get()
            while True:
                try:
                    item, tests = work.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                if item == "baseline":
                    code, output = run_pytest(copy, tests)
                    seconds = time.perf_counter() - t0
                    status = "passed" if code == 0 else "FAILED"
                    detail = "" if code == 0 else first_failure(output) if code is not None else "timeout"
                    with lock:
                        results["baseline"] = (status, detail, seconds)
                        print(f"baseline  unmutated copy, {len(tests)} tests: {status} {detail} ({seconds:.0f} s)", flush=True)
                    continue
                source = copy / item.path
                original = source.read_text(encoding="utf-8")
                source.write_text(original.replace(item.old, item.new, 1), encoding="utf-8")
                try:
                    code, output = run_pytest(copy, tests)
                finally:
                    source.write_text(original, encoding="utf-8")
                seconds = time.perf_counter() - t0
                if code is None:
                    status, detail = "caught", f"timeout after {TIMEOUT_S} s"
                elif code == 0:
                    status, detail = "survived", "all selected tests passed"
                else:
                    status, detail = "caught", first_failure(output)
                with lock:
                    results[item.name] = (status, detail, seconds)
                    print(f"{status:8s}  {item.name:38s} {detail} ({seconds:.0f} s)", flush=True)

        threads = [threading.Thread(target=worker) for _ in range(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    caught = sum(1 for m in selected if results[m.name][0] == "caught")
    survived = len(selected) - caught
    baseline_ok = results["baseline"][0] == "passed"
    if not baseline_ok:
        print("mutants: the UNMUTATED copy fails its tests; caught/survived below mean nothing until it passes")
    print(f"mutants: {caught} caught, {survived} survived ({time.perf_counter() - started:.0f} s, {jobs} jobs)")
    return 0 if survived == 0 and baseline_ok else 1


if __name__ == "__main__":
    sys.exit(main())
