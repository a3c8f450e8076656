"""Pictures: RDKit 2D depictions and prediction plots (with report.py, the only matplotlib
importers).

Plots use matplotlib's object API (`Figure` + Agg canvas), never pyplot, so rendering is
safe from several threads at once and leaks no global figure state.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.backends.backend_mixed import MixedModeRenderer  # noqa: E402
from matplotlib.backends.backend_svg import RendererSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem.Draw import rdMolDraw2D  # noqa: E402

from . import bounded  # noqa: E402

log = logging.getLogger(__name__)

# Seconds a 2D layout may take (bounded.layouts), asked at each drawing so that a changed
# setting applies at once: the site points it at settings.DEPICTION_BUDGET_SECONDS
# (predictions/apps.py); without Django, the site's default.
depiction_budget: Callable[[], float] = lambda: 0.4  # noqa: E731
# SVG text stays text (smaller, selectable, ~30 % faster to write); set once at import.
matplotlib.rcParams["svg.fonttype"] = "none"
# Stable SVG ids (clip paths, marker shapes) and no timestamp: the same plot gives the same
# text, so a marker drawn on its own fits into a plot drawn earlier.
matplotlib.rcParams["svg.hashsalt"] = "smiles-site"
SVG_METADATA = {"Date": None}

MOLECULE_SIZE = (400, 300)
ACCENT = "#1f5fa8"
RANGE_COLOUR = "#c9d6e8"
TOP_CLASS = "#b3541e"
DRUG_COLOUR = "#e0a46c"  # the approved drugs' density (apart from the blue training band)
WIDTH = 6.4  # inches: the page's plot; PHONE_WIDTH draws the same text larger on a phone
PHONE_WIDTH = 3.9


@dataclass(frozen=True)
class DrugDensity:
    """The approved drugs' distribution of one output (predictions.serving.reference), drawn behind."""

    key: str  # names the reference (its file's digest): part of the cached layout's key
    xs: tuple[float, ...]
    ys: tuple[float, ...]  # peak scaled to 1
    count: int


@dataclass(frozen=True)
class PlotOutput:
    """What a plot needs about one output: plain data, no model objects."""

    label: str
    value: float
    unit: str = ""
    range: dict | None = None
    uncertainty: float | None = None  # one standard deviation, drawn as an error bar
    drugs: DrugDensity | None = None


def _depicted(mol: Chem.Mol, *draws, budget: float | None = None):
    """The first `draw(prepared molecule)` of `draws` that succeeds on a 2D layout, each draw
    tried on every layout in turn before the next draw: the layouts are computed (once each)
    within the depiction budget (chemreport.bounded: CoordGen, else RDKit's own layout).
    None when no layout finishes in time or nothing can be drawn. A strained molecule's layout
    can make RDKit's drawing fail ("Cannot normalize a zero length vector"): the next layout
    is tried, and a picture that cannot be drawn is a placeholder, never an error."""
    limit = depiction_budget()
    limit = limit if budget is None else max(0.0, min(limit, budget))
    source, kept = bounded.layouts(mol, limit), []

    def each_layout():
        yield from list(kept)
        for laid in source:
            kept.append(laid)
            yield laid

    for draw in draws:
        for laid in each_layout():
            try:
                return draw(rdMolDraw2D.PrepareMolForDrawing(laid))
            except Exception as error:  # whatever RDKit raises: the next layout or draw
                log.warning("Drawing %s failed: %s", Chem.MolToSmiles(mol), error)
    return None


def laid_out(mol: Chem.Mol) -> Chem.Mol:
    """A copy of `mol` with a 2D layout computed within the depiction budget (an SD file's
    coordinates); without coordinates if no layout finished in time."""
    return next(bounded.layouts(mol, depiction_budget()), Chem.Mol(mol))


PLACEHOLDER = "Structure not drawn: its layout took too long"


