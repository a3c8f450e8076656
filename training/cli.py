"""python -m training [--quick] [--seed 0] [--skip-rf] --output DIR | --fetch-data | --card-only
| --recalibrate"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default="var/checkpoint-v2", help="checkpoint directory to write")
    p.add_argument("--quick", action="store_true", help="tiny data/model/steps smoke run (< 1 min)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--card-only",
        action="store_true",
        help="only regenerate README.md from metrics.json/levers.json in --output",
    )
    p.add_argument(
        "--recalibrate",
        action="store_true",
        help="only fit the error model, σ and the verdict rules again for the checkpoint in "
        "--output (members, descriptor model and blends kept), then re-evaluate it and "
        "rewrite metrics.json and the card",
    )
    p.add_argument("--skip-rf", action="store_true", help="skip the random-forest baseline")
    p.add_argument(
        "--fetch-data",
        action="store_true",
        help="only download (pip) and checksum the data archives into the data directory",
    )


def run_from_args(args: argparse.Namespace) -> dict:
    from . import data
    from .pipeline import recalibrate, rewrite_card, run

    if args.card_only:
        rewrite_card(args.output)
        return {}
    paths = data.fetch_archives()  # the one place data is downloaded
    if args.fetch_data:
        print("\n".join(str(p) for p in paths))
        return {}
    if args.recalibrate:
        return recalibrate(args.output)
    return run(args.output, quick=args.quick, seed=args.seed, skip_rf=args.skip_rf)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    add_arguments(p)
    run_from_args(p.parse_args(argv))
