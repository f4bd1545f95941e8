# syntax=docker/dockerfile:1
# One image for the API (`walkai-jobs serve`, the default) and for every run's init and upload
# sidecar containers (`walkai-jobs sidecar ...`): deploy/ names it for both.
#
#   docker build -t ghcr.io/walkai/jobs-api:0.1.0 .
#
# Stages: GraphiQL's files from npm (served by the app, so the IDE needs no CDN); the
# project and its dependencies in a virtualenv; a runtime stage that only copies that
# virtualenv onto a slim Python and runs as an unprivileged user.

FROM node:20-slim AS graphiql
WORKDIR /graphiql
COPY app/graphiql/package.json app/graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund --silent

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel
# Into the installed package (run outside /src so that the installed `app` is imported).
COPY --from=graphiql /graphiql/node_modules /tmp/node_modules
RUN cd / && /opt/venv/bin/python -m app.graphiql vendor /tmp/node_modules

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    WALKAI_LOG_FORMAT=json
RUN groupadd --system --gid 10001 walkai \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin walkai \
    && mkdir /app \
    && chown 10001:10001 /app
COPY --from=build /opt/venv /opt/venv
# The contract's operation names are the API's metric labels (`WALKAI_CONTRACT_DIR`).
COPY frontend_contract /app/frontend_contract
ENV WALKAI_CONTRACT_DIR=/app/frontend_contract
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["walkai-jobs"]
CMD ["serve", "--host", "0.0.0.0"]
