# syntax=docker/dockerfile:1
# WVA controller image: a static `wva` binary on distroless (non-root).
#
#   docker build -t ghcr.io/llm-d/llm-d-workload-variant-autoscaler:<tag> .
#
# Not built by this repository's CI (it has no container engine); the chart runs the image as
# `/wva run ...`.

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
COPY --from=build /out/wva /wva
USER 65532:65532
ENTRYPOINT ["/wva"]
CMD ["run"]
