//! The Kafka wire protocol: framing, per-connection request pipelining, and dispatch by ApiKey.

pub mod connection;
pub mod connections;
pub mod dispatch;
pub mod frame;
pub mod outgoing;
