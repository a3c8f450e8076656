"""The production path: gunicorn sync workers, DEBUG off, WhiteNoise static files."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


@pytest.fixture
def gunicorn_server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="smiles_site.settings",
        DJANGO_SECRET_KEY="g" * 60,
        DJANGO_SECURE="false",
        SMILES_VAR_DIR=str(tmp_path / "var"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
    )
    python = sys.executable
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run([python, "manage.py", *command, "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "smiles_site.wsgi:application", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            time.sleep(0.5)
            if server.poll() is not None:
                pytest.fail("gunicorn exited:\n" + server.stdout.read())
            try:
                get(base + "/")
                break
            except OSError:
                continue
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_serves_pages_static_files_and_friendly_404(gunicorn_server):
    status, html = get(gunicorn_server + "/")
    assert status == 200 and 'name="smiles"' in html
    css = html.split('href="/static/css/', 1)[1].split('"', 1)[0]
    assert "." in css and css != "site.css"  # hashed name from the manifest storage
    assert get(f"{gunicorn_server}/static/css/{css}")[0] == 200
    status, html = get(gunicorn_server + "/no-such-page/")
    assert status == 404 and "Page not found" in html
    assert "Traceback" not in html  # DEBUG is off
