"""Pictures: RDKit 2D depictions and prediction plots (the only matplotlib importer).

Plots use matplotlib's object API (`Figure` + Agg canvas), never pyplot, so rendering is
safe from several threads at once and leaks no global figure state.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem import rdDepictor  # noqa: E402
from rdkit.Chem.Draw import rdMolDraw2D  # noqa: E402

rdDepictor.SetPreferCoordGen(True)

MOLECULE_SIZE = (400, 300)
ACCENT = "#1f5fa8"
RANGE_COLOUR = "#c9d6e8"
TOP_CLASS = "#b3541e"


@dataclass(frozen=True)
class PlotOutput:
    """What a plot needs about one output: plain data, no model objects."""

    label: str
    value: float
    unit: str = ""
    range: dict | None = None


def _prepared(mol: Chem.Mol) -> Chem.Mol:
    copy = Chem.Mol(mol)
    rdDepictor.Compute2DCoords(copy)
    return rdMolDraw2D.PrepareMolForDrawing(copy)


def molecule_png(mol: Chem.Mol, size: tuple[int, int] = MOLECULE_SIZE) -> bytes:
    drawer = rdMolDraw2D.MolDraw2DCairo(*size)
    drawer.drawOptions().clearBackground = True
    drawer.DrawMolecule(_prepared(mol))
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def molecule_svg(mol: Chem.Mol, size: tuple[int, int] = MOLECULE_SIZE) -> str:
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.DrawMolecule(_prepared(mol))
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def _axis_label(output: PlotOutput) -> str:
    return f"{output.label} ({output.unit})" if output.unit else output.label


def _draw_regression(fig: Figure, outputs: list[PlotOutput]) -> None:
    axes = fig.subplots(len(outputs), 1, squeeze=False)[:, 0]
    for ax, output in zip(axes, outputs):
        rng = output.range or {}
        lo, hi = rng.get("min"), rng.get("max")
        if lo is not None and hi is not None:
            ax.hlines(0, lo, hi, color="#8a8a8a", linewidth=2, label="training min–max")
            if rng.get("p05") is not None and rng.get("p95") is not None:
                ax.axvspan(rng["p05"], rng["p95"], color=RANGE_COLOUR, label="training 5–95 %")
            span = hi - lo or 1.0
            left, right = min(lo, output.value) - 0.05 * span, max(hi, output.value) + 0.05 * span
        else:
            pad = abs(output.value) * 0.5 + 1.0
            left, right = output.value - pad, output.value + pad
        ax.set_xlim(left, right)
        ax.plot([output.value], [0], marker="D", markersize=13, color=ACCENT, zorder=3)
        ax.annotate(
            f"{output.value:.2f}",
            (output.value, 0),
            xytext=(0, 12),
            textcoords="offset points",
            ha="center",
            fontsize=14,
            fontweight="bold",
            color=ACCENT,
        )
        ax.set_ylim(-1, 1.6)
        ax.set_yticks([])
        ax.set_xlabel(_axis_label(output), fontsize=13)
        ax.tick_params(axis="x", labelsize=12)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
    if any(o.range for o in outputs):
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", fontsize=11, frameon=False, ncols=2)


def _draw_probabilities(fig: Figure, outputs: list[PlotOutput]) -> None:
    ax = fig.subplots()
    labels = [o.label for o in outputs]
    values = [o.value for o in outputs]
    top = max(range(len(values)), key=values.__getitem__)
    colours = [TOP_CLASS if i == top else ACCENT for i in range(len(values))]
    bars = ax.barh(labels, values, color=colours)
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, fontsize=12)
    ax.set_xlim(0, 1.1)
    ax.invert_yaxis()
    ax.set_xlabel("Probability", fontsize=13)
    ax.tick_params(labelsize=12)
    ax.set_title(f"Most likely: {labels[top]}", fontsize=13, color=TOP_CLASS, loc="left")


def prediction_plot(outputs: list[PlotOutput], *, kind: str) -> tuple[bytes, str]:
    """Render the plot once and return it as (PNG bytes, SVG text)."""
    # Fixed margins in inches instead of constrained layout: same look, a fraction of the cost.
    if kind == "regression":
        height = 1.6 * len(outputs) + 0.5
        fig = Figure(figsize=(6.4, height), dpi=100)
        fig.subplots_adjust(left=0.03, right=0.97, top=1 - 0.45 / height, bottom=0.6 / height,
                            hspace=0.9)
        _draw_regression(fig, outputs)
    else:
        height = 0.45 * len(outputs) + 1.2
        fig = Figure(figsize=(6.4, height), dpi=100)
        fig.subplots_adjust(left=0.3, right=0.95, top=1 - 0.45 / height, bottom=0.6 / height)
        _draw_probabilities(fig, outputs)
    FigureCanvasAgg(fig)
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png")
    fig.savefig(svg, format="svg")
    return png.getvalue(), svg.getvalue()
