# syntax=docker/dockerfile:1
# dialogbot: a multi-stage image (README: Running it in production). Build: docker build -t dialogbot .
# Stage 1: the wheels of the exact versions in requirements.lock (their hashes checked), and the
# bot's own wheel, whose gettext catalogs are compiled while it is built (setup.py).
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock ./
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.lock \
    && pip install --no-cache-dir --no-index --find-links /wheels setuptools wheel babel
COPY . .
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# Stage 2: only the installed wheels (no compiler, no source tree), run as a user without
# rights on them. /wheels holds one version of each package, the locked one, so the runtime
# dependencies installed are exactly the locked ones; the development tools are left out.
FROM python:3.11-slim
RUN useradd --system --home-dir /var/lib/dialogbot --create-home dialogbot
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels dialogbot
USER dialogbot
# The working directory holds config.toml (mounted) and, with SQLite, the database file.
WORKDIR /var/lib/dialogbot
EXPOSE 9108
# /healthz answers while the process lives (also while it waits for the database).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
# SIGTERM lets every update in flight finish its reply; give it time (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dialogbot"]
CMD ["run", "--metrics", "0.0.0.0:9108", "--log-format", "json"]
