"""What the served logS means for a salt: the model's parent value against AqSolDB's salts.

AqSolDB measures salts as given; training leaves its salts out (training.data), so the
site's logS for a salt is its neutral parent's. This measures how far that is from the salt's
own measured logS, on the salts of the shipped AqSolDB part (`data/aqsoldb`), each entered
as given through `Model.predict` (the site's path: standardisation keeps the parent):

* by what standardisation removed (`chemreport.salts.salt_kind`, as the page's note reads
  it): an alkali or ammonium cation, a polyvalent or transition-metal ion, an inorganic acid,
  an organic fragment (AqSolDB's "salts" include mixtures, resins and metal soaps);
* the gap, measured salt logS minus the predicted parent logS: median, quartiles, the share
  where the salt is the more soluble, and the RMSE of the parent value read as the salt's;
* the same gap between measurements alone, where the parent was measured too (its neutral
  AqSolDB row): what the data say, with no model in it.

python bench/bench_salts.py [--dir checkpoints/default] [--json FILE] [--write]

`--write` rewrites chemreport/salt_gaps.json, the figures the salt note on every surface
says (chemreport.salts); run it after shipping a new checkpoint (a test compares the file
with this measurement of the shipped one).

Not timed: no thresholds, one run, figures for the README and the page's salt note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rdkit import RDLogger  # noqa: E402

from chemcore.model import Model, Refused  # noqa: E402
from chemreport import salts as S  # noqa: E402
from training.data import load_aqsoldb, load_aqsoldb_salts  # noqa: E402


def summary(gaps: list[float]) -> dict:
    g = np.asarray(gaps)
    q1, med, q3 = np.percentile(g, [25, 50, 75])
    return {
        "n": int(g.size),
        "median": round(float(med), 2),
        "q1": round(float(q1), 2),
        "q3": round(float(q3), 2),
        "mean": round(float(g.mean()), 2),
        "salt_more_soluble": round(float((g > 0).mean()), 3),
        "beyond_1": round(float((np.abs(g) > 1).mean()), 3),
        "rmse": round(float(np.sqrt((g**2).mean())), 2),
    }


def measure(model: Model) -> dict:
    """The gaps of `main`'s tables, for the shipped AqSolDB part's salts, as a dict."""
    parents: dict[str, list[float]] = {}
    for parent, value in zip(*load_aqsoldb()[:2], strict=True):
        parents.setdefault(parent, []).append(float(value))
    salts = load_aqsoldb_salts()
    column = next(i for i, o in enumerate(model.outputs) if "(logS)" in o.label)
    results = model.predict([text for text, _, _ in salts])
    measured: dict[str, list[float]] = {k: [] for k in S.KINDS}
    predicted: list[tuple[str, float, float]] = []  # (kind, parent's logS, salt's measured)
    refused: list[str] = []
    for (_, parent, value), result in zip(salts, results, strict=True):
        if isinstance(result, Refused):
            refused.append(str(result))
            continue
        k = S.salt_kind(S.removed_fragments(result.molecule.standardisation_note))
        predicted.append((k, result.outputs[column].value, value))
        if parent in parents:
            measured[k].append(value - statistics.fmean(parents[parent]))
    return {
        "model": f"{model.version} ({model.network.weights_hash[:12]})",
        "salts": len(salts),
        "refused": refused,
        "rows": predicted,
        **gap_tables(predicted),
        "measured_gap": {"all": summary([g for k in S.KINDS for g in measured[k]])}
        | {k: summary(measured[k]) for k in S.KINDS if measured[k]},
    }


def gap_tables(rows: list[tuple[str, float, float]]) -> dict:
    """Measured minus predicted, by kind ("model_gap") and by kind and bin ("binned")."""
    gaps: dict[str, list[float]] = {k: [] for k in S.KINDS}
    binned = {k: [[] for _ in range(len(S.BINS) + 1)] for k in S.KINDS}
    for kind, logs, value in rows:
        gaps[kind].append(value - logs)
        binned[kind][S.bin_of(logs)].append(value - logs)
    return {
        "model_gap": {"all": summary([g for k in S.KINDS for g in gaps[k]])}
        | {k: summary(gaps[k]) for k in S.KINDS if gaps[k]},
        "binned": {
            k: [summary(cell) if cell else {"n": 0} for cell in binned[k]]
            for k in S.KINDS
            if gaps[k]
        },
    }


def cross_validated(out: dict, folds: int = 5, seed: int = 0) -> dict:
    """The note's estimate for a salt as given (chemreport.salts.salt_estimate: the parent's
    logS plus its cell's median difference), each salt's from a table of the other folds:
    RMSE against the parent's logS read as the salt's, per kind, and how often the salt's
    measured value falls in the middle half the note gives (nominal 50 %)."""
    rows = out["rows"]
    fold = np.random.default_rng(seed).integers(0, folds, len(rows))
    as_parent: dict[str, list[float]] = {k: [] for k in S.KINDS}
    estimated: dict[str, list[float]] = {k: [] for k in S.KINDS}
    inside = []
    for f in range(folds):
        rest = [row for row, g in zip(rows, fold, strict=True) if g != f]
        other = table(out | gap_tables(rest))
        for (kind, logs, value), g in zip(rows, fold, strict=True):
            found = S.salt_estimate(kind, logs, other) if g == f else None
            if found is None:
                continue
            as_parent[kind].append(logs - value)
            estimated[kind].append(found["logS"] - value)
            inside.append(found["low"] <= value <= found["high"])

    def rmse(errors) -> float:
        return round(float(np.sqrt(np.mean(np.square(errors)))), 2)

    result = {
        k: {"n": len(estimated[k]), "parent": rmse(as_parent[k]), "estimate": rmse(estimated[k])}
        for k in S.KINDS
        if estimated[k]
    }
    everything = [e for k in result for e in estimated[k]]
    result["all"] = {
        "n": len(everything),
        "parent": rmse([e for k in result for e in as_parent[k]]),
        "estimate": rmse(everything),
        "middle_half_holds": round(float(np.mean(inside)), 3),
    }
    return result


def table(out: dict) -> dict:
    """What chemreport/salt_gaps.json holds: per kind, overall and per bin of the parent's
    predicted logS, the figures the salt note says."""
    keep = ("n", "salt_more_soluble", "median", "q1", "q3")
    return {
        "about": (
            "AqSolDB salts (data/aqsoldb, the shipped part): measured salt logS minus the "
            "model's logS for the parent, by what standardisation removed and by the parent's "
            "predicted logS; written by bench/bench_salts.py --write"
        ),
        "model": out["model"],
        "bins": list(S.BINS),
        "kinds": {
            k: {
                "all": {key: out["model_gap"][k][key] for key in keep},
                "bins": [{key: cell[key] for key in keep if key in cell} for cell in cells],
            }
            for k, cells in out["binned"].items()
        },
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    p.add_argument("--json", type=Path, help="write the figures here too")
    p.add_argument(
        "--write", action="store_true", help=f"write the note's table ({S.GAPS_FILE.name})"
    )
    a = p.parse_args()
    RDLogger.DisableLog("rdApp.*")
    out = measure(Model.load(a.dir, threads=1))
    print(f"{a.dir}: AqSolDB salts {out['salts']}, refused by the model {len(out['refused'])}")
    for title, key in (
        ("measured salt logS - predicted parent logS", "model_gap"),
        ("measured salt logS - measured parent logS (both in AqSolDB)", "measured_gap"),
    ):
        print(f"\n{title}\n| removed | n | median [IQR] | mean | salt above | |gap| > 1 | RMSE |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, s in out[key].items():
            print(
                f"| {S.KINDS.get(name, name)} | {s['n']} | {s['median']:+.2f} "
                f"[{s['q1']:+.2f}, {s['q3']:+.2f}] | {s['mean']:+.2f} "
                f"| {100 * s['salt_more_soluble']:.0f} % | {100 * s['beyond_1']:.0f} % "
                f"| {s['rmse']:.2f} |"
            )
    print("\nby the parent's predicted logS\n| removed | logS | n | median | salt above |")
    print("| --- | --- | --- | --- | --- |")
    for name, cells in out["binned"].items():
        for i, c in enumerate(cells):
            if c["n"]:
                print(
                    f"| {S.KINDS[name]} | {S.bin_words(i)} | {c['n']} | {c['median']:+.2f} "
                    f"| {100 * c['salt_more_soluble']:.0f} % |"
                )
    cv = cross_validated(out)
    print(
        "\nthe note's estimate for the salt as given, 5-fold cross-validated (RMSE against the "
        "measured salt)\n| removed | n | parent's logS as the salt's | parent + cell median |"
    )
    print("| --- | --- | --- | --- |")
    for name, c in cv.items():
        print(f"| {S.KINDS.get(name, name)} | {c['n']} | {c['parent']:.2f} | {c['estimate']:.2f} |")
    print(
        f"the salt's measured value inside the note's middle half: {cv['all']['middle_half_holds']:.1%}"
    )
    if out["refused"]:
        print("\nrefused, e.g.:", *out["refused"][:5], sep="\n  ")
    if a.json:
        a.json.write_text(json.dumps(out | {"checkpoint": a.dir, "cv": cv}, indent=1))
    if a.write:
        S.GAPS_FILE.write_text(json.dumps(table(out), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {S.GAPS_FILE}")


if __name__ == "__main__":
    main()
