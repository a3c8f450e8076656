"""python manage.py train_model --output checkpoints/default [--quick] [--seed 0] [--skip-rf]

Thin wrapper around ``predictions.training`` (also runnable without Django as
``python -m predictions.training``). Needs the training extras: requirements-train.txt.
"""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Train the default SMILES regression model from scratch and write checkpoint + model card."
    )

    def add_arguments(self, parser):
        from predictions.training.cli import add_arguments

        add_arguments(parser)

    def handle(self, *args, **options):
        import argparse

        from predictions.training.cli import run_from_args

        ns = argparse.Namespace(
            output=options["output"],
            quick=options["quick"],
            seed=options["seed"],
            skip_rf=options["skip_rf"],
            card_only=options["card_only"],
        )
        metrics = run_from_args(ns)
        for label, m in metrics["test"].items():
            self.stdout.write(
                f"{label}: test RMSE {m['rmse']:.3f} "
                f"(95% CI {m['rmse_ci95'][0]:.3f}-{m['rmse_ci95'][1]:.3f}, n={m['n']})"
            )
