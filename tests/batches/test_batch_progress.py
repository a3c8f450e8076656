"""Honest live progress, with a real `run_huey` worker and a real web server (tests/live_site.py).

A list pasted on the home page becomes a batch; the progress fragment, polled as htmx does,
must show rows counted before the first chunk (here: the whole batch) is stored, and its last
update must carry the bad-rows table and the summary panel, swapped in out of band.
"""

from pathlib import Path

import pytest

from tests.batches.test_batch_worker import molecules
from tests.live_site import LiveSite, batch_id_of

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path):
    # One chunk of 500 rows holds the whole batch: any count below the total seen on the page
    # was reported from inside the chunk, before a single row was stored.
    live = LiveSite(ROOT, tmp_path, BATCH_CHUNK_ROWS="500", BATCH_INFERENCE_SIZE="32")
    live.manage("migrate", "-v", "0")
    try:
        live.start_web()
        live.start_worker()
        yield live
    finally:
        live.stop()


def test_progress_shows_counts_inside_the_first_chunk_and_the_final_outcome(site):
    lines = [f"{smiles} M{n}" for n, smiles in enumerate(molecules()[:199], 1)] + ["C1CC( bad"]
    batch = batch_id_of(site.post_form("/", {"smiles": "\n".join(lines)}))
    seen = site.poll_progress(batch)

    *running, (_, final_status, final_count, final) = seen
    counts = [count for _, _, count, _ in running]
    assert final_status == 286 and final_count == 200
    assert any(0 < count < 200 for count in counts), counts  # inside the one chunk
    assert counts == sorted(counts)  # never goes back
    words = " ".join(body for *_, body in running)
    assert "(predicting)" in words or "loading the model" in words
    # The last update brings the bad rows and the summary without a reload.
    assert '<div id="batch-outcome" hx-swap-oob="true">' in final
    assert 'class="bad-rows"' in final and "C1CC(" in final
    assert 'id="summary-heading"' in final and "Finished" in final
