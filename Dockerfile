FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin sluice

FROM debian:bookworm-slim
COPY --from=build /src/target/release/sluice /usr/local/bin/sluice
WORKDIR /var/lib/sluice
EXPOSE 9092
ENTRYPOINT ["sluice"]
CMD ["standalone", "--override", "listeners=PLAINTEXT://0.0.0.0:9092"]
