"""The card tag (predictions/templatetags/cards.py) renders what _card.html renders, byte for byte."""

from django.template.loader import render_to_string

from predictions.models import Prediction
from predictions.templatetags.cards import card_html

RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # 4 alerts


def _both(prediction) -> tuple[str, str]:
    return render_to_string("predictions/_card.html", {"prediction": prediction}), str(
        card_html(prediction)
    )


def test_card_tag_equals_the_card_template(make_prediction):
    stored = [
        make_prediction(RHODANINE, title="Benzylidene <rhodanine> & co"),
        make_prediction("CN1C=NC2=C1C(=O)N(C(=O)N2C)C", title="Caffeine", featured=True),
        make_prediction("c1ccccc1O"),  # one alert at most, no title
        make_prediction("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"),  # title truncated
        make_prediction("CC[N+](C)(C)C"),  # an ion: use with care
    ]
    variants = []
    for prediction in Prediction.objects.all():
        variants.append(prediction)
        similar = Prediction.objects.get(pk=prediction.pk)
        similar.search_similarity = 0.4567
        variants.append(similar)
        matched = Prediction.objects.get(pk=prediction.pk)
        matched.search_svg = "<svg><rect/></svg>"
        variants.append(matched)
        bare = Prediction.objects.get(pk=prediction.pk)
        bare.domain, bare.profile = None, None
        bare.outputs = [{**o, "unit": None} for o in bare.outputs[:2]] + [
            {"label": "x", "value": None}
        ]
        variants.append(bare)
    verdicts = {(p.domain or {}).get("verdict") for p in stored}
    assert len(variants) >= 20 and len(verdicts) >= 2
    for prediction in variants:
        template, tag = _both(prediction)
        assert tag == template


def test_gallery_and_home_use_the_card_tag(client, make_prediction):
    prediction = make_prediction(RHODANINE, title="Benzylidene rhodanine")
    expected = str(card_html(Prediction.objects.get(pk=prediction.pk)))
    assert expected in client.get("/gallery/").content.decode()
    assert expected in client.get("/").content.decode()