def placeholder_svg(size: tuple[int, int] = MOLECULE_SIZE, text: str = PLACEHOLDER) -> str:
    """A picture saying the structure could not be drawn (its place kept on the page)."""
    width, height = size
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}px" '
        f'height="{height}px" viewBox="0 0 {width} {height}">\n'
        f'<rect width="{width}" height="{height}" fill="#ffffff" stroke="#8a8a8a"/>\n'
        f'<text x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle" font-size="'
        f'{max(9, min(14, width // 30))}" font-family="sans-serif" fill="#4a4a4a">'
        f"{text}</text>\n</svg>\n"
    )


def placeholder_png(size: tuple[int, int] = MOLECULE_SIZE, text: str = PLACEHOLDER) -> bytes:
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, size[0] - 1, size[1] - 1), outline="#8a8a8a")
    pen.text((size[0] / 2, size[1] / 2), text, fill="#4a4a4a", anchor="mm")
    png = io.BytesIO()
    image.save(png, format="png")
    return png.getvalue()


def molecule_png(mol: Chem.Mol, size: tuple[int, int] = MOLECULE_SIZE) -> bytes:
    def draw(prepared: Chem.Mol) -> bytes:
        drawer = rdMolDraw2D.MolDraw2DCairo(*size)
        drawer.drawOptions().clearBackground = True
        drawer.DrawMolecule(prepared)
        drawer.FinishDrawing()
        return drawer.GetDrawingText()

    return _depicted(mol, draw) or placeholder_png(size)


def molecule_svg(mol: Chem.Mol, size: tuple[int, int] = MOLECULE_SIZE) -> str:
    def draw(prepared: Chem.Mol) -> str:
        drawer = rdMolDraw2D.MolDraw2DSVG(*size)
        drawer.DrawMolecule(prepared)
        drawer.FinishDrawing()
        return drawer.GetDrawingText()

    return _depicted(mol, draw) or placeholder_svg(size)


ALERT_HIGHLIGHT = (1.0, 0.72, 0.30)  # orange: reads as a warning and differs from the ACCENT blue


def molecule_svg_highlighted(
    mol: Chem.Mol,
    atoms: list[int],
    size: tuple[int, int] = MOLECULE_SIZE,
    *,
    colour: tuple[float, float, float] | None = ALERT_HIGHLIGHT,
    clear_background: bool = True,
    budget: float | None = None,
    placeholder: bool = True,
) -> str:
    """The structure with `atoms` (and the bonds between them) highlighted (in `colour`, or
    RDKit's default); drawn without them if the highlighted picture cannot be drawn. If no
    layout finished within `budget` (at most the depiction budget) or none can be drawn: a
    placeholder picture, or "" with `placeholder=False`."""
    marked = set(atoms)
    bonds = [
        bond.GetIdx()
        for bond in mol.GetBonds()
        if bond.GetBeginAtomIdx() in marked and bond.GetEndAtomIdx() in marked
    ]
    colours = {}
    if colour is not None:
        colours = {
            "highlightAtomColors": {atom: colour for atom in marked},
            "highlightBondColors": {bond: colour for bond in bonds},
        }

    def highlighted(prepared: Chem.Mol) -> str:
        return _svg_of(prepared, size, clear_background, sorted(marked), bonds, colours)

    def plain(prepared: Chem.Mol) -> str:  # when no layout can be drawn highlighted
        return _svg_of(prepared, size, clear_background, [], [], {})

    svg = _depicted(mol, highlighted, plain, budget=budget)
    return svg or (placeholder_svg(size) if placeholder else "")


def _svg_of(prepared, size, clear_background: bool, atoms, bonds, colours: dict) -> str:
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.drawOptions().clearBackground = clear_background
    drawer.DrawMolecule(prepared, highlightAtoms=atoms, highlightBonds=bonds, **colours)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def _ranged(output: PlotOutput) -> bool:
    rng = output.range or {}
    return rng.get("min") is not None and rng.get("max") is not None


