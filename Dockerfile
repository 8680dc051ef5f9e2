# The codemint worker image: the project installed, ready to run flows or serve a Prefect worker.
# Untrusted code never runs here: stages send it to the sandbox containers (sandbox/Dockerfile)
# through the Docker socket mounted from the host.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

RUN apt-get update && apt-get install -y --no-install-recommends git docker.io \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/codemint
COPY pyproject.toml README.md ./
COPY codemint ./codemint
COPY flows ./flows
COPY tasks ./tasks
COPY sandbox ./sandbox
COPY deployments ./deployments
RUN pip install --no-cache-dir .
ENV PREFECT_LOGGING_EXTRA_LOGGERS=codemint \
    PREFECT_SERVER_ANALYTICS_ENABLED=false
WORKDIR /work
ENTRYPOINT ["codemint"]
CMD ["--help"]
