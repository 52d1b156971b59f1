# syntax=docker/dockerfile:1
# Build stage: the same scripts/bootstrap.sh a developer runs (npm ci for Bun, cargo for the
# addon, bun build --compile). This image reaches crates.io, so sha2 comes from there.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN ./scripts/bootstrap.sh && ./dist/bytetide --version | grep -q 'hasher: native'

# Final stage: the single executable (the addon is embedded in it) and nothing else of ours.
FROM debian:bookworm-slim
COPY --from=build /src/dist/bytetide /usr/local/bin/bytetide
ENTRYPOINT ["/usr/local/bin/bytetide"]
CMD ["help"]