def x_limits(output: PlotOutput) -> tuple[float, float]:
    """The x-axis limits: the training range, widened for a value (± σ) beyond it in steps
    of a quarter of the range, so such plots share a few layouts (and their cached figures)
    instead of each needing a fresh figure; 5 % padding either side."""
    sigma = output.uncertainty or 0.0
    if not _ranged(output):
        pad = abs(output.value) * 0.5 + 1.0 + sigma
        return output.value - pad, output.value + pad
    lo, hi = output.range["min"], output.range["max"]
    span = hi - lo or 1.0
    step = span / 4
    low, high = output.value - sigma, output.value + sigma
    if low < lo:
        lo -= step * math.ceil((lo - low) / step)
    if high > hi:
        hi += step * math.ceil((high - hi) / step)
    return lo - 0.05 * span, hi + 0.05 * span


def _axis_label(output: PlotOutput) -> str:
    return f"{output.label} ({output.unit})" if output.unit else output.label


def _draw_regression(fig: Figure, outputs: list[PlotOutput], axes: list | None = None) -> None:
    """One axes per output (made here, or given: the report card places its own)."""
    given = axes is not None
    axes = axes if given else fig.subplots(len(outputs), 1, squeeze=False)[:, 0]
    for index, (ax, output) in enumerate(zip(axes, outputs)):
        rng = output.range or {}
        lo, hi = rng.get("min"), rng.get("max")
        if lo is not None and hi is not None:
            ax.hlines(0, lo, hi, color="#8a8a8a", linewidth=2, label="training min–max")
            if rng.get("p05") is not None and rng.get("p95") is not None:
                ax.axvspan(rng["p05"], rng["p95"], color=RANGE_COLOUR, label="training 5–95 %")
        ax.set_xlim(*x_limits(output))
        if output.drugs is not None:
            ax.fill_between(
                output.drugs.xs,
                -1,
                [y * 0.85 - 1 for y in output.drugs.ys],
                color=DRUG_COLOUR,
                alpha=0.75,
                linewidth=0,
                label=f"approved drugs (n = {output.drugs.count:,})",
            )
        text = _value_text(output)
        if output.uncertainty is not None:
            # An error bar as one line with a cap at each end: a single artist to move.
            (bar,) = ax.plot(
                *_bar_data(output), color=ACCENT, lw=2, marker="|", markersize=12, mew=2
            )
            bar.set_gid(f"value-bar-{index}")
        (marker,) = ax.plot([output.value], [0], marker="D", markersize=13, color=ACCENT, zorder=3)
        marker.set_gid(f"value-marker-{index}")
        label = ax.annotate(
            text,
            (output.value, 0),
            xytext=(0, 12),
            textcoords="offset points",
            ha="center",
            fontsize=14,
            fontweight="bold",
            color=ACCENT,
        )
        label.set_gid(f"value-label-{index}")
        ax.set_ylim(-1, 1.6)
        ax.set_yticks([])
        ax.set_xlabel(_axis_label(output), fontsize=13)
        ax.tick_params(axis="x", labelsize=12)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles and given:
        axes[0].legend(loc="lower center", bbox_to_anchor=(0.5, 1.3), ncols=len(handles))
    elif handles:
        columns = len(handles) if fig.get_figwidth() >= 5 else 1
        style = {"fontsize": 11}
        if columns > 2:  # three entries on one line: a little tighter
            style = {"fontsize": 10, "columnspacing": 1.0, "handlelength": 1.6}
        fig.legend(handles, labels, loc="upper center", frameon=False, ncols=columns, **style)


