//! Avro for Sluice: a lenient/strict schema parser into an owned model, Java-compatible
//! canonical text (`Schema.toString()`), a compatibility checker ported from Java's
//! `SchemaCompatibility` with Confluent's levels, and the binary encoding of values.

pub mod binary;
mod canonical;
mod compat;
mod error;
mod json_text;
mod level;
pub mod model;
mod parse;
mod validate;

pub use compat::{check, check_counting, Incompatibility, IncompatibilityType};
pub use error::SchemaError;
pub use level::{check_level, InvalidLevel, Level};
pub use model::AvroSchema;
