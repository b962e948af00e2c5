"""gunicorn settings for production: several workers behind a TLS proxy on the same host.

    gunicorn -c gunicorn.conf.py

Environment: SCREENING_BIND (default 127.0.0.1:8000), SCREENING_WORKERS (default 2 x cores + 1),
and the service's own SCREENING_* settings (see README and docs/deploy.md).
"""

import multiprocessing
import os

wsgi_app = "screening:create_app()"
bind = os.environ.get("SCREENING_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SCREENING_WORKERS", multiprocessing.cpu_count() * 2 + 1))
preload_app = True  # the schema is created or upgraded once, before the workers fork
timeout = 60
graceful_timeout = 30
forwarded_allow_ips = "127.0.0.1"
# No referrer and no user agent; intake link tokens are masked by the app's log filter.
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"


def post_fork(server, worker):
    """Connections opened while preloading belong to the master process: a worker opens its own."""
    from screening.db import db

    app = server.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)


def when_ready(server):
    """Rate limits are counted in the app's database by default, shared by every worker. Counted in
    process memory (an explicit RATELIMIT_STORAGE_URI=memory://), each worker counts on its own and
    every limit is that many times looser: say so at start-up."""
    app = server.app.wsgi()  # loaded already (preload_app)
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "")
    if server.cfg.workers > 1 and storage.startswith("memory://"):
        server.log.warning(
            "Rate limits are kept in each worker's memory (RATELIMIT_STORAGE_URI=memory://), so with %d workers "
            "a client may make up to %d times the configured attempts. Unset SCREENING_RATELIMIT_STORAGE_URI "
            "to count them in the app's database (see docs/deploy.md).", server.cfg.workers, server.cfg.workers)
