"""Issue 21: no request can take the site down (items 1, 2, 4 and 9 of its findings).

Real RDKit, the real model and database, the Django test client. The budgets are set small
here (settings fixture) so each attack is answered in about a second; without them each of
these requests ran for minutes (a 40-atom ring's CoordGen layout > 10 min; one match check of
a 20-atom `*~*` path against the torus below 25 s and growing ~3x per two atoms) or failed
with a 500 (the strained molecule).
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from rdkit import Chem

from chemreport import bounded, rendering
from predictions import search
from predictions.models import Prediction

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

RING_40 = "C1" + "C" * 40 + "C1"  # the worst ring: CoordGen runs > 10 min on it
# A 25-carbon 4-regular graph (a 5 x 5 torus): every path of `*~*` fits it many ways.
TORUS = "C123C45C67C18C19C6%10C6%11C4%12C24C16C12C46C34C83C8%13C7%14C57C48C64C7%12C%115C%10%14C%13(C931)C425"
# 20 atoms of any kind, then one the torus lacks: RDKit tries every path before saying no.
SLOW_PATTERN = "~".join(["*"] * 19) + "~[Se]"
# Strained and bridged: RDKit reads it, but its highlighted drawing raised "Cannot normalize
# a zero length vector" (the gallery's substructure search answered 500).
STRAINED = "C1=COC2=CC=CSC(CC)=c3ccc2cc3=CC2=CC2=C1"
LONG_CHAINS = ["C" * 30 + "O", "C" * 32 + "O"]  # pass the fingerprint screen, checked at once
NORMAL = ["CCO", "CC(=O)Oc1ccccc1C(=O)O", "c1ccccc1O", "CCCCCCCC"]


@pytest.fixture
def small_budgets(settings):
    settings.DEPICTION_BUDGET_SECONDS = 0.3
    settings.SEARCH_BUDGET_SECONDS = 0.5
    return settings


def _timed(get, *args, **kwargs):
    started = time.monotonic()
    response = get(*args, **kwargs)
    return response, time.monotonic() - started


def _download(client, prediction, name):
    return client.get(reverse("predictions:download", args=[prediction.public_id, name]))


# --- 1. Depiction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "smiles",
    [RING_40, "O=C1" + "C" * 40 + "C1", "C1" + "C" * 20 + "O" + "C" * 19 + "C1"],
    ids=["carbons", "ketone", "ether"],
)
def test_a_40_atom_ring_is_drawn_at_once(client, small_budgets, store_predictions, smiles):
    (ring,) = store_predictions([smiles])
    for name, kind in (("molecule.svg", "image/svg+xml"), ("molecule.png", "image/png")):
        response, seconds = _timed(_download, client, ring, name)
        assert response.status_code == 200 and response["Content-Type"].startswith(kind)
        assert seconds < 10, f"{name} took {seconds:.1f} s"
        if name == "molecule.svg":
            svg = response.content.decode()
            assert "<path" in svg and rendering.PLACEHOLDER not in svg  # RDKit's own layout


def test_coordgen_is_stopped_at_the_budget_where_the_ring_rule_misses(small_budgets, monkeypatch):
    """The enforced budget, not only the ring-size rule: with the rule off, CoordGen starts on
    the 40-atom ring, is killed after 0.3 s, and RDKit's own layout draws it."""
    monkeypatch.setattr(bounded, "COORDGEN_MAX_RING", 10_000)
    mol = Chem.MolFromSmiles(RING_40)
    svg, seconds = _timed(rendering.molecule_svg, mol)
    assert "<path" in svg and rendering.PLACEHOLDER not in svg
    assert seconds < 10
    # The next picture is drawn by a fresh helper, as before.
    aspirin = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    assert rendering.PLACEHOLDER not in rendering.molecule_svg(aspirin)


