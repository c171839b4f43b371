//! The Connect data model and plugin traits. Connectors depend on this crate and nothing else of
//! Sluice's.

pub mod error;
pub mod schema;
pub mod value;

pub use error::{ConnectError, Result};
pub use schema::{Field, Schema, SchemaBuilder, SchemaRef, SchemaType};
pub use value::{Decimal, Struct, Value};
