//! The Confluent Schema Registry REST API, storing its state in a Kafka topic (`_schemas`) in
//! Confluent's own record format. Avro schemas only, for now: JSON Schema and Protobuf are
//! refused with a clear 42201.

pub use sluice_avro as avro;
mod check_cache;
pub mod config;
pub mod error;
mod records;
pub mod registry;
pub mod rest;
mod state;
mod store;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::RegistryConfig;
pub use error::RegistryError;

/// Opens the store (reading `_schemas` to its end), then serves the REST API on `listener`
/// until `shutdown`.
pub async fn run(
    config: RegistryConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RegistryError> {
    let client = store::client_config(&config.bootstrap_servers, &config.client);
    // The topic reader stops with the registry, whatever ends it.
    let reader_stop = shutdown.child_token();
    let _stop_reader = reader_stop.clone().drop_guard();
    let (store, reader) = store::Store::open(
        &client,
        &config.topic,
        config.replication_factor,
        config.store_timeout,
        reader_stop.clone(),
    )
    .await?;
    let registry = Arc::new(registry::Registry::new(
        store,
        config.default_level,
        config.mode_mutable,
    ));
    let address = listener
        .local_addr()
        .map_err(|e| RegistryError::Store(format!("the listener: {e}")))?;
    tracing::info!(%address, "schema registry listening");
    let served = axum::serve(listener, rest::router(registry))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| RegistryError::Store(format!("serving: {e}")));
    reader_stop.cancel();
    reader.join().await;
    served
}
