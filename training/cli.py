from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("--output", default="checkpoints/default", help="checkpoint directory to write")
    p.add_argument("--quick", action="store_true", help="tiny data/model/steps smoke run (< 1 min)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--card-only",
        action="store_true",
        help="only regenerate README.md from metrics.json/levers.json in --output",
    )
    p.add_argument("--skip-rf", action="store_true", help="skip the random-forest baseline")


def run_from_args(args) -> dict:
    from .pipeline import rewrite_card, run

    if getattr(args, "card_only", False):
        rewrite_card(args.output)
        return {"test": {}}
    return run(args.output, quick=args.quick, seed=args.seed, skip_rf=args.skip_rf)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m predictions.training", description=__doc__)
    add_arguments(p)
    run_from_args(p.parse_args(argv))
