"""`rsebench` command line: a thin layer over documented Python functions.

Each sub-command lives in `rsebench/commands/<name>.py` with `configure(parser)` and `run(args)`;
modules are imported only when their command runs, so `rsebench --help` stays fast. User mistakes
(`UserError`) print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rsebench import __version__
from rsebench.errors import UserError

COMMANDS = {
    "train": "train a sentence encoder (simcse, esimcse, robustsentembed)",
    "eval": "evaluate an encoder on STS and transfer tasks",
    "attack": "attack an encoder's victim classifier and record robustness",
    "report": "render tables (latex, markdown, csv) and plots from result records",
    "study": "run a whole experiment (models x seeds, eval, attacks, report) from one spec, resumably",
    "demo": "run the whole pipeline on the embedded default encoder, offline (a small study)",
    "signal": "measure whether RobustSentEmbed's adversarial positive is harder than the clean one (a grid over its settings)",
    "bench": "time training steps and attack throughput",
    "doctor": "show what is installed, which assets are present, offline or not",
    "list": "list the datasets, methods and attack recipes rsebench knows",
    "calibrate-substitutes": "measure and choose the sentence-similarity threshold of the offline USE stand-in",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem and where help is (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def _command_module(name: str):
    return importlib.import_module(f"rsebench.commands.{name.replace('-', '_')}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rsebench", description="Adversarial-robustness benchmark suite for sentence embeddings.")
    parser.add_argument("--version", action="version", version=f"rsebench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            _command_module(name).configure(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Configure only the chosen command's parser: other commands' modules are never imported.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=chosen or "__none__")
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    from rsebench.paths import configure_offline

    configure_offline()
    try:
        return int(_command_module(args.command).run(args) or 0)
    except UserError as err:
        print(f"rsebench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rsebench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
