"""Input the tokenizer reads as [UNK] is refused, naming the unreadable atoms/tokens (bracket
forms of known atoms, such as [CH3] or [Cl], are read as the atom: chemcore.tokens)."""

import pytest

from batches.models import BatchRow
from chemcore.network import UnknownTokens
from predictions.models import Prediction


@pytest.mark.parametrize(
    ("smiles", "unknown"),
    [
        ("[Fe]", ["[Fe]"]),
        ("CC[Pb](CC)(CC)CC", ["[Pb]"]),
        ("C[Hg]Cl", ["[Hg]"]),
        ("[CH3][Hg][Cl]", ["[Hg]"]),
        ("[Xe]", ["[Xe]"]),  # a noble gas: no training molecule holds one
        ("CCO", []),
        ("c1ccc2[nH]ccc2c1", []),
    ],
)
def test_unknown_tokens_are_found_by_their_text(predictor, smiles, unknown):
    assert predictor.network.unknown_tokens(smiles) == unknown


def test_check_tokens_names_each_unknown_once(predictor):
    with pytest.raises(UnknownTokens, match=r"cannot read \[Pt\], \[Cl-\]"):
        predictor.network.check_tokens("[Pt].[Cl-].[Cl-].[Pt]")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("smiles", "named"),
    [("[Fe]", "[Fe]"), ("[Na+].[Cu+2]", "[Cu+2]"), ("N.N.Cl[Pt]Cl", "[Pt]"), ("[He]", "[He]")],
)
def test_form_refuses_unknown_tokens_beside_the_field(client, smiles, named):
    response = client.post("/", {"smiles": smiles})
    assert response.status_code == 400
    html = response.content.decode()
    message = html.split("The model cannot read ", 1)[1].split(":", 1)[0]
    assert named in message.split(", ") and "Nothing is predicted" in html
    assert 'aria-invalid="true"' in html or "errorlist" in html
    assert not Prediction.objects.exists()


@pytest.mark.django_db
def test_batch_row_with_unknown_tokens_fails_with_the_reason(predictor):
    from batches import services as batch_services

    batch = batch_services.batch_create(text="CCO\nCC[Pb](CC)(CC)CC\n[Na+]\n")
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    rows = list(BatchRow.objects.filter(batch_id=batch.pk).order_by("row_number"))
    assert [r.status for r in rows] == ["ok", "error", "error"]
    assert "[Pb]" in rows[1].error.split(":", 1)[0]  # RDKit writes the CH2 next to Pb as [CH2]
    assert "The model cannot read [Na+]" in rows[2].error
    assert rows[1].outputs == [] and rows[1].prediction_id is None
    assert Prediction.objects.count() == 1
