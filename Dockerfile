# syntax=docker/dockerfile:1.7
#
# One small image for every subcommand: `proxy` (the sidecar, default), `webhook`, `inject`,
# `check`, `demo`. Distroless runtime: Node 24 and nothing else (no shell, no package manager),
# running as the numeric non-root user 65532 so `runAsNonRoot` can be verified (the kubelet refuses a
# non-numeric user: "image has non-numeric user … cannot verify user is non-root", kubernetes/kubernetes
# pkg/kubelet/kuberuntime/security_context_others.go).
#
# Both base images are pinned by tag; pin them by digest in your registry (`@sha256:…`) once
# pulled. They have not been pulled while writing this file (no container engine in the
# project's CI): test/image/runtime-tree.test.ts reproduces the runtime stage instead — a
# production-only `npm ci` of the same lockfile plus `dist/` — and starts `proxy` and `webhook`
# from it, so a runtime import that only a devDependency satisfies fails the tests.

ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# --- build: all dependencies, compile TypeScript to dist/ ------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: the runtime node_modules, production dependencies only -----------------------
# --ignore-scripts: no runtime dependency needs an install script (the test installs the same
# way); the `node` devDependency, which would download a second Node, is omitted entirely.
FROM ${BUILD_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ----------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="auth-shim" \
      org.opencontainers.image.description="Kubernetes sidecar that translates Claude subscription OAuth tokens and Anthropic API keys for a LiteLLM proxy" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/auth-shim/auth-shim" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs24-debian12:nonroot"
WORKDIR /app
# package.json is needed at run time: `"type": "module"` makes dist/*.js ES modules.
COPY --from=prod-deps --chown=0:0 /app/package.json ./package.json
COPY --from=prod-deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
ENV NODE_ENV=production
# Files owned by root, process not root: the image cannot be modified by what runs in it
# (the chart and the sidecar also set readOnlyRootFilesystem).
USER 65532:65532
# Sidecar (loopback only, documentation), admin/metrics, webhook HTTPS.
EXPOSE 8787 9464 8443
# Kubernetes ignores HEALTHCHECK (the CRI has no health check; the kubelet runs only the pod spec's probes,
# kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes): /healthz, /readyz.
# Node handles SIGTERM itself (src/lifecycle/signals.ts), so no init process is needed as PID 1.
# --max-semi-space-size=4: a 4 MiB young generation instead of V8's 16 MiB keeps RSS after load near half of
# what the default reaches, and serves ~35 % more requests per CPU second than 1 MiB (bench/notes.md,
# docs/PERFORMANCE.md). The heap cap is NOT set here: the injector sets
# NODE_OPTIONS=--max-old-space-size from the container's memory limit.
# --disable-sigusr1: SIGUSR1 would open Node's unauthenticated inspector on 127.0.0.1:9229, which every
# container of a pod shares; code evaluated there reads the credentials (issue 15). The injector repeats
# it in NODE_OPTIONS, the chart in the webhook's env, for images rebuilt with another entrypoint.
ENTRYPOINT ["/nodejs/bin/node", "--disable-sigusr1", "--max-semi-space-size=4", "/app/dist/cli.js"]
# The injected sidecar runs `args: ["proxy"]` (src/injector/sidecar.ts); the webhook `["webhook"]`.
CMD ["proxy"]
