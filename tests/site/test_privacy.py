"""Private batches and unguessable links, with two real browser sessions (Django test clients).

A batch belongs to the session (or signed-in user) that uploaded it: nobody else can list,
open, poll, page, export or cancel it. Molecules seen only in batches, or predicted with
"keep private", are never listed, and nothing tells a visitor they were predicted before.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from batches.models import Batch
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

SECRET = "CC(C)(C)c1ccc(OCC(=O)N2CCOCC2)cc1"  # "unreleased": only ever in a batch
CSV = f"compound_id,smiles\nACME-SECRET-001,{SECRET}\nACME-SECRET-002,CCO\n"
PUBLIC_ID = re.compile(r"[a-z2-7]{24}")
BEFORE = "This molecule was predicted before"


def _upload(client: Client, queue, data: str = CSV, name: str = "acme.csv") -> Batch:
    upload = SimpleUploadedFile(name, data.encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("batches:list"), {"file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    queue()
    batch = Batch.objects.get(public_id=response["Location"].split("/")[-2])
    assert batch.status == Batch.Status.DONE
    return batch


def _batch_urls(batch: Batch) -> list[str]:
    names = ["detail", "progress", "rows"]
    urls = [reverse(f"batches:{name}", args=[batch.public_id]) for name in names]
    downloads = ["results.csv", "results.sdf", "results.zip"]
    return [
        *urls,
        *[reverse("batches:download", args=[batch.public_id, n]) for n in downloads],
        reverse("batches:zip", args=[batch.public_id]),
    ]


def _predict(client: Client, smiles: str, *, private: bool = False):
    data = {"smiles": smiles, **({"keep_private": "on"} if private else {})}
    return client.post(reverse("predictions:home"), data, follow=True)


def _listed_anywhere(client: Client, prediction: Prediction) -> bool:
    """On the home page's lists, in the gallery, in a search for it, or as the random pick."""
    pages = [
        client.get(reverse("predictions:home")),
        client.get(reverse("predictions:gallery")),
        client.get(reverse("predictions:gallery"), {"q": prediction.canonical_smiles}),
        client.get(reverse("predictions:random"), follow=True),
    ]
    return any(prediction.public_id in page.content.decode() for page in pages)


def test_another_visitor_cannot_list_open_export_or_cancel_a_batch(queue, predictor):
    owner, other, cookieless = Client(), Client(), Client()
    batch = _upload(owner, queue)
    _upload(other, queue, data="smiles\nCCN\n", name="other.csv")  # other has a session too
    zip_url = reverse("batches:zip", args=[batch.public_id])
    assert other.post(zip_url).status_code == 404 and cookieless.post(zip_url).status_code == 404
    assert owner.post(zip_url).status_code == 302  # the owner asks for the ZIP; it is built
    queue()

    listing = owner.get(reverse("batches:list")).content.decode()
    assert "acme.csv" in listing and "other.csv" not in listing
    assert "acme.csv" not in other.get(reverse("batches:list")).content.decode()
    assert "acme.csv" not in cookieless.get(reverse("batches:list")).content.decode()

    for url in _batch_urls(batch):
        assert owner.get(url).status_code == 200, url
        assert other.get(url).status_code == 404, url
        assert cookieless.get(url).status_code == 404, url
        assert b"ACME-SECRET" not in other.get(url).content

    running = _upload(owner, queue, data="smiles\nCCCl\n", name="running.csv")
    Batch.objects.filter(pk=running.pk).update(status=Batch.Status.RUNNING)
    cancel = reverse("batches:cancel", args=[running.public_id])
    assert other.post(cancel).status_code == 404
    assert cookieless.post(cancel).status_code == 404
    assert Batch.objects.get(pk=running.pk).status == Batch.Status.RUNNING
    assert owner.post(cancel).status_code == 302
    assert Batch.objects.get(pk=running.pk).status == Batch.Status.CANCELLED


def test_links_use_random_ids_never_database_keys(client, queue, predictor):
    first, second = _upload(client, queue), _upload(client, queue)
    for batch in (first, second):
        assert PUBLIC_ID.fullmatch(batch.public_id)
        assert batch.get_absolute_url() == f"/batches/{batch.public_id}/"
        assert client.get(f"/batches/{batch.pk}/").status_code == 404
    assert first.public_id != second.public_id
    predictions = list(Prediction.objects.all())
    assert len({p.public_id for p in predictions}) == len(predictions) == 2
    for prediction in predictions:
        assert PUBLIC_ID.fullmatch(prediction.public_id)
        assert client.get(prediction.get_absolute_url()).status_code == 200
        assert client.get(f"/predictions/{prediction.pk}/").status_code == 404
    results = b"".join(client.get(_batch_urls(first)[3]).streaming_content).decode()
    assert {p.public_id for p in predictions} <= set(re.findall(r"[a-z2-7]{24}", results))


def test_batch_only_molecules_are_never_listed(queue, predictor):
    owner, visitor = Client(), Client()
    _upload(owner, queue)
    secret = Prediction.objects.get(canonical_smiles=SECRET)
    assert not secret.public
    for client in (owner, visitor):
        assert not _listed_anywhere(client, secret)
    random_page = visitor.get(reverse("predictions:random"), follow=True).content.decode()
    assert "No examples yet" in random_page  # only batch molecules stored: nothing to pick
    # The owner reaches it by the link on the batch page; that page is theirs alone.
    page = owner.get(Batch.objects.get().get_absolute_url()).content.decode()
    assert secret.get_absolute_url() in page


