# enrichd container image. Build from the repository root:
#
#   docker build -t enrichd:$(git describe --always --dirty) .
#
# Runs as uid/gid 10001, reads /etc/enrichd/config.yaml (the repository's config.yaml is baked
# in as the default; Kubernetes mounts its own over it), listens on 8080 (the API) and, when the
# configuration sets server.admin_bind as deploy/k8s does, on 9090 (/metrics, /healthz, /readyz,
# admin routes). See
# deploy/README.md. Pin the base images by digest (FROM image:tag@sha256:...) for byte-for-byte
# reproducible builds; the Rust build itself is pinned by Cargo.lock (--locked).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# --- planner: reduce the source tree to its Cargo skeleton (manifests, lock file, stub targets) --
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS planner
WORKDIR /src
COPY . .
RUN sh deploy/docker/cargo-skeleton.sh /src /skeleton

# --- builder -------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never
WORKDIR /src
# 1. Dependencies only, against stub sources: this layer is reused until Cargo.toml of any
#    workspace crate or Cargo.lock changes.
COPY --from=planner /skeleton/ ./
RUN cargo build --release --locked
# 2. The real sources. Stubs were compiled after the sources' mtimes, so touch every source to
#    make cargo rebuild the workspace crates (and only them).
COPY . .
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin enrichd \
    && install -D -m 0755 target/release/enrichd /out/enrichd \
    && /out/enrichd --version \
    && /out/enrichd check-config --config config.yaml

# --- runtime -------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to the vendor APIs (rustls verifies against the system roots).
# Unpinned on purpose: the point release of the base image decides, and security fixes land.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 enrichd \
    && useradd --system --uid 10001 --gid 10001 \
         --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin enrichd \
    && mkdir -p /etc/enrichd /var/lib/enrichd/connectors.d \
    && chown -R 10001:10001 /var/lib/enrichd

COPY --from=builder /out/enrichd /usr/local/bin/enrichd
COPY config.yaml /etc/enrichd/config.yaml
COPY LICENSE /usr/share/doc/enrichd/LICENSE

LABEL org.opencontainers.image.title="enrichd" \
      org.opencontainers.image.description="User-profile enrichment service" \
      org.opencontainers.image.licenses="Apache-2.0"

# The working directory is the one place the service writes: the runtime connector state file
# (./enrichd-state.json, used only without Redis). Relative paths of the configuration resolve
# here too (the default connectors_dir: connectors.d).
WORKDIR /var/lib/enrichd
USER 10001:10001
# 8080: the API (server.bind). 9090: the admin listener (server.admin_bind).
EXPOSE 8080 9090
# For `docker run`; Kubernetes ignores it and uses the probes of deploy/k8s. bash's /dev/tcp
# keeps curl out of the image. /healthz on the admin port 9090; only when nothing listens there
# (the baked-in config.yaml sets no admin_bind), on 8080. With an admin listener up, 8080 does
# not serve /healthz (404), so it cannot pass for a dead admin listener.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "for port in 9090 8080; do if exec 3<>/dev/tcp/127.0.0.1/$port; then printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3; head -n 1 <&3 | grep -q ' 200 '; exit; fi; done 2>/dev/null; exit 1"]
ENTRYPOINT ["/usr/local/bin/enrichd"]
CMD ["serve", "--config", "/etc/enrichd/config.yaml"]
