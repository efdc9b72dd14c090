# webhookd in two stages: build with the Swift toolchain image, run on a slim Debian that holds only
# the two C libraries webhookd links (libssl3, libpq5). The Swift runtime is linked statically.
# Built and run by docker-compose.yml; see docs/operations.md.

ARG SWIFT_IMAGE=swift:6.3.1-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not re-resolve them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
# The manifest declares the test targets too, and SwiftPM refuses a package whose target folders are missing.
COPY Tests ./Tests
COPY sql ./sql
RUN swift build -c release --static-swift-stdlib --product webhookd \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/webhookd" /out/usr/local/bin/webhookd \
    && mkdir -p /out/usr/local/share/webhookd \
    && cp -R sql /out/usr/local/share/webhookd/sql

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl3 libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/webhookd --create-home webhookd
# The binary finds its migrations in ../share/webhookd/sql.
COPY --from=build /out/ /
USER webhookd
WORKDIR /var/lib/webhookd
ENV WEBHOOKD_LISTEN=0.0.0.0:8443
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/webhookd"]
CMD ["serve"]
