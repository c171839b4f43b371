//! The Sluice connect worker. So far: the converters.

pub mod converters;
