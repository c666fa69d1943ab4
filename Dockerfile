# threelo as a container image.
#
#   docker build -t threelo .
#   docker run --rm threelo gen-secret
#   docker run --rm --env-file threelo.env -e THREELO_CLIENT_SECRET_FILE=/run/secrets/client_secret \
#     -v /etc/threelo/credentials/client_secret:/run/secrets/client_secret:ro ... threelo check-config
#
# docs/self-hosting.md has the whole walk-through (secrets, Redis, proxy, several instances).
#
# Built with --no-default-features, that is without the `demo` feature: a production server has no
# use for the emulated Atlassian (its demo users sign in with no password), so none of its code is
# in the image; `threelo demo` there exits 2 and says so. Run the demo from a source checkout.

# ---- build ---------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /build

# Dependencies first, in their own layer: build them against a dummy crate so that this layer is
# reused until a manifest or Cargo.lock change, whatever happens in src/. The workspace's other
# member, the emulator, must be there for cargo to read the workspace, but this build does not use
# it: its manifest and an empty stub are enough (its sources are never copied in).
COPY Cargo.toml Cargo.lock ./
COPY emulator/Cargo.toml ./emulator/Cargo.toml
RUN mkdir src emulator/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs emulator/src/lib.rs \
    && cargo build --release --locked --no-default-features \
    && rm -rf src

# The crate itself. default.toml, the templates and the stylesheet are compiled into the binary.
COPY src ./src
COPY templates ./templates
COPY static ./static
COPY config/default.toml ./config/default.toml
# COPY keeps the files' own modification times, which are older than the dummy build above; touch
# the crate roots so cargo sees them as changed and rebuilds threelo itself (not its dependencies).
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --no-default-features \
    && cp target/release/threelo /threelo

# ---- run -----------------------------------------------------------------------------------
FROM debian:bookworm-slim

# CA certificates for anything that verifies TLS against the system store (the image is
# otherwise bare). No shell tools are added. Not pinned to a version: Debian's security updates
# to it should land on the next rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged user: mounted secret files must be readable by uid 10001.
RUN groupadd --system --gid 10001 threelo \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin threelo

COPY --from=builder /threelo /usr/local/bin/threelo

# Inside a container threelo must listen on all interfaces to be reachable from the proxy; the
# published port decides who can reach it. Logs are JSON lines on stderr (`docker logs`).
ENV THREELO_LISTEN=0.0.0.0:8080 \
    THREELO_LOG_FORMAT=json
EXPOSE 8080

USER 10001:10001

# No HEALTHCHECK: it would need an HTTP client (curl, wget) in the image, and threelo has no
# subcommand for it. Let the orchestrator or the proxy probe GET <prefix>/readyz (Redis answers)
# and <prefix>/healthz (the process is up) over the network instead.

# SIGTERM (docker stop) makes threelo stop accepting and finish in-flight requests within 10 s.
# Docker's own default grace period is also 10 s: give it more with `docker stop -t 20` or
# compose's `stop_grace_period: 20s`.
STOPSIGNAL SIGTERM

ENTRYPOINT ["/usr/local/bin/threelo"]
CMD ["serve"]
