//! The worker's state in Kafka Connect's internal topics, with Kafka's key and value formats
//! (JSON, no schemas), so existing tools and workers read the same records.

pub mod config_state;
pub mod reader;
pub mod records;

pub use config_state::{ConfigState, TargetState};
