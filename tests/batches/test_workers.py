"""Telling a dead worker from a live one (batches/worker/holders.py), and taking over its batch.

Real processes: a child that has exited is gone; this process and its parent are not.
"""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from batches import selectors
from batches import services as batch_services
from batches.models import Batch, BatchRow
from batches.tasks import run_batch
from batches.worker import holders


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _host() -> str:
    return holders.worker_id().rsplit(":", 2)[0]


def test_ids_name_host_pid_and_start():
    host, pid, token = holders.worker_id().rsplit(":", 2)
    assert int(pid) == os.getpid() and len(token) == 8
    lease = holders.lease_id()
    assert lease.startswith(holders.worker_id() + "/") and len(lease) <= 64
    assert holders.lease_id() != lease  # one per run: two threads never share a lease


def test_only_a_process_of_this_host_that_no_longer_runs_is_gone():
    assert not holders.is_gone(holders.worker_id())
    assert not holders.is_gone(holders.lease_id())
    assert not holders.is_gone(f"{_host()}:{os.getppid()}:0a1b2c3d")  # alive, another process
    assert holders.is_gone(f"{_host()}:{_exited_pid()}:0a1b2c3d/abc123")
    # Our own pid with another start token: an earlier process that had this pid died.
    assert holders.is_gone(f"{_host()}:{os.getpid()}:0a1b2c3d")
    assert not holders.is_gone(f"another-host:{_exited_pid()}:0a1b2c3d")  # only its lease tells
    for other in ["", "3f2a9c0d1e", "another-worker", f"{_host()}:notapid:x"]:
        assert not holders.is_gone(other)


@pytest.mark.django_db
def test_a_batch_whose_holder_is_gone_is_taken_over_before_its_lease_ends(predictor):
    batch = batch_services.batch_create(text="CCO\nCCN\n")
    until = timezone.now() + timedelta(minutes=10)
    dead = f"{_host()}:{_exited_pid()}:0a1b2c3d/abc123"
    Batch.objects.filter(pk=batch.pk).update(
        status=Batch.Status.RUNNING, lease_owner=dead, lease_until=until
    )
    live = batch_services.batch_create(text="CCO\n")
    Batch.objects.filter(pk=live.pk).update(
        status=Batch.Status.RUNNING, lease_owner=holders.lease_id(), lease_until=until
    )
    assert selectors.batch_ids_to_resume() == [str(batch.pk)]
    assert run_batch.call_local(str(batch.pk)) == Batch.Status.DONE
    assert BatchRow.objects.filter(batch=batch).count() == 2
    assert run_batch.call_local(str(live.pk)) == Batch.Status.RUNNING  # a live holder keeps it
    HUEY.flush()  # the retry it scheduled for when that lease ends
