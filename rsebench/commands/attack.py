"""`rsebench attack`: attack an encoder's victim classifier with a recipe and write an attack record."""

from __future__ import annotations

import argparse
import math

from rsebench.commands.common import add_model, add_results_dir, positive_int


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' must be comma-separated numbers, e.g. 0.01,0.02,0.05") from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}': eps values must be positive finite numbers, e.g. 0.01,0.02,0.05")
    return values


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive finite number, e.g. 0.001")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", required=True, help="attack recipe (see `rsebench list recipes`): deepwordbug, pwws, textfooler, fgsm, pgd, ...")
    add_model(parser)
    parser.add_argument("--dataset", default="mr", help="attack set: mr, sst2, imdb, ag, snli (mnli, yelp with --victim-train) (default: mr)")
    parser.add_argument("--n", type=positive_int, default=20, help="attack the first n examples of the fixed example order (default: 20)")
    parser.add_argument("--victim", choices=("probe", "finetune"), default="probe",
                        help="probe: frozen encoder + linear head; finetune: encoder + head trained end to end (default: probe)")
    parser.add_argument("--victim-epochs", type=positive_int, default=3, help="fine-tuning epochs (default: 3)")
    parser.add_argument("--victim-lr", type=float, default=5e-5, help="fine-tuning learning rate (default: 5e-5)")
    parser.add_argument("--victim-max-train", type=positive_int, default=10000,
                        help="train the victim on at most this many examples, a seeded subsample (default: 10000)")
    parser.add_argument("--victim-eval-max", type=positive_int, default=None,
                        help="victim clean accuracy on at most this many attack-split examples (default: all)")
    parser.add_argument("--victim-train", default=None, metavar="FILE", help="training TSV for datasets without a bundled training split (mnli, yelp)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the victim and the attack's randomness (default: 0)")
    parser.add_argument("--shard", default=None, metavar="I/N", help="attack only shard I of N (contiguous blocks); shards merge into one record")
    parser.add_argument("--merge", action="store_true", help="merge finished shards (give --shard i/N for the count) without attacking")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", dest="restart", action="store_false", help="continue an interrupted run (default)")
    resume.add_argument("--restart", dest="restart", action="store_true", help="discard an earlier run file and start over")
    parser.set_defaults(restart=False)
    embedding = parser.add_argument_group("embedding-space attacks (fgsm, pgd)")
    embedding.add_argument("--eps", type=_floats, default=None, help="budget(s), comma-separated for a robustness curve (default: the spec's)")
    embedding.add_argument("--steps", type=positive_int, default=None, help="gradient steps (default: the spec's)")
    embedding.add_argument("--step-size", type=_positive_float, default=None, help="step size (default: the spec's rule)")
    embedding.add_argument("--norm", choices=("linf", "l2"), default=None, help="perturbation norm (default: the spec's)")
    embedding.add_argument("--random-start", default=None, action=argparse.BooleanOptionalAction, help="PGD random start (default: the spec's)")
    parser.add_argument("--mlm", default=None, metavar="PATH", help="masked language model for bertattack/bae (a folder with an MLM head)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="model queries per batch (default: 64)")
    add_results_dir(parser)


def run(args: argparse.Namespace) -> int:
    from rsebench.seeding import check_seed, seed_everything
    from rsebench.encoder import load_encoder, resolve_device
    from rsebench.errors import UserError
    from rsebench.paths import check_writable_folder
    from rsebench.progress import say
    from rsebench.records import read_record
    from rsebench.robustness.recipes import check_resources, load_recipe, with_masked_lm
    from rsebench.robustness.runner import parse_shard, run_attack, select_examples
    from rsebench.robustness.victim import VictimSettings

    # Cheap checks first: a typo must not cost a model load.
    recipe = with_masked_lm(load_recipe(args.recipe), args.mlm)
    check_resources(recipe)
    select_examples(args.dataset, args.n)
    shard = parse_shard(args.shard)
    check_seed(args.seed)
    resolve_device(args.device)
    check_writable_folder(args.results_dir, "--results-dir")
    if recipe.kind != "embedding" and any(v is not None for v in (args.eps, args.steps, args.step_size, args.norm, args.random_start)):
        raise UserError(f"--eps/--steps/--step-size/--norm/--random-start apply to embedding attacks (fgsm, pgd), not '{recipe.name}'")
    seed_everything(args.seed)
    encoder = load_encoder(args.model, pooler=args.pooler, device=args.device, trust_remote_code=args.trust_remote_code)
    settings = VictimSettings(kind=args.victim, seed=args.seed, epochs=args.victim_epochs, learning_rate=args.victim_lr,
                              max_train=args.victim_max_train, train_file=args.victim_train,
                              eval_max=args.victim_eval_max)
    paths = run_attack(encoder, args.model, args.recipe, args.dataset, args.n, settings, seed=args.seed, results_dir=args.results_dir,
                       shard=shard, restart=args.restart, merge_only=args.merge, eps=args.eps, steps=args.steps,
                       step_size=args.step_size, norm=args.norm, random_start=args.random_start, batch_size=args.batch_size, mlm=args.mlm)
    for path in paths:
        if path is None:
            continue
        record = read_record(path)
        m = record["metrics"]
        say(f"{record['task']['attack']} on {record['task']['name']} ({record['task']['victim']} victim, clean acc "
            f"{100 * m['victim_clean_accuracy']:.1f}%): success rate {100 * m['attack_success_rate']:.1f}%, "
            f"accuracy {100 * m['original_accuracy']:.1f}% -> {100 * m['accuracy_under_attack']:.1f}% under attack "
            f"(S/F/skip {m['successful_attacks']}/{m['failed_attacks']}/{m['skipped_attacks']}) -> {path}")
    return 0
