# syntax=docker/dockerfile:1
# WVA controller image: a static `wva` binary on distroless (non-root, no shell; the chart runs
# it with a read-only root filesystem).
#
#   docker build -t ghcr.io/wva-rs/wva:0.1.0 .
#
# The chart's default image is ghcr.io/wva-rs/wva:<appVersion> and its command is this
# ENTRYPOINT with `run` (tests/chart.rs: the_chart_runs_the_image_the_dockerfile_builds).
# Not built by this repository's CI (it has no container engine); see docs/quickstart.md.

# --- build: Alpine's Rust targets musl, so the binary is fully static --------------------------
FROM docker.io/library/rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev gcc binutils
WORKDIR /src
# The whole workspace: build.rs renders generated files from api/ during the build.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin wva \
 && install -D -m 0755 target/release/wva /out/wva \
 && if readelf -d /out/wva | grep -q '(NEEDED)'; then echo "wva is not static" >&2; exit 1; fi \
 && /out/wva --version

# --- runtime: no shell, no package manager, uid 65532 -----------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="wva" \
      org.opencontainers.image.description="Workload-Variant-Autoscaler controller (Rust)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/wva /wva
USER 65532:65532
ENTRYPOINT ["/wva"]
CMD ["run"]
