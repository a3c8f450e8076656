"""The one-page report card (PNG, PDF) and the approved-drug scatter, drawn from plain values.

predictions/downloads/report.py gathers those values from a stored prediction (`Card`, an
output's dict, the served model's `DrugReference`); the drawing here uses matplotlib's object
API as rendering.py does, and knows nothing of where the values are kept.
"""

from __future__ import annotations

import io
import textwrap
import threading
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from chemcore.domain import verdict_label
from chemreport import profile as rdkit_profile
from chemreport import rendering, units
from chemreport.drugs import DrugReference

SITE = "SMILES property predictor"
GREY = "#9a9a9a"


def cut(text: str, width: int) -> str:
    """`text`, at most `width` characters, the last an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def save(fig: Figure, fmt: str, caption: tuple[str, ...] = ()) -> bytes | str:
    """The figure as SVG text or PNG/PDF bytes; a caption (molecule; model; date) goes into
    the file's metadata too."""
    meta = {}
    if caption:
        title, rest = caption[0], " · ".join(caption[1:])
        meta = {"Title": title, ("Description" if fmt != "pdf" else "Subject"): rest}
    if fmt == "svg":
        svg = io.StringIO()
        fig.savefig(svg, format="svg", metadata={**rendering.SVG_METADATA, **meta})
        return svg.getvalue()
    out = io.BytesIO()
    if fmt == "pdf":
        # Imported here: the PDF backend (and fontTools under it) costs a process ~10 MB, and
        # only report.pdf needs it.
        from matplotlib.backends.backend_pdf import FigureCanvasPdf

        FigureCanvasPdf(fig)
        meta.update(Creator=SITE, Author=SITE, Keywords="approved drugs; prediction report")
    fig.savefig(out, format=fmt, metadata=meta)
    return out.getvalue()


# --- The approved-drug scatter: two outputs, the drugs in grey, the molecule marked -----------


def draw_scatter(
    fig: Figure,
    axes: tuple[dict, dict] | None,
    drugs: DrugReference | None,
    *,
    fontsize: float = 12,
) -> None:
    """The two stored outputs `axes` (x, y; None: fewer than two) over the approved drugs."""
    ax = fig.add_subplot()
    if axes is None:
        ax.text(0.5, 0.5, "needs two predicted values", ha="center", va="center")
        ax.set_axis_off()
        return
    x_out, y_out = axes
    xs = drugs.sorted_values[x_out["label"]] if drugs else []
    ys = drugs.sorted_values[y_out["label"]] if drugs else []
    # Limits from the drugs (and the molecule only when it lies outside them): the same
    # figure serves every molecule inside, with only its marker moved (scatter_svg).
    ax.set_xlim(*_limits([*xs[:1], *xs[-1:], x_out["value"]]))
    ax.set_ylim(*_limits([*ys[:1], *ys[-1:], y_out["value"]]))
    if drugs is not None:
        ax.scatter(
            drugs.columns[x_out["label"]],
            drugs.columns[y_out["label"]],
            s=9,
            color=GREY,
            alpha=0.45,
            linewidths=0,
            rasterized=True,  # 1,700 points as one image: a small SVG, text stays text
            label=f"approved drugs (n = {len(drugs):,}), same model",
        )
    else:
        ax.text(0.5, 0.9, "No approved-drug reference for this model", transform=ax.transAxes,
                ha="center", fontsize=fontsize, color=GREY)  # fmt: skip
    (marker,) = ax.plot(
        [x_out["value"]],
        [y_out["value"]],
        marker="D",
        markersize=12,
        color=rendering.ACCENT,
        markeredgecolor="white",
        linestyle="none",
        label="this molecule",
    )
    marker.set_gid("value-marker-0")
    ax.set_xlabel(_label(x_out), fontsize=fontsize)
    ax.set_ylabel(_label(y_out), fontsize=fontsize)
    ax.tick_params(labelsize=fontsize - 1)
    legend = ax.legend(
        fontsize=fontsize - 2, loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False
    )
    if drugs is not None:
        legend.legend_handles[0].set_sizes([40])  # the drugs' dots, readable in the key
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)


