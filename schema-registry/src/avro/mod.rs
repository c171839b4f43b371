//! Avro for the registry: a lenient/strict schema parser into an owned model,
//! Java-compatible canonical text (`Schema.toString()`), and a compatibility
//! checker ported from Java's `SchemaCompatibility`, with Confluent's levels.

mod canonical;
mod compat;
mod error;
mod json_text;
mod level;
mod model;
mod parse;
mod validate;

pub use compat::{check, check_counting, Incompatibility, IncompatibilityType};
pub use error::SchemaError;
pub use level::{check_level, InvalidLevel, Level};
pub use model::AvroSchema;