def _top_margin(outputs: list[PlotOutput], width: float) -> float:
    """Inches above the first axes: room for the legend's rows."""
    entries = (2 if outputs[0].range else 0) + (1 if outputs[0].drugs else 0) if outputs else 0
    rows = -(-entries // (entries if width >= 5 else 1)) if entries else 0
    return 0.25 + 0.22 * max(rows, 1)


def _bar_data(output: PlotOutput) -> tuple[list[float], list[float]]:
    return [output.value - output.uncertainty, output.value + output.uncertainty], [0, 0]


def _value_text(output: PlotOutput) -> str:
    text = f"{output.value:.2f}"
    return text if output.uncertainty is None else f"{text} ± {output.uncertainty:.2f}"


def _draw_probabilities(fig: Figure, outputs: list[PlotOutput], ax=None) -> None:
    ax = ax or fig.subplots()
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


def _plot_figure(
    outputs: list[PlotOutput], *, kind: str, width: float = WIDTH, caption: tuple[str, ...] = ()
) -> Figure:
    # Fixed margins in inches instead of constrained layout: same look, a fraction of the cost.
    # `caption` lines go under the plot (downloads say which molecule, model and date).
    below = 0.6 + (0.1 + 0.22 * len(caption) if caption else 0)
    if kind == "regression":
        top = _top_margin(outputs, width)
        height = 1.6 * len(outputs) + top - 0.05 + (below - 0.6)
        fig = Figure(figsize=(width, height), dpi=100)
        fig.subplots_adjust(
            left=0.03, right=0.97, top=1 - top / height, bottom=below / height, hspace=0.9
        )
        _draw_regression(fig, outputs)
    else:
        height = 0.45 * len(outputs) + 1.2 + (below - 0.6)
        fig = Figure(figsize=(width, height), dpi=100)
        left = 0.3 if width >= 5 else 0.42
        fig.subplots_adjust(left=left, right=0.95, top=1 - 0.45 / height, bottom=below / height)
        _draw_probabilities(fig, outputs)
    for line, text in enumerate(caption):
        fig.text(0.02, (0.12 + 0.22 * (len(caption) - 1 - line)) / height, text, fontsize=9)
    FigureCanvasAgg(fig)
    return fig


def labelled_plot(outputs: list[PlotOutput], *, kind: str, caption: tuple[str, ...], fmt: str):
    """The plot as a download: caption lines under it (molecule, model, date), the same text in
    the file's metadata (PNG text chunks, SVG title/description). PNG bytes or SVG text."""
    fig = _plot_figure(outputs, kind=kind, caption=caption)
    title, description = caption[0], " · ".join(caption[1:])
    if fmt == "svg":
        svg = io.StringIO()
        meta = {**SVG_METADATA, "Title": title, "Description": description}
        fig.savefig(svg, format="svg", metadata=meta)
        return svg.getvalue()
    png = io.BytesIO()
    fig.savefig(png, format="png", metadata={"Title": title, "Description": description})
    return png.getvalue()


def phone_plot_svg(outputs: list[PlotOutput], *, kind: str) -> str:
    """The page's plot drawn narrower, so its text reads larger on a phone screen."""
    return prediction_plot_svg(outputs, kind=kind, width=PHONE_WIDTH)


def _fresh_png(outputs: list[PlotOutput], *, kind: str) -> bytes:
    png = io.BytesIO()
    _plot_figure(outputs, kind=kind).savefig(png, format="png")
    return png.getvalue()


def _fresh_svg(outputs: list[PlotOutput], *, kind: str, width: float = WIDTH) -> str:
    svg = io.StringIO()
    fig = _plot_figure(outputs, kind=kind, width=width)
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    return svg.getvalue()


# --- Fast plots: the fixed parts drawn once per layout, each molecule adds its values -----
# A regression plot differs from the next one with the same x-limits (`x_limits`: the training
# ranges, widened in quarter-range steps for a value ± σ beyond them) only in the value
# markers, error bars and labels. So, per layout and thread, one figure is drawn once and
# kept, and per molecule only those artists are drawn again: for PNG onto the kept pixels
# (matplotlib blitting), for SVG by matplotlib's SVG renderer into the kept SVG text.
# matplotlib still places everything, and the result is the same as a fresh figure's (PNG
# about 8x, SVG about 25x cheaper). Outputs without training ranges and class probabilities
# get a fresh figure.
_layout_cache = threading.local()
LAYOUTS_KEPT = 12  # per thread, least recently used dropped first (~1.5 MB of pixels each)
# One value artist's SVG group: from `<g id="value-…">` to the `</g>` at the same indent.
_VALUE_GROUP = re.compile(
    r'^( *)<g id="(value-(?:bar|marker|label)-\d+)">\n.*?^\1</g>\n', re.M | re.S
)


@dataclass
class _Layout:
    fig: Figure
    artists: list  # (axes, [error bar,] marker, label) per output
    svg_parts: list[str]  # the SVG text around the value artists' groups
    svg_slots: list[tuple[str, str]]  # (gid, indent) of each group, in document order
    # The Agg pixels without the value artists: drawn on the first PNG only (a page's plot is
    # an SVG, so its first request need not pay for both).
    background: object = None

    def pixels(self) -> object:
        if self.background is None:
            values = [artist for _, *artists in self.artists for artist in artists]
            for artist in values:
                artist.set_visible(False)
            self.fig.canvas.draw()
            self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)
            for artist in values:
                artist.set_visible(True)
        return self.background


