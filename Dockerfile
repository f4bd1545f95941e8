# syntax=docker/dockerfile:1
# One image for the API (`serve`, the default) and for the per-run init/sidecar containers
# (`walkai-jobs sidecar ...`).

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Wheels for the project and every dependency, so the final stage needs no build tools.
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels walkai-jobs
RUN groupadd --system --gid 10001 walkai \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin walkai \
    && mkdir /app \
    && chown 10001:10001 /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["walkai-jobs"]
CMD ["serve"]
