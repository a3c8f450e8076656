"""
WSGI config for smiles_site project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smiles_site.settings")

application = get_wsgi_application()

# scripts/run.sh asks for this: runserver has no post-fork hook (gunicorn loads the model in
# post_worker_init, after its fork; never set this with gunicorn's preload_app).
if os.environ.get("WEB_PRELOAD_MODEL") == "true":
    from predictions.serving import warm_up

    warm_up()
