"""A batch that fails for an unexpected reason says so on its page without the server's file
paths (issue 21, Low: "a batch error shows the server's file path")."""

import pytest
from django.urls import reverse

from batches import owners
from batches import services as batch_services
from batches.models import Batch

pytestmark = pytest.mark.django_db


def test_a_failed_batch_shows_no_server_path(client, predictor, monkeypatch):
    session = client.session  # the batch is this visitor's, as an upload would make it
    session[owners.SESSION_TOKEN] = "token-of-this-test-client"
    session.save()
    batch = batch_services.batch_create(
        text="CCO\nCCN\n", owner_key=owners.session_owner_key("token-of-this-test-client")
    )

    def broken(**kwargs):
        raise OSError("[Errno 2] No such file or directory: '/srv/app/var/batches/abc.csv'")

    monkeypatch.setattr(batch_services, "process_chunk", broken)
    assert batch_services.batch_run(batch_pk=batch.pk) == Batch.Status.FAILED
    stored = Batch.objects.get(pk=batch.pk).error
    assert "/srv/app" not in stored and "(a file)" in stored and "No such file" in stored
    page = client.get(reverse("batches:detail", args=[batch.public_id]))
    assert page.status_code == 200 and "/srv/app" not in page.content.decode()
