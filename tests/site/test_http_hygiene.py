"""HTTP hygiene: a Content-Security-Policy on every HTML page, HEAD wherever GET is allowed,
and admin logins throttled after repeated wrong passwords (django-axes)."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from batches.models import Batch

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# The site-wide templates and each app's own.
TEMPLATES = [ROOT / "templates", *ROOT.glob("*/templates")]


@pytest.fixture
def site(client, queue, make_prediction):
    """A prediction and a finished batch of the client's; the site's main pages, by name."""
    prediction = make_prediction("CCO")
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("batches:list"),
            {"file": SimpleUploadedFile("a.csv", b"smiles\nCCN\n")},
        )
    queue()
    batch = Batch.objects.get()
    return {
        "home": reverse("predictions:home"),
        "gallery": reverse("predictions:gallery"),
        "prediction": prediction.get_absolute_url(),
        "batches": reverse("batches:list"),
        "batch": batch.get_absolute_url(),
        "batch progress": reverse("batches:progress", args=[batch.public_id]),
        "batch zip": reverse("batches:zip", args=[batch.public_id]),
        "results.csv": reverse("batches:download", args=[batch.public_id, "results.csv"]),
        "molecule.svg": reverse(
            "predictions:download", args=[prediction.public_id, "molecule.svg"]
        ),
        "admin login": reverse("admin:login"),
    }


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_html_page_has_a_policy_without_inline_script_or_eval(client, site):
    pages = 0
    for name, url in [*site.items(), ("not found", "/no-such-page/")]:
        response = client.get(url)
        if not response["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        policy = _policy(response)
        assert policy["script-src"] == ["'self'", "blob:"], name
        # Inline handlers: only JSME's two fixed ones, by hash; never any other.
        assert policy["script-src-attr"][0] == "'unsafe-hashes'", name
        assert all(s.startswith("'sha256-") for s in policy["script-src-attr"][1:]), name
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], name
        assert policy["base-uri"] == policy["form-action"] == ["'self'"], name
    assert pages == 9  # every page and fragment above but the CSV and the SVG, and the 404
    # A drawing opened on its own keeps its stricter policy (no script at all).
    assert _policy(client.get(site["molecule.svg"]))["default-src"] == ["'none'"]


def test_templates_hold_no_inline_script_style_or_handler():
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.I)
    templates = [path for folder in TEMPLATES for path in folder.rglob("*.html")]
    assert len(templates) > 25  # the apps' templates are found too
    for template in templates:
        text = re.sub(r"{#.*?#}", "", template.read_text())  # comments may name them
        assert not inline.search(text), f"{template}: {inline.search(text).group()}"


def test_head_answers_200_wherever_get_does(client, site):
    for name, url in site.items():
        get, head = client.get(url), client.head(url)
        assert get.status_code == 200, name
        assert head.status_code == 200, name
        body = b"".join(head.streaming_content) if head.streaming else head.content
        assert body == b"", name
    assert client.head(reverse("predictions:random")).status_code == 302


def _login(client: Client, password: str):
    return client.post(
        reverse("admin:login"), {"username": "curator", "password": password, "next": "/admin/"}
    )


def test_the_eleventh_wrong_admin_password_is_throttled():
    """Ten wrong passwords are checked (the tenth answer already says "too many"); from the
    eleventh on, nothing is checked: 429, even for the right password, until the cool-off."""
    User.objects.create_superuser("curator", "c@example.org", "the-right-password-1")
    client = Client()
    for _ in range(9):
        response = _login(client, "a-wrong-password")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
    assert _login(client, "a-wrong-password").status_code == 429  # the tenth locks out
    assert _login(client, "a-wrong-password").status_code == 429
    assert _login(client, "the-right-password-1").status_code == 429
    assert "_auth_user_id" not in client.session
    assert _login(Client(REMOTE_ADDR="10.0.0.7"), "a-wrong-password").status_code == 200


def test_one_attacker_behind_a_proxy_does_not_lock_out_every_curator():
    """Every request seems to come from the proxy's address (issue 21, Low): locking that
    address locked out all curators. The lockout is per username and address."""
    User.objects.create_superuser("curator", "c@example.org", "the-right-password-1")
    User.objects.create_superuser("other", "o@example.org", "the-right-password-2")
    attacker, colleague = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(12):
        _login(attacker, "a-wrong-password")
    assert _login(attacker, "the-right-password-1").status_code == 429
    signed_in = colleague.post(
        reverse("admin:login"),
        {"username": "other", "password": "the-right-password-2", "next": "/admin/"},
    )
    assert signed_in.status_code == 302 and "_auth_user_id" in colleague.session


def test_a_right_password_before_the_limit_logs_in_and_resets_the_count():
    User.objects.create_superuser("curator", "c@example.org", "the-right-password-1")
    client = Client()
    for _ in range(9):
        _login(client, "a-wrong-password")
    assert _login(client, "the-right-password-1").status_code == 302
    client.logout()
    for _ in range(9):
        assert _login(client, "a-wrong-password").status_code == 200  # counting starts again
