# Timelines: the web app (gunicorn) and its workers (qcluster) from one image.
# deploy/compose.yaml runs it with PostgreSQL, Redis and WAHA; docs/operators-waha.md explains.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml ./
COPY timelines ./timelines
COPY whatsapp ./whatsapp
COPY webhooks ./webhooks
COPY credits ./credits
COPY ops ./ops
COPY templates ./templates
COPY manage.py gunicorn.conf.py ./
RUN pip install . \
 && SECRET_KEY=only-for-collectstatic python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 timelines \
 && mkdir media metrics && chown timelines media metrics
# media/ (MEDIA_ROOT) and metrics/ (PROMETHEUS_MULTIPROC_DIR) are the directories the app
# writes; a volume mounted there starts with this owner.
USER timelines

EXPOSE 8000
# Workers: "python manage.py qcluster"; one-off: "python manage.py migrate".
# gunicorn.conf.py: 4 sync workers on :8000, access log on stdout, secrets redacted from its logs.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "timelines.wsgi"]
