# syntax=docker/dockerfile:1
# lynq-bridge: multi-stage build. The builder turns the project and every dependency into wheels;
# the runtime installs them offline into a slim image with the tools the Git adapter shells out
# to (git, ssh), CA certificates for https remotes and databases, and tini as PID 1 so that
# SIGTERM reaches the daemon and git/ssh children are reaped.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /src
# .dockerignore admits only what the wheel needs (pyproject.toml, README.md, the packages).
COPY . .
RUN pip wheel --no-cache-dir . -w /wheels


FROM ${PYTHON_IMAGE}

RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

# The wheels are bind-mounted, not copied, so they do not stay in a layer of the image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels lynq-bridge

# Non-root with a fixed UID/GID, like Flux's controllers (65532), so that securityContext
# runAsUser/fsGroup in the Deployment match the image and ssh finds a passwd entry.
RUN groupadd --system --gid 65532 lynq-bridge \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/lynq-bridge --create-home \
        --shell /usr/sbin/nologin lynq-bridge \
 && mkdir -p /var/cache/lynq-bridge /etc/lynq-bridge \
 && chown 65532:65532 /var/cache/lynq-bridge

# The Git mirror lives under $XDG_CACHE_HOME/lynq-bridge when git.workDir is unset. It is
# disposable (the remote is the only state), so a volume (an emptyDir in Kubernetes) is enough
# and keeps the root filesystem read-only.
ENV HOME=/home/lynq-bridge \
    XDG_CACHE_HOME=/var/cache/lynq-bridge \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/cache/lynq-bridge"]

USER 65532:65532
WORKDIR /home/lynq-bridge

# /healthz, /readyz and /metrics (Prometheus).
EXPOSE 8080

ENTRYPOINT ["/usr/bin/tini", "--", "lynq-bridge"]
CMD ["run", "--config", "/etc/lynq-bridge"]