def _cacheable(outputs: list[PlotOutput], kind: str) -> bool:
    """A regression plot whose every output has a training range: a cached layout fits."""
    return kind == "regression" and bool(outputs) and all(_ranged(o) for o in outputs)


def kept_layouts() -> OrderedDict:
    """This thread's cached layouts, least recently used first."""
    return _layout_cache.__dict__.setdefault("layouts", OrderedDict())


def _layout(outputs: list[PlotOutput], width: float = WIDTH) -> _Layout:
    cache = kept_layouts()
    key = (width,) + tuple(
        (
            o.label,
            o.unit,
            json.dumps(o.range, sort_keys=True),
            x_limits(o),
            o.drugs and o.drugs.key,
            o.uncertainty is None,
        )
        for o in outputs
    )
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    fig = _plot_figure(outputs, kind="regression", width=width)
    artists = [
        (ax, *[a for a in (*ax.lines, *ax.texts) if (a.get_gid() or "").startswith("value-")])
        for ax in fig.axes
    ]
    cache[key] = _Layout(fig, artists, *svg_template(fig))
    while len(cache) > LAYOUTS_KEPT:
        cache.popitem(last=False)
    return cache[key]


def _placed(outputs: list[PlotOutput], width: float = WIDTH) -> _Layout:
    """The cached layout with its value artists moved to these outputs' values."""
    layout = _layout(outputs, width)
    for (_, *values), output in zip(layout.artists, outputs, strict=True):
        *bar, marker, label = values
        if bar:
            bar[0].set_data(*_bar_data(output))
        marker.set_data([output.value], [0])
        label.xy = (output.value, 0)
        label.set_text(_value_text(output))
    return layout


def prediction_plot_png(outputs: list[PlotOutput], *, kind: str) -> bytes:
    """The plot as PNG, drawn by blitting onto a cached figure where that is exact."""
    if not _cacheable(outputs, kind):
        return _fresh_png(outputs, kind=kind)
    layout = _placed(outputs)
    canvas = layout.fig.canvas
    canvas.restore_region(layout.pixels())
    for ax, *values in layout.artists:
        for artist in values:
            ax.draw_artist(artist)
    rgba = canvas.buffer_rgba()
    png = io.BytesIO()
    Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), bytes(rgba), "raw", "RGBA", 0, 1).save(
        png, format="png", compress_level=3
    )
    return png.getvalue()


def prediction_plot_svg(outputs: list[PlotOutput], *, kind: str, width: float = WIDTH) -> str:
    """The plot as SVG: only the value artists are drawn into a cached figure's SVG text."""
    if not _cacheable(outputs, kind):
        return _fresh_svg(outputs, kind=kind, width=width)
    layout = _placed(outputs, width)
    artists = [artist for _, *values in layout.artists for artist in values]
    return svg_spliced(layout.fig, artists, layout.svg_parts, layout.svg_slots)


