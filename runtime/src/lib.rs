//! The Sluice connect worker. So far: the converters and the internal-topic state.

pub mod converters;
pub mod storage;
