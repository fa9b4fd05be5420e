# The campaign engine's service image: one image for `campaignctl migrate`, `serve` and `worker`
# (docker-compose.yml picks the command). It needs an external PostgreSQL with pg_cron,
# given by DATABASE_URL; the embedded cluster of `campaignctl run` is not used in a container.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml README.md ./
COPY service/ ./service/
COPY db/ ./db/

# Editable install on purpose: service/migrate.py finds the SQL through
# Path(__file__).resolve().parent.parent / "db", and db/ is not part of the Python
# package. A regular install would put service/ in site-packages, away from db/;
# installed editable, the package is imported from /app/service, so /app/db is found.
RUN pip install --no-cache-dir -e .

# Run as an unprivileged user; /app stays owned by root (read-only for the service).
RUN groupadd --system app \
 && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
USER app

EXPOSE 8000

CMD ["campaignctl", "serve", "--host", "0.0.0.0", "--port", "8000"]
