"""gunicorn settings: sync workers, the model loaded after fork in each worker.

torch must not start its thread pools before gunicorn forks (fork-after-threads deadlocks),
so nothing is preloaded; each worker loads the checkpoint once the Django app is loaded in it
(`post_worker_init`, after the fork) and limits torch to
its share of the cores (settings.TORCH_THREADS = cores // WEB_CONCURRENCY).
"""

import multiprocessing
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", max(1, multiprocessing.cpu_count() // 2)))
os.environ.setdefault("WEB_CONCURRENCY", str(workers))
worker_class = "sync"
preload_app = False
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"


def post_worker_init(worker):
    # Runs in the worker after the fork and after Django is set up: load the model now, so
    # the first request does not pay for it.
    from chemreport import bounded
    from predictions.serving import warm_up

    bounded.start_helper()  # RDKit's budgeted helper process imports while the model loads
    warm_up()  # the model and the domain's training fingerprints
