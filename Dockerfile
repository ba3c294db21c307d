# syntax=docker/dockerfile:1
#
# The image of every service: which one is chosen by the build arguments. Build from the
# repository root, which is the build context:
#
#     docker build --build-arg SERVICE=profile --build-arg HTTP_PORT=8001 -t mentorship-profile .
#
# docker compose does this for every service (`make up`): a service is one entry in
# docker-compose.yml with its two build arguments.
#
#   SERVICE    the folder under services/ (profile, matching, ...); the service's distribution
#              is `<SERVICE>-service` and its console script of the same name starts it
#   HTTP_PORT  the port the service listens on (the default of its settings), exposed and
#              probed by the health check
#
# The service finds its SQL migrations next to its source tree (services/<SERVICE>/migrations,
# resolved from the package's __file__) and uv installs the workspace packages in editable mode,
# so the image keeps the repository's layout under /app: /app/shared, /app/services/<SERVICE>
# and the virtual environment /app/.venv. The builder and the runtime stage use the same base
# image because the venv links to its interpreter.
#
# `COPY --parents` needs the Dockerfile frontend 1.20 or later, which the syntax line above
# fetches.

ARG SERVICE
ARG HTTP_PORT

############################ builder: resolve and install with uv ############################
FROM python:3.11-slim AS builder
ARG SERVICE
ARG HTTP_PORT

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

# Use the image's own Python (never download one), copy files out of the cache mount instead
# of hard-linking them, compile the installed packages, and put the venv where the runtime
# stage expects it.
ENV UV_PYTHON=/usr/local/bin/python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# 1. Third-party dependencies only, so this layer is rebuilt only when uv.lock or a
#    pyproject.toml changes. Every workspace member's pyproject.toml is copied, at its path, so
#    that uv sees the workspace as it was locked (`--frozen` would do without them, `--locked`
#    would not), and a new service needs no line here. `--package` limits the install to this
#    service and what it depends on (mentorship-shared); `--no-dev` leaves out the root's
#    default "dev" group (pytest, mypy, ...).
COPY pyproject.toml uv.lock ./
COPY --parents shared/pyproject.toml services/*/pyproject.toml infra/*/pyproject.toml ./
RUN if [ -z "$SERVICE" ] || [ -z "$HTTP_PORT" ] || [ ! -f "services/$SERVICE/pyproject.toml" ]; then \
        echo "build with --build-arg SERVICE=<a folder of services/> --build-arg HTTP_PORT=<its port>" \
             "(got SERVICE='$SERVICE', HTTP_PORT='$HTTP_PORT')" >&2; \
        exit 1; \
    fi
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "${SERVICE}-service"

# 2. The workspace packages this service runs: the shared library and the service itself. The
#    service's console script also gets the name `serve`, which the runtime stage starts (no
#    service's own script, always `<name>-service`, can have that name).
COPY shared/ shared/
COPY services/${SERVICE}/ services/${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "${SERVICE}-service" \
 && ln -s "${SERVICE}-service" /app/.venv/bin/serve \
 && python -m compileall -q --invalidation-mode checked-hash shared/src "services/${SERVICE}/src"

################################ runtime: no uv, no compilers #################################
FROM python:3.11-slim AS runtime
ARG SERVICE
ARG HTTP_PORT

LABEL org.opencontainers.image.title="mentorship-${SERVICE}" \
      org.opencontainers.image.description="Mentorship matching: the ${SERVICE} service."

RUN groupadd --system --gid 10001 mentorship \
 && useradd --system --uid 10001 --gid mentorship --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin mentorship

WORKDIR /app
# Owned by root and read-only for the service user: the process cannot change its own code.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/shared /app/shared
COPY --from=builder /app/services/${SERVICE} /app/services/${SERVICE}

# HTTP_HOST: listen on every interface of the container (the settings default is loopback).
ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=${HTTP_PORT} \
    LOG_FORMAT=json

USER 10001:10001

EXPOSE ${HTTP_PORT}

# Liveness only (/readyz also checks PostgreSQL and Kafka). Slim images have no curl, so the
# probe is a line of Python; urlopen raises, and the probe fails, on any non-2xx answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['HTTP_PORT'] + '/healthz', timeout=4)"]

# The service's console script (`<SERVICE>-service`, the same as `python -m <SERVICE>_service`).
# Configuration comes from the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, ...): see
# docs/configuration.md and docker-compose.yml.
CMD ["serve"]