def _limits(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = 0.04 * (high - low or 1.0)
    return low - pad, high + pad


def _label(output: dict) -> str:
    return f"{output['label']} ({output['unit']})" if output.get("unit") else output["label"]


def scatter_figure(
    axes: tuple[dict, dict] | None, drugs: DrugReference | None, caption: tuple[str, ...] = ()
) -> Figure:
    """The scatter on a figure of its own, the caption's lines (if any) below it."""
    fig = Figure(figsize=(6.4, 5.0 + 0.3 * len(caption)), dpi=100)
    bottom = (0.75 + 0.25 * len(caption)) / fig.get_figheight()
    fig.subplots_adjust(left=0.13, right=0.97, top=1 - 0.45 / fig.get_figheight(), bottom=bottom)
    draw_scatter(fig, axes, drugs)
    for line, text in enumerate(caption):
        fig.text(
            0.02, (0.1 + 0.22 * (len(caption) - 1 - line)) / fig.get_figheight(), text, fontsize=9
        )
    FigureCanvasAgg(fig)
    return fig


_scatter_cache = threading.local()


def scatter_svg(axes: tuple[dict, dict] | None, drugs: DrugReference | None) -> str:
    """The page's scatter. Drawn once per reference and thread; each molecule inside the
    drugs' ranges then only moves its marker (rendering.svg_spliced: ~100x cheaper)."""
    if drugs is None or axes is None:
        return save(scatter_figure(axes, drugs), "svg")
    for output in axes:
        ranked = drugs.sorted_values[output["label"]]
        if not ranked[0] <= output["value"] <= ranked[-1]:  # the limits would move
            return save(scatter_figure(axes, drugs), "svg")
    key = (drugs.digest, *(o["label"] + o.get("unit", "") for o in axes))
    cache = _scatter_cache.__dict__.setdefault("figures", {})
    if key not in cache:
        cache.clear()  # one reference at a time
        fig = scatter_figure(axes, drugs)
        marker = next(line for line in fig.axes[0].lines if line.get_gid() == "value-marker-0")
        cache[key] = (fig, marker, *rendering.svg_template(fig))
    fig, marker, parts, slots = cache[key]
    x_out, y_out = axes
    marker.set_data([x_out["value"]], [y_out["value"]])
    return rendering.svg_spliced(fig, [marker], parts, slots)


# --- The one-page report card ------------------------------------------------------------------

A4 = (8.27, 11.69)
GAP = 0.012  # between blocks, as a fraction of the page height
LEFT, WIDTH = 0.05, 0.9  # the text column
PROFILE_TOP = 0.215  # the RDKit profile, the notes and the footer sit below this
TABLE_HEADER = ["Property", "Value ± σ", "Unit", "Among approved drugs", "Domain"]


@dataclass(frozen=True)
class Card:
    """What the card prints, top to bottom."""

    title: str  # short, as the result page's heading
    facts: str  # formula · molecular weight
    smiles: str
    parent_note: str  # a salt or mixture: what the values are for ("" otherwise)
    molecule_png: bytes
    verdict: str | None  # the applicability domain's, None when not assessed
    reasons: list[str]
    rows: list[list[str]]  # one per output, under TABLE_HEADER
    plots: list[rendering.PlotOutput]
    kind: str  # "regression" or the classifier's
    profile: dict | None  # the stored RDKit profile (chemreport.profile)
    caption: tuple[str, ...]  # molecule; model; date: the footer and the file's metadata


def profile_lines(stored: dict | None) -> list[str]:
    """An RDKit profile as labelled 'name: value' lines, in the page's order and decimals,
    then the structural alerts by name."""
    if not isinstance(stored, dict) or not stored:
        return []
    lines = []
    for field in rdkit_profile.FIELDS:
        if stored.get(field.key) is None:
            continue
        value = f"{float(stored[field.key]):.{field.decimals}f}"
        lines.append(cut(f"{field.label}: {value} {field.unit}".rstrip(), 40))
    alerts = [alert["name"] for alert in stored.get("alerts") or []]
    lines.append(cut(f"Structural alerts: {', '.join(alerts) or 'none'}", 40))
    return lines


def _bottom(fig: Figure, artist, renderer) -> float:
    """The lowest point of an artist, as a fraction of the page height."""
    return artist.get_window_extent(renderer).y0 / fig.bbox.height


def _fit_width(fig: Figure, text, renderer, width: float, smallest: float) -> None:
    """Shrink `text` until it is at most `width` of the page wide; at `smallest` points, cut
    it with an ellipsis instead."""
    limit = width * fig.bbox.width
    while text.get_window_extent(renderer).width > limit and text.get_fontsize() > smallest:
        text.set_fontsize(text.get_fontsize() - 0.5)
    content = text.get_text()
    while text.get_window_extent(renderer).width > limit and len(content) > 2:
        content = content[:-2]
        text.set_text(content + "…")


def _wrapped(text: str, width: int, lines: int) -> str:
    """`text` wrapped at `width` characters (breaking anywhere: SMILES have no spaces), at
    most `lines` lines, the last ending in an ellipsis when cut."""
    parts = [text[i : i + width] for i in range(0, len(text), width)]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][:-1] + "…"
    return "\n".join(parts)