def test_no_layout_in_time_gives_a_placeholder_picture(client, settings, store_predictions):
    settings.DEPICTION_BUDGET_SECONDS = 0  # every layout is over budget
    (prediction,) = store_predictions(["CCO"])
    svg = _download(client, prediction, "molecule.svg")
    assert svg.status_code == 200 and rendering.PLACEHOLDER in svg.content.decode()
    png = _download(client, prediction, "molecule.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_a_normal_picture_is_what_coordgen_draws_in_process():
    """The helper process changes where the layout is computed, not the picture."""
    from rdkit.Chem import rdDepictor
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles("CN1CCCC1c1cccnc1")
    copy = Chem.Mol(mol)
    rdDepictor.SetPreferCoordGen(True)
    rdDepictor.Compute2DCoords(copy)
    drawer = rdMolDraw2D.MolDraw2DSVG(*rendering.MOLECULE_SIZE)
    drawer.DrawMolecule(rdMolDraw2D.PrepareMolForDrawing(copy))
    drawer.FinishDrawing()
    assert rendering.molecule_svg(mol) == drawer.GetDrawingText()


# --- The helper processes (chemreport/bounded.py) -----------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and ") Z" not in Path(f"/proc/{pid}/stat").read_text()


def _helper_pid() -> int:
    bounded.call("highlight", "CCO", Chem.MolFromSmarts("CO").ToBinary(), 10, budget=30)
    return bounded._idle[-1].process.pid


def test_a_helper_over_budget_is_killed_and_an_error_keeps_it():
    ring = Chem.MolFromSmiles(RING_40)
    pid = _helper_pid()
    with pytest.raises(bounded.HelperError, match="pickle"):
        bounded.call("highlight", "CCO", b"not a molecule", 10, budget=30)
    assert _helper_pid() == pid  # an RDKit error is an answer: the helper is kept
    with pytest.raises(bounded.OverBudget):
        bounded.call("layout", ring.ToBinary(), True, budget=0.2)  # CoordGen: minutes
    assert not _alive(pid)  # killed, not left computing
    assert _helper_pid() != pid  # a fresh one answers


def test_a_helper_started_from_a_short_lived_thread_is_kept():
    """Helpers are started by one long-lived thread: one started for a request thread (as
    runserver's or Huey's) does not die with it (PR_SET_PDEATHSIG follows the thread)."""
    bounded._close_idle()
    pids = []
    thread = threading.Thread(target=lambda: pids.append(_helper_pid()))
    thread.start()
    thread.join()
    time.sleep(0.2)
    assert _alive(pids[0]) and _helper_pid() == pids[0]


def test_a_helper_that_dies_costs_a_picture_nothing_but_time():
    """A helper killed from outside (a crash, the OOM killer) is an error for that call, and
    the picture is drawn by the next layout or a fresh helper, never a 500."""
    _helper_pid()
    bounded._idle[-1].process.kill()
    aspirin = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    assert rendering.PLACEHOLDER not in rendering.molecule_svg(aspirin)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_helper_busy_with_a_long_call_dies_with_its_process():
    """A gunicorn worker killed at its timeout takes its helper with it, even mid-call."""
    code = (
        "import sys; from rdkit import Chem; from chemreport import bounded;"
        f"ring = Chem.MolFromSmiles({RING_40!r}).ToBinary();"
        "bounded.call('layout', ring, False, budget=30);"
        "print(bounded._idle[-1].process.pid, flush=True);"
        "bounded.call('layout', ring, True, budget=3600)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    helper = int(process.stdout.readline())
    time.sleep(0.5)  # the helper is deep in CoordGen now
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helper)


# --- 2. Substructure search -------------------------------------------------------------


def test_the_torus_search_stops_at_its_budget_and_says_what_was_searched(
    client, small_budgets, store_predictions
):
    store_predictions([*NORMAL, TORUS, "CCN"])
    response, seconds = _timed(
        client.get, reverse("predictions:gallery"), {"q": SLOW_PATTERN, "mode": "substructure"}
    )
    assert response.status_code == 200
    assert seconds < 10, f"the search took {seconds:.1f} s"
    html = response.content.decode()
    assert "ran out of its 0.5 s time budget after checking" in html


def test_a_match_too_costly_to_highlight_is_listed_with_its_plain_picture(
    client, small_budgets, store_predictions
):
    """A 25-atom path fits the torus (found at once), but listing its matches to highlight
    them took 59 s (every path covers the same 25 atoms): the card shows the stored picture."""
    (torus,) = store_predictions([TORUS])
    path = "~".join(["[C;X4]"] * 25)
    response, seconds = _timed(
        client.get, reverse("predictions:gallery"), {"q": path, "mode": "substructure"}
    )
    assert response.status_code == 200 and seconds < 10, f"{seconds:.1f} s"
    html = response.content.decode()
    assert f"/predictions/{torus.public_id}/molecule.png" in html  # no highlight drawn
    assert "search-match" not in html


def test_search_budget_reports_how_far_it_got(small_budgets, store_predictions):
    """Candidates are checked in the gallery's order: the ones before the torus are checked."""
    store_predictions([LONG_CHAINS[0], TORUS, LONG_CHAINS[1]])
    pattern = search.substructure_query(SLOW_PATTERN)
    hits = search.substructure_hits(Prediction.objects.order_by("pk"), pattern)
    assert hits.pks == []
    assert "after checking 1 of 3 candidate structures (0 matching); 2 were not" in hits.truncated


def test_the_budget_note_travels_with_the_page(small_budgets, store_predictions):
    """A batch's results page keeps only the page: the note is on it too."""
    store_predictions([LONG_CHAINS[0], TORUS])
    page, note = search.search_page(
        Prediction.objects.order_by("pk"),
        query=SLOW_PATTERN,
        mode="substructure",
        threshold=0.5,
        text_fields=("title",),
        per_page=10,
    )
    assert "after checking 1 of 2 candidate structures" in note
    assert page.search_note == note


def test_a_search_within_budget_is_complete(small_budgets, store_predictions):
    stored = store_predictions(NORMAL)
    pattern = search.substructure_query("c1ccccc1")
    hits = search.substructure_hits(Prediction.objects.order_by("pk"), pattern)
    assert hits.truncated == ""
    assert hits.pks == [p.pk for p in stored if "c1ccccc1" in p.canonical_smiles]


# --- 9. Drawing failures ---------------------------------------------------------------


def test_a_strained_molecule_is_found_and_drawn_not_a_500(client, small_budgets, store_predictions):
    (strained,) = store_predictions([STRAINED])
    response = client.get(reverse("predictions:gallery"), {"q": "C=C", "mode": "substructure"})
    assert response.status_code == 200
    assert f"/predictions/{strained.public_id}/" in response.content.decode()
    for name in ("molecule.svg", "molecule.png", "alerts.svg"):
        assert _download(client, strained, name).status_code == 200, name


def test_highlight_falls_back_when_rdkit_cannot_draw_it():
    canonical = Chem.MolToSmiles(Chem.MolFromSmiles(STRAINED))
    svg = search.highlight_svg(canonical, search.substructure_query("C=C"))
    assert svg.startswith("<svg") and "#FF7F7F" in svg  # drawn, with its matches highlighted


# --- 4. API throttle --------------------------------------------------------------------


@pytest.fixture
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def test_a_forged_forwarded_for_does_not_reset_the_api_limit(client, settings, fresh_throttle):
    """DJANGO_PROXY_COUNT unset (0): X-Forwarded-For is not the client's address."""
    settings.API_ANON_RATE = "3/min"
    statuses = [
        client.get("/api/v1/model", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_behind_one_proxy_the_client_is_the_address_it_added(client, settings, fresh_throttle):
    settings.API_ANON_RATE = "2/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def call(forwarded: str) -> int:
        return client.get("/api/v1/model", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The client forges the first entries; the proxy appends the address it saw.
    assert [call(f"10.0.0.{n}, 203.0.113.7") for n in range(3)] == [200, 200, 429]
    assert call("203.0.113.8") == 200  # another client has its own count


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="counts are in Redis")
def test_throttle_counts_are_shared_by_the_processes_of_a_host(client, settings, fresh_throttle):
    """Without Redis the counters are files under SMILES_VAR_DIR: another process (a second
    gunicorn worker) sees this one's calls."""
    settings.API_ANON_RATE = "5/min"
    for _ in range(3):
        assert client.get("/api/v1/model").status_code == 200
    code = (
        "import django; django.setup();"
        "from django.core.cache import cache;"
        "print(len(cache.get('throttle_anon_127.0.0.1') or []))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smiles_site.settings_test"}
    env["SMILES_VAR_DIR"] = str(settings.VAR_DIR)
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.strip() == "3", out.stderr[-2000:]


# --- 3. Slow request bodies: gunicorn only behind a buffering proxy ---------------------


def test_compose_publishes_only_the_buffering_proxy():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    proxy, web = services["proxy"], services["web"]
    assert proxy["image"].startswith("nginx:")
    assert "./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert web["environment"]["DJANGO_PROXY_COUNT"] == "1"  # one proxy adds an entry
    config = (ROOT / "docker" / "nginx.conf").read_text()
    for line in (
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "set $web http://web:8000;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    ):
        assert line in config
