//! The Kafka wire protocol: framing, per-connection request pipelining, and dispatch by ApiKey.

pub mod connection;
pub mod dispatch;
pub mod frame;
