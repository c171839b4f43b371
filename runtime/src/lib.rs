//! The Sluice connect worker: converters, transforms, the source and sink pipelines, the herder
//! that runs connectors from the internal topics, and the Kafka Connect REST API.

mod blocking;
mod client_errors;
mod client_keys;
pub mod config;
pub mod converters;
pub mod dry_run;
pub mod herder;
pub mod rest;
pub mod secrets;
pub mod storage;
pub mod transforms;
pub mod worker;