def test_publishing_a_batch_molecule_does_not_reveal_it_was_seen(queue, predictor):
    owner, visitor, third = Client(), Client(), Client()
    _upload(owner, queue)
    _predict(visitor, "CCN")  # a public molecule published earlier
    response = _predict(visitor, SECRET)  # the visitor happens to type the same molecule
    assert response.status_code == 200 and BEFORE not in response.content.decode()
    secret = Prediction.objects.get(canonical_smiles=SECRET)
    assert secret.public and secret.published_at > secret.created_at
    # Listed as new: first in "recent", before the molecule published earlier.
    home = third.get(reverse("predictions:home")).content.decode()
    assert home.index(secret.public_id) < home.index(
        Prediction.objects.get(input_text="CCN").public_id
    )
    # Now that it is public, saying so reveals nothing.
    assert BEFORE in _predict(third, SECRET).content.decode()


def test_keep_private_gives_an_unlisted_result_reachable_by_its_link(predictor):
    author, visitor = Client(), Client()
    home = author.get(reverse("predictions:home")).content.decode()
    assert "shown in the public gallery" in home and 'name="keep_private"' in home
    response = _predict(author, "c1ccncc1", private=True)
    prediction = Prediction.objects.get(canonical_smiles="c1ccncc1")
    assert response.redirect_chain[-1][0] == prediction.get_absolute_url()
    assert not prediction.public
    assert not _listed_anywhere(visitor, prediction)
    page = visitor.get(prediction.get_absolute_url())
    assert page.status_code == 200 and page["X-Robots-Tag"] == "noindex"
    assert "Private" in page.content.decode() and "Published" not in page.content.decode()
    assert visitor.get(f"{prediction.get_absolute_url()}values.csv").status_code == 200
    # Asked for again, privately or not, it says nothing about having been predicted before.
    assert BEFORE not in _predict(visitor, "c1ccncc1", private=True).content.decode()
    assert not Prediction.objects.get(pk=prediction.pk).public
    assert BEFORE not in _predict(visitor, "c1ccncc1").content.decode()
    assert Prediction.objects.get(pk=prediction.pk).public


def test_a_signed_in_user_owns_batches_across_sessions(queue, predictor):
    user = User.objects.create_user("chemist", password="pass-for-tests-only")
    laptop, desktop, stranger = Client(), Client(), Client()
    anonymous = _upload(laptop, queue, name="before-login.csv")
    laptop.force_login(user)  # the session's data (its owner token) survives the login
    signed_in = _upload(laptop, queue, name="signed-in.csv")
    assert signed_in.owner_key == f"user:{user.pk}"
    assert anonymous.owner_key.startswith("session:") and len(anonymous.owner_key) > 30
    listing = laptop.get(reverse("batches:list")).content.decode()
    assert "before-login.csv" in listing and "signed-in.csv" in listing
    desktop.force_login(user)
    assert desktop.get(signed_in.get_absolute_url()).status_code == 200
    assert desktop.get(anonymous.get_absolute_url()).status_code == 404  # that browser's own
    assert stranger.get(signed_in.get_absolute_url()).status_code == 404


def test_curators_see_every_batch_and_private_molecule_in_the_admin(queue, predictor):
    _upload(Client(), queue)
    curator = Client()
    curator.force_login(User.objects.create_superuser("curator", "c@example.org", "pw-tests"))
    batches = curator.get("/admin/batches/batch/").content.decode()
    assert "acme.csv" in batches and "session:" in batches
    private = curator.get("/admin/predictions/prediction/?public__exact=0").content.decode()
    assert SECRET in private
    assert curator.get(reverse("batches:list")).content.decode().count("acme.csv") == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_rows_fresh_ids_and_keeps_batch_molecules_private():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("predictions", "0002_batches")], [("predictions", "0003_privacy")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldPrediction = old.get_model("predictions", "Prediction")
        OldBatch = old.get_model("predictions", "Batch")
        stored = {
            source: OldPrediction.objects.create(
                input_text=smiles, canonical_smiles=smiles, model_hash="h", source=source
            )
            for source, smiles in [("form", "CCO"), ("example", "CCN"), ("batch", "CCCl")]
        }
        batches = [OldBatch.objects.create(filename=f"{n}.csv") for n in range(2)]
        old.get_model("predictions", "BatchRow").objects.create(
            batch_id=batches[0].pk, row_number=1, status="ok", prediction_id=stored["batch"].pk
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        predictions = new.get_model("predictions", "Prediction").objects.all()
        ids = [p.public_id for p in predictions] + [
            b.public_id for b in new.get_model("predictions", "Batch").objects.all()
        ]
        assert len(set(ids)) == 5 and all(PUBLIC_ID.fullmatch(i) for i in ids)
        public = {p.source: (p.public, p.published_at is not None) for p in predictions}
        assert public == {"form": (True, True), "example": (True, True), "batch": (False, False)}
        row = new.get_model("predictions", "BatchRow").objects.get()
        assert row.prediction_public_id == predictions.get(source="batch").public_id
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