def svg_template(fig: Figure) -> tuple[list[str], list[tuple[str, str]]]:
    """A figure's SVG text cut around its `value-…` artists' groups: (the text between them,
    (gid, indent) of each group), for `svg_spliced` to fill in again and again."""
    svg = io.StringIO()
    fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    text, parts, slots, end = svg.getvalue(), [], [], 0
    for match in _VALUE_GROUP.finditer(text):
        parts.append(text[end : match.start()])
        slots.append((match[2], match[1]))
        end = match.end()
    parts.append(text[end:])
    return parts, slots


def svg_spliced(fig: Figure, artists: list, parts: list[str], slots: list) -> str:
    """The figure's SVG with only `artists` drawn again (as they are now) into its template."""
    buffer = io.StringIO()
    dpi, fig.dpi = fig.dpi, 72  # as FigureCanvasSVG.print_svg draws
    try:
        width, height = fig.get_size_inches()
        svg = RendererSVG(width * 72, height * 72, buffer, image_dpi=dpi, metadata=SVG_METADATA)
        renderer = MixedModeRenderer(fig, width, height, dpi, svg)
        for artist in artists:
            artist.draw(renderer)
    finally:
        fig.dpi = dpi
    groups = {}
    for match in _VALUE_GROUP.finditer(buffer.getvalue()):
        groups[match[2]] = match[0]
        indent_from = match[1]
    pieces = [parts[0]]
    for (gid, indent), after in zip(slots, parts[1:], strict=True):
        # The groups were drawn one level deep; put them at their depth in the document.
        pieces.append(re.sub(f"^{indent_from}", indent, groups[gid], flags=re.M))
        pieces.append(after)
    return "".join(pieces)


# --- Batch summary: one histogram per output, stacked by applicability-domain verdict -----
# Colour AND hatching tell the verdicts apart (readable in grey and for colour-blind eyes).
VERDICT_STYLES = {
    "in": ("in domain", "#2e8b57", ""),
    "care": ("use with care", "#d9a21b", "//"),
    "out": ("out of domain", "#b22222", "xx"),
    "": ("not assessed", "#8a8a8a", ".."),
}


@dataclass(frozen=True)
class HistogramOutput:
    label: str
    unit: str
    values: dict  # verdict -> list of predicted values


def batch_histograms(outputs: list[HistogramOutput], *, fmt: str) -> bytes | str:
    """Histograms of a batch's predicted values, one panel per output; PNG bytes or SVG text."""
    fig = Figure(figsize=(6.4, 2.4 * max(len(outputs), 1) + 0.6), dpi=100)
    axes = fig.subplots(max(len(outputs), 1), 1, squeeze=False)[:, 0]
    for ax, output in zip(axes, outputs):
        present = [v for v in VERDICT_STYLES if output.values.get(v)]
        if present:
            ax.hist(
                [output.values[v] for v in present],
                bins=30,
                stacked=True,
                color=[VERDICT_STYLES[v][1] for v in present],
                hatch=None,
                label=[VERDICT_STYLES[v][0] for v in present],
            )
            for container, verdict in zip(ax.containers, present):
                for patch in container:
                    patch.set_hatch(VERDICT_STYLES[verdict][2])
                    patch.set_edgecolor("white")
            ax.legend(fontsize=9, frameon=False)
        else:
            ax.text(0.5, 0.5, "no predictions", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"{output.label} ({output.unit})" if output.unit else output.label)
        ax.set_ylabel("molecules")
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    FigureCanvasAgg(fig)
    if fmt == "svg":
        svg = io.StringIO()
        fig.savefig(svg, format="svg", metadata=SVG_METADATA)
        return svg.getvalue()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    return png.getvalue()
