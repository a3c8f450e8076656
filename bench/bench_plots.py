"""CPU time of a result page's plot: a fresh matplotlib figure against the cached layout.

The shipped model predicts 40 approved drugs (bench/data/molecules40.smi); each one's plot
inputs are built as the site builds them (seven outputs, training ranges, σ, the approved
drugs' densities), then drawn four ways, in one process, one thread, no Django:

    python bench/bench_plots.py

- SVG, cached layout (`rendering.prediction_plot_svg`, what the site serves) vs a fresh figure;
- PNG, cached layout (`rendering.prediction_plot_png`: markers blitted) vs a fresh figure.
Prints the median CPU ms of each (the first drawing of each layout, which builds it, left out).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chemcore.model import Model  # noqa: E402
from chemreport import drugs, rendering  # noqa: E402


def plot_inputs(model: Model, reference, smiles: list[str]) -> list[list[rendering.PlotOutput]]:
    parsed = [model.preprocess(text, max_chars=2000) for text in smiles]
    plots = []
    for result in model.run(parsed):
        plots.append(
            [
                rendering.PlotOutput(
                    label=spec.label,
                    value=out.value,
                    unit=spec.unit,
                    range=spec.range,
                    uncertainty=out.uncertainty,
                    drugs=reference.density_for_plot(spec.label) if reference else None,
                )
                for spec, out in zip(model.outputs, result.outputs, strict=True)
            ]
        )
    return plots


def cpu_ms(draw, plots) -> float:
    times = []
    for outputs in plots:
        started = time.process_time()
        draw(outputs, kind="regression")
        times.append(1e3 * (time.process_time() - started))
    return statistics.median(times)


def main() -> None:
    model = Model.load(ROOT / "checkpoints" / "default")
    reference, _ = drugs.load_for(model, model.directory / drugs.FILENAME)
    lines = (ROOT / "bench" / "data" / "molecules40.smi").read_text().splitlines()
    plots = plot_inputs(model, reference, [line.split()[0] for line in lines if line.strip()])
    for draw in (rendering.prediction_plot_svg, rendering.prediction_plot_png):
        draw(plots[0], kind="regression")  # builds the layout(s) the rest reuse
    rows = [
        ("SVG, cached layout", cpu_ms(rendering.prediction_plot_svg, plots)),
        ("SVG, fresh figure", cpu_ms(rendering._fresh_svg, plots)),
        ("PNG, cached layout", cpu_ms(rendering.prediction_plot_png, plots)),
        ("PNG, fresh figure", cpu_ms(rendering._fresh_png, plots)),
    ]
    print(f"{len(plots)} drugs, {len(model.outputs)} outputs each; median CPU per plot:")
    for label, value in rows:
        print(f"  {label}: {value:.1f} ms")


if __name__ == "__main__":
    main()
