//! Sluice's broker: a single node that speaks the Kafka wire protocol and keeps its log on disk.
//!
//! Start one with [`run`] on an already-bound listener; tests bind port 0.

pub mod config;
pub mod group;
mod handlers;
mod listeners;
pub mod log;
pub mod partition;
mod protocol;
pub mod server;
pub mod topics;

#[cfg(test)]
mod fuzz_tests;

pub use config::{BrokerConfig, ConfigError};
pub use server::{run, Broker, BrokerError};
