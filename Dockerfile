# Sluice in one small image: the `sluice` binary on Debian slim, run as a non-root user.
#
#   docker build -t sluice .
#   docker run -p 9092:9092 -p 8083:8083 -p 8081:8081 sluice
#
# The command is any `sluice` subcommand (`standalone` by default; `broker`, `worker` and
# `registry` for one service each), configured through the Confluent images' environment names.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sluice \
    && strip target/release/sluice

FROM debian:bookworm-slim
# curl answers the health check; ca-certificates lets clients reach TLS endpoints (HTTP sinks).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --create-home --home-dir /var/lib/sluice sluice \
    && mkdir -p /var/lib/sluice/spooldir/input /var/lib/sluice/spooldir/finished /var/lib/sluice/spooldir/error \
    && chown -R sluice:sluice /var/lib/sluice
COPY --from=build /src/target/release/sluice /usr/local/bin/sluice
USER sluice
WORKDIR /var/lib/sluice
# Reachable from outside the container by default; clients on the host are sent to localhost.
ENV KAFKA_LISTENERS=PLAINTEXT://0.0.0.0:9092 \
    KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 \
    KAFKA_LOG_DIRS=/var/lib/sluice/broker \
    CONNECT_LISTENERS=http://0.0.0.0:8083 \
    SCHEMA_REGISTRY_LISTENERS=http://0.0.0.0:8081
EXPOSE 9092 8083 8081
VOLUME ["/var/lib/sluice"]
# Healthy once the Connect REST API and the registry answer (they start after the broker).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8083/ && curl -fsS -o /dev/null http://127.0.0.1:8081/subjects
ENTRYPOINT ["sluice"]
CMD ["standalone"]
