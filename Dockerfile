FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY syndicate ./syndicate
COPY workers ./workers
RUN pip install --no-cache-dir ".[flower]" && useradd --create-home syndicate && mkdir /data \
    && chown syndicate /data
COPY config ./config
USER syndicate
ENV SYNDICATE_CONFIG=/app/config/syndicate.toml
EXPOSE 8080
CMD ["syndicate", "web", "--host", "0.0.0.0", "--port", "8080"]
