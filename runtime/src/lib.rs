//! The Sluice connect worker. So far: converters, internal-topic state, and the source pipeline.

pub mod converters;
pub mod storage;
pub mod worker;
