# The base is overridable (docker compose build --build-arg BASE_IMAGE=...), for machines that
# build their own instead of pulling one: any image with python3 (3.11+) and its venv module.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/syndicate/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md ./
COPY syndicate ./syndicate
COPY workers ./workers
# A virtualenv of its own: works the same on a distribution's Python, which refuses pip installs
# into the system (PEP 668).
RUN python3 -m venv /opt/syndicate && /opt/syndicate/bin/pip install --no-cache-dir ".[flower]" \
    && useradd --create-home syndicate && mkdir /data && chown syndicate /data
COPY config ./config
# The non-root user owns nothing but /data (the scheduler's state) and its home; the code and the
# config stay read-only to it.
USER syndicate
ENV SYNDICATE_CONFIG=/app/config/syndicate.toml
EXPOSE 8080
CMD ["syndicate", "web", "--host", "0.0.0.0", "--port", "8080"]