def _reasons_text(card: Card, fontsize: float, max_lines: int) -> str:
    verdict = card.verdict
    lines = [f"Applicability domain: {verdict_label(verdict) if verdict else 'not assessed'}"]
    width = int(52 * 9 / fontsize)  # characters per line in the right-hand column
    reasons = card.reasons
    for shown, reason in enumerate(reasons):
        wrapped = textwrap.wrap(f"• {reason}", width)
        if len(lines) + len(wrapped) > max_lines - (1 if shown < len(reasons) - 1 else 0):
            lines.append(f"… and {len(reasons) - shown} more on the result page")
            break
        lines += wrapped
    return "\n".join(lines)


def card_figure(card: Card) -> Figure:
    """The one-page card, laid out top to bottom by measuring each block (long names and
    SMILES, many reasons, any number of outputs stay on the page without overlapping:
    tests/predictions/test_report_layout.py)."""
    fig = Figure(figsize=A4, dpi=100)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()

    title = fig.text(LEFT, 0.965, card.title, fontsize=18, weight="bold", va="top")
    _fit_width(fig, title, renderer, WIDTH, 11)
    top = _bottom(fig, title, renderer) - GAP
    facts_text = fig.text(LEFT, top, card.facts, fontsize=10, va="top")
    top = _bottom(fig, facts_text, renderer) - GAP / 2
    smiles = fig.text(
        LEFT, top, _wrapped(card.smiles, 110, 3), fontsize=7.5, family="monospace", va="top"
    )
    _fit_width(fig, smiles, renderer, WIDTH, 5)
    top = _bottom(fig, smiles, renderer) - GAP
    if card.parent_note:  # a salt or mixture: what the values are for
        note = fig.text(
            LEFT,
            top,
            "\n".join(textwrap.wrap(card.parent_note, 125)),
            fontsize=8,
            va="top",
            color="#6b4100",
        )
        _fit_width(fig, note, renderer, WIDTH, 5)
        top = _bottom(fig, note, renderer) - GAP

    picture_height = 0.2 if len(card.rows) <= 4 else 0.17  # room for more plots
    picture = fig.add_axes((0.04, top - picture_height, 0.44, picture_height))
    picture.imshow(Image.open(io.BytesIO(bytes(card.molecule_png))).convert("RGB"))
    picture.set_axis_off()
    floor = top - picture_height  # the reasons end no lower than the picture
    for fontsize in (9, 8, 7):
        max_lines = 16
        reasons = fig.text(
            0.52,
            top,
            _reasons_text(card, fontsize, max_lines),
            fontsize=fontsize,
            va="top",
            linespacing=1.35,
        )
        while _bottom(fig, reasons, renderer) < floor and max_lines > 3:
            max_lines -= 1
            reasons.set_text(_reasons_text(card, fontsize, max_lines))
        if _bottom(fig, reasons, renderer) >= floor or fontsize == 7:
            break
        reasons.remove()
    top = min(floor, _bottom(fig, reasons, renderer)) - GAP

    table_ax = fig.add_axes((LEFT, top - 0.1, WIDTH, 0.1))
    table_ax.set_axis_off()
    table = table_ax.table(
        cellText=card.rows, colLabels=TABLE_HEADER, loc="upper center", cellLoc="left"
    )
    table.auto_set_font_size(False)
    for fontsize in (9, 8, 7, 6):
        table.set_fontsize(fontsize)
        table.auto_set_column_width(list(range(len(TABLE_HEADER))))
        if table.get_window_extent(renderer).width <= WIDTH * fig.bbox.width:
            break
    table.scale(1, 1.5)
    top = _bottom(fig, table, renderer) - GAP

    if card.kind == "regression":
        _card_plots(fig, card.plots, top, renderer)
    else:
        height = max(min(0.25, top - PROFILE_TOP - 2 * GAP), 0.08)
        rendering._draw_probabilities(
            fig, card.plots, fig.add_axes((0.3, top - GAP - height, 0.6, height))
        )

    footer = textwrap.wrap("  ·  ".join(card.caption[1:]), 130)
    footer_text = fig.text(LEFT, 0.012, "\n".join(footer), fontsize=8, color="#444444")
    above_footer = footer_text.get_window_extent(renderer).y1 / fig.bbox.height + GAP / 2
    notes = (
        f"{units.UNCERTAINTY_HELP} Among approved drugs: the percentile of this value among "
        "ChEMBL's approved small-molecule drugs predicted by the same model (the share "
        "predicted lower)."
    )
    notes_text = fig.text(
        LEFT, above_footer, "\n".join(textwrap.wrap(notes, 140)), fontsize=7, color="#444"
    )
    _fit_width(fig, notes_text, renderer, WIDTH, 5)
    above_notes = notes_text.get_window_extent(renderer).y1 / fig.bbox.height + GAP
    profile = profile_lines(card.profile)
    if profile:
        heading = fig.text(
            LEFT,
            PROFILE_TOP - GAP,
            "Computed (RDKit), exact",
            fontsize=10,
            weight="bold",
            va="top",
        )
        below = _bottom(fig, heading, renderer) - GAP / 2
        third = -(-len(profile) // 3)
        for column in range(3):
            chunk = profile[column * third : (column + 1) * third][:10]
            block = fig.text(LEFT + 0.31 * column, below, "\n".join(chunk), fontsize=8, va="top")
            while _bottom(fig, block, renderer) < above_notes and block.get_fontsize() > 5:
                block.set_fontsize(block.get_fontsize() - 0.5)
    return fig


def _unstack(fig: Figure, axes: list, per_column: int, renderer) -> None:
    """Make each plot's axes lower (labels kept) until no plot's text reaches the next one's
    in its column: many outputs leave each little room."""
    columns = [axes[i : i + per_column] for i in range(0, len(axes), per_column)]
    for attempt in range(16):
        touching = any(
            upper.get_tightbbox(renderer).overlaps(lower.get_tightbbox(renderer))
            for column in columns
            for upper, lower in zip(column, column[1:])
        )
        if not touching:
            return
        for ax in axes:
            x0, y0, width, height = ax.get_position().bounds
            lower = height * 0.8
            ax.set_position((x0, y0 + (height - lower) / 2, width, lower))
            if attempt >= 4:  # the axes are thin already: smaller text too
                for text in [ax.xaxis.label, *ax.texts, *ax.get_xticklabels()]:
                    text.set_fontsize(max(text.get_fontsize() - 0.5, 5))


def _card_plots(fig: Figure, outputs, top: float, renderer) -> None:
    """One small plot per output between `top` and the profile: one column up to four
    outputs, two beyond; a shared legend above them."""
    columns = 1 if len(outputs) <= 4 else 2
    per_column = -(-len(outputs) // columns)
    legend_height = 0.03
    region = top - legend_height - (PROFILE_TOP + GAP)
    step = region / max(per_column, 1)
    width = WIDTH if columns == 1 else WIDTH / 2 - 0.03
    small = columns > 1 or per_column > 3
    axes = []
    for index in range(len(outputs)):
        column, row = divmod(index, per_column)
        bottom = top - legend_height - step * (row + 1) + step * 0.42
        axes.append(fig.add_axes((LEFT + column * (WIDTH / 2 + 0.03), bottom, width, step * 0.3)))
    rendering._draw_regression(fig, outputs, axes)
    for ax in axes:  # the page's plot, smaller on paper
        if ax.legend_:
            ax.legend_.remove()
        ax.xaxis.label.set_fontsize(8 if small else 11)
        ax.tick_params(labelsize=7 if small else 10, pad=2)
        for text in ax.texts:
            text.set_fontsize(9 if small else 12)
    _unstack(fig, axes, per_column, renderer)
    handles, labels = axes[0].get_legend_handles_labels() if axes else ([], [])
    if handles:
        fig.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, top),
            ncols=len(handles),
            frameon=False,
            fontsize=8,
        )
