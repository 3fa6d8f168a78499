# dialogbot: a multi-stage image (README: Running it in production). Build: docker build -t dialogbot .
# Stage 1 builds the wheel (with its compiled catalogs) and the wheels of every dependency.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir "setuptools>=77" wheel "babel>=2.14,<3" \
    && pip wheel --no-cache-dir --no-build-isolation --wheel-dir /wheels .

# Stage 2: only the installed wheels, run as a user without rights on them.
FROM python:3.11-slim
RUN useradd --system --home-dir /var/lib/dialogbot --create-home dialogbot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels dialogbot && rm -rf /wheels
USER dialogbot
# The working directory holds config.toml (mounted) and, with SQLite, the database file.
WORKDIR /var/lib/dialogbot
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
ENTRYPOINT ["dialogbot"]
CMD ["run", "--metrics", "0.0.0.0:9108", "--log-format", "json"]
