//! Connect values to Avro binary and back, walking the Avro schema and the Connect schema side
//! by side, with no intermediate Avro object per record.

use std::sync::Arc;

use sluice_avro::binary::{self, Reader};
use sluice_avro::model::{Kind, Node, NodeId};
use sluice_avro::AvroSchema;
use sluice_connect_api::schema::logical;
use sluice_connect_api::{
    ConnectError, Decimal, Result, Schema, SchemaRef, SchemaType, Struct, Value,
};

use super::schema::UNION;

/// Deepest nesting read or written: a recursive Avro schema could otherwise recurse without end.
const MAX_DEPTH: usize = 256;

/// Writes `value` (of Connect `schema`) as Avro binary of the Avro node `id`.
pub fn encode(avro: &AvroSchema, schema: &Schema, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    Encoder { avro }.write(avro.root, schema, value, out, 0)
}

/// Reads one Avro datum of `avro`'s root into a Connect value of `schema` (made from `avro`).
pub fn decode(avro: &AvroSchema, schema: &SchemaRef, bytes: &[u8]) -> Result<Value> {
    let mut reader = Reader::new(bytes);
    Decoder { avro }.read(avro.root, schema, &mut reader, 0)
}

fn datum_error(e: binary::DatumError) -> ConnectError {
    ConnectError::data(format!("Invalid Avro data: {e}"))
}

fn too_deep() -> ConnectError {
    ConnectError::data(format!("Avro data nested deeper than {MAX_DEPTH} levels"))
}

fn invalid_type(schema: &Schema, value: &Value) -> ConnectError {
    ConnectError::data(format!(
        "Invalid type for {}: {}",
        schema.schema_type,
        value.type_name()
    ))
}

struct Encoder<'a> {
    avro: &'a AvroSchema,
}

impl Encoder<'_> {
    fn write(
        &self,
        id: NodeId,
        schema: &Schema,
        value: &Value,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let value = match (value, &schema.default) {
            (Value::Null, Some(default)) => default,
            _ => value,
        };
        match self.avro.node(id) {
            Node::Union { branches } => self.write_union(branches, schema, value, out, depth),
            Node::Primitive { kind, .. } => write_primitive(*kind, schema, value, out),
            Node::Fixed { size, .. } => {
                let bytes = match value {
                    Value::Bytes(b) => b.clone(),
                    Value::Decimal(d) => sign_extended(&decimal_bytes(schema, d)?, *size as usize)?,
                    _ => return Err(invalid_type(schema, value)),
                };
                if bytes.len() != *size as usize {
                    return Err(ConnectError::data(format!(
                        "A fixed of {size} bytes cannot hold {} bytes",
                        bytes.len()
                    )));
                }
                out.extend_from_slice(&bytes);
                Ok(())
            }
            Node::Enum { symbols, named, .. } => {
                let Value::String(symbol) = value else {
                    return Err(invalid_type(schema, value));
                };
                let index = symbols.iter().position(|s| s == symbol).ok_or_else(|| {
                    ConnectError::data(format!(
                        "{symbol} is not a symbol of the enum {}",
                        named.name.full()
                    ))
                })?;
                binary::write_long(out, index as i64);
                Ok(())
            }
            Node::Array { items, .. } => match value {
                Value::Array(list) => {
                    let items_schema = child(schema.value_schema.as_ref())?;
                    if !list.is_empty() {
                        binary::write_long(out, list.len() as i64);
                        for item in list {
                            self.write(*items, items_schema, item, out, depth + 1)?;
                        }
                    }
                    binary::write_long(out, 0);
                    Ok(())
                }
                // A map with non-string keys: an array of key/value records.
                Value::Map(entries) => {
                    let Node::Record { fields, .. } = self.avro.node(*items) else {
                        return Err(invalid_type(schema, value));
                    };
                    let ty = |name: &str| fields.iter().find(|f| f.name == name).map(|f| f.ty);
                    let (Some(key_ty), Some(value_ty)) = (ty("key"), ty("value")) else {
                        return Err(invalid_type(schema, value));
                    };
                    let keys = child(schema.key_schema.as_ref())?;
                    let values = child(schema.value_schema.as_ref())?;
                    if !entries.is_empty() {
                        binary::write_long(out, entries.len() as i64);
                        for (k, v) in entries {
                            // Field order as the record declares it.
                            for field in fields {
                                if field.name == "key" {
                                    self.write(key_ty, keys, k, out, depth + 1)?;
                                } else {
                                    self.write(value_ty, values, v, out, depth + 1)?;
                                }
                            }
                        }
                    }
                    binary::write_long(out, 0);
                    Ok(())
                }
                _ => Err(invalid_type(schema, value)),
            },
            Node::Map {
                values: values_ty, ..
            } => {
                let Value::Map(entries) = value else {
                    return Err(invalid_type(schema, value));
                };
                let values = child(schema.value_schema.as_ref())?;
                if !entries.is_empty() {
                    binary::write_long(out, entries.len() as i64);
                    for (k, v) in entries {
                        let Value::String(k) = k else {
                            return Err(ConnectError::data("An Avro map needs string keys"));
                        };
                        binary::write_bytes(out, k.as_bytes());
                        self.write(*values_ty, values, v, out, depth + 1)?;
                    }
                }
                binary::write_long(out, 0);
                Ok(())
            }
            Node::Record { fields, named, .. } => {
                let Value::Struct(s) = value else {
                    return Err(invalid_type(schema, value));
                };
                for (i, field) in fields.iter().enumerate() {
                    // Same position first: the schemas were made from one another.
                    let connect = match schema.fields.get(i) {
                        Some(f) if f.name == field.name => Some(f),
                        _ => schema.field(&field.name),
                    };
                    let Some(connect) = connect else {
                        return Err(ConnectError::data(format!(
                            "The Avro record {} has a field {} the Connect struct lacks",
                            named.name.full(),
                            field.name
                        )));
                    };
                    self.write(
                        field.ty,
                        &connect.schema,
                        s.value_at(connect.index),
                        out,
                        depth + 1,
                    )
                    .map_err(|e| match e {
                        ConnectError::Data(m) if m.starts_with("Found null") => {
                            ConnectError::data(format!("{m} (field {})", field.name))
                        }
                        other => other,
                    })?;
                }
                Ok(())
            }
        }
    }

    fn write_union(
        &self,
        branches: &[NodeId],
        schema: &Schema,
        value: &Value,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<()> {
        let kind = |b: &NodeId| self.avro.node(*b).kind();
        if value.is_null() {
            let null = branches
                .iter()
                .position(|b| kind(b) == Kind::Null)
                .ok_or_else(|| ConnectError::data("Found null value for non-optional schema"))?;
            binary::write_long(out, null as i64);
            return Ok(());
        }
        if schema.name.as_deref() == Some(UNION) {
            // The one field set names the branch: fields follow the non-null branches in order.
            let Value::Struct(s) = value else {
                return Err(invalid_type(schema, value));
            };
            let non_null: Vec<(usize, NodeId)> = branches
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, b)| kind(b) != Kind::Null)
                .collect();
            for field in &schema.fields {
                let member = s.value_at(field.index);
                if member.is_null() {
                    continue;
                }
                let (index, branch) = non_null.get(field.index).copied().ok_or_else(|| {
                    ConnectError::data(
                        "The Connect union has more fields than the Avro union has branches",
                    )
                })?;
                binary::write_long(out, index as i64);
                return self.write(branch, &field.schema, member, out, depth + 1);
            }
            return self.write_union(branches, schema, &Value::Null, out, depth);
        }
        let index = branches
            .iter()
            .position(|b| kind(b) != Kind::Null && fits(self.avro.node(*b), schema))
            .or_else(|| {
                let mut non_null = branches
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| kind(b) != Kind::Null);
                match (non_null.next(), non_null.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            })
            .ok_or_else(|| {
                ConnectError::data(format!(
                    "No branch of the Avro union fits a {} value",
                    schema.schema_type
                ))
            })?;
        binary::write_long(out, index as i64);
        self.write(branches[index], schema, value, out, depth + 1)
    }
}

/// Whether an Avro branch is the one a Connect schema maps to.
fn fits(node: &Node, schema: &Schema) -> bool {
    match (node, schema.schema_type) {
        (Node::Primitive { kind, .. }, t) => matches!(
            (kind, t),
            (
                Kind::Int,
                SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32
            ) | (Kind::Long, SchemaType::Int64)
                | (Kind::Float, SchemaType::Float32)
                | (Kind::Double, SchemaType::Float64)
                | (Kind::Boolean, SchemaType::Boolean)
                | (Kind::String, SchemaType::String)
                | (Kind::Bytes, SchemaType::Bytes)
        ),
        (Node::Record { named, .. }, SchemaType::Struct) => {
            schema.name.is_none() || schema.name.as_deref() == Some(named.name.full().as_str())
        }
        (Node::Enum { .. }, SchemaType::String) => true,
        (Node::Fixed { .. }, SchemaType::Bytes) => true,
        (Node::Array { .. }, SchemaType::Array | SchemaType::Map) => true,
        (Node::Map { .. }, SchemaType::Map) => true,
        _ => false,
    }
}

fn write_primitive(kind: Kind, schema: &Schema, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match (kind, value) {
        (Kind::Null, Value::Null) => {}
        (Kind::Boolean, Value::Boolean(b)) => binary::write_boolean(out, *b),
        (Kind::Int, Value::Int8(v)) => binary::write_int(out, i32::from(*v)),
        (Kind::Int, Value::Int16(v)) => binary::write_int(out, i32::from(*v)),
        (Kind::Int, Value::Int32(v) | Value::Date(v) | Value::Time(v)) => {
            binary::write_int(out, *v)
        }
        (Kind::Long, Value::Int64(v) | Value::Timestamp(v)) => binary::write_long(out, *v),
        (Kind::Float, Value::Float32(v)) => binary::write_float(out, *v),
        (Kind::Double, Value::Float64(v)) => binary::write_double(out, *v),
        (Kind::String, Value::String(s)) => binary::write_bytes(out, s.as_bytes()),
        (Kind::Bytes, Value::Bytes(b)) => binary::write_bytes(out, b),
        (Kind::Bytes, Value::Decimal(d)) => binary::write_bytes(out, &decimal_bytes(schema, d)?),
        (_, Value::Null) => {
            return Err(ConnectError::data(
                "Found null value for non-optional schema",
            ))
        }
        _ => return Err(invalid_type(schema, value)),
    }
    Ok(())
}

/// The unscaled bytes of a decimal, which must have the schema's scale (Kafka's `Decimal.fromLogical`).
fn decimal_bytes(schema: &Schema, d: &Decimal) -> Result<Vec<u8>> {
    if let Ok(scale) = schema.decimal_scale() {
        if scale != d.scale {
            return Err(ConnectError::data(
                "BigDecimal has mismatching scale value for given Decimal schema",
            ));
        }
    }
    Ok(d.to_bytes())
}

fn sign_extended(bytes: &[u8], size: usize) -> Result<Vec<u8>> {
    if bytes.len() > size {
        return Err(ConnectError::data(format!(
            "A decimal of {} bytes does not fit a fixed of {size}",
            bytes.len()
        )));
    }
    let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut out = vec![fill; size - bytes.len()];
    out.extend_from_slice(bytes);
    Ok(out)
}

fn child(schema: Option<&SchemaRef>) -> Result<&Schema> {
    schema
        .map(|s| s.as_ref())
        .ok_or_else(|| ConnectError::data("A Connect schema lacks its element schema"))
}

struct Decoder<'a> {
    avro: &'a AvroSchema,
}

impl Decoder<'_> {
    fn read(
        &self,
        id: NodeId,
        schema: &SchemaRef,
        input: &mut Reader<'_>,
        depth: usize,
    ) -> Result<Value> {
        let mut value = Value::Null;
        self.read_into(id, schema, input, depth, &mut value)?;
        Ok(value)
    }

    /// [`read`](Self::read) into `out`, which holds null. A record's fields are read straight
    /// into its list of values: returning each one in a 48-byte result and copying it there took
    /// about a third of the decoding.
    fn read_into(
        &self,
        id: NodeId,
        schema: &SchemaRef,
        input: &mut Reader<'_>,
        depth: usize,
        out: &mut Value,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        *out = match self.avro.node(id) {
            Node::Union { branches } => {
                let index = input
                    .read_index("union branch", branches.len())
                    .map_err(datum_error)?;
                let branch = branches[index];
                if self.avro.node(branch).kind() == Kind::Null {
                    *out = Value::Null;
                    return Ok(());
                }
                if schema.name.as_deref() == Some(UNION) && schema.schema_type == SchemaType::Struct
                {
                    let position = branches[..index]
                        .iter()
                        .filter(|b| self.avro.node(**b).kind() != Kind::Null)
                        .count();
                    let field = schema.fields.get(position).ok_or_else(|| {
                        ConnectError::data(
                            "The Avro union has more branches than the Connect union has fields",
                        )
                    })?;
                    let mut values = Value::nulls(schema.fields.len());
                    self.read_into(
                        branch,
                        &field.schema,
                        input,
                        depth + 1,
                        &mut values[position],
                    )?;
                    *out = Value::Struct(Struct::from_values(Arc::clone(schema), values)?);
                    return Ok(());
                }
                return self.read_into(branch, schema, input, depth + 1, out);
            }
            Node::Primitive { kind, .. } => return read_primitive(*kind, schema, input, out),
            Node::Fixed { size, .. } => {
                let bytes = input.read_fixed(*size as usize).map_err(datum_error)?;
                bytes_value(schema, bytes)?
            }
            Node::Enum { symbols, .. } => {
                let index = input
                    .read_index("enum symbol", symbols.len())
                    .map_err(datum_error)?;
                Value::String(symbols[index].clone())
            }
            Node::Array { items, .. } => {
                if schema.schema_type == SchemaType::Map {
                    let keys = child_ref(schema.key_schema.as_ref())?;
                    let values = child_ref(schema.value_schema.as_ref())?;
                    let Node::Record { fields, .. } = self.avro.node(*items) else {
                        return Err(ConnectError::data(
                            "A map must be read from an array of records",
                        ));
                    };
                    let mut entries = Vec::new();
                    self.blocks(input, |this, input| {
                        let mut key = Value::Null;
                        let mut value = Value::Null;
                        for field in fields {
                            if field.name == "key" {
                                key = this.read(field.ty, keys, input, depth + 1)?;
                            } else {
                                value = this.read(field.ty, values, input, depth + 1)?;
                            }
                        }
                        entries.push((key, value));
                        Ok(())
                    })?;
                    Value::Map(entries)
                } else {
                    let items_schema = child_ref(schema.value_schema.as_ref())?;
                    let mut list = Vec::new();
                    self.blocks(input, |this, input| {
                        list.push(this.read(*items, items_schema, input, depth + 1)?);
                        Ok(())
                    })?;
                    Value::Array(list)
                }
            }
            Node::Map {
                values: values_ty, ..
            } => {
                let values = child_ref(schema.value_schema.as_ref())?;
                let mut entries = Vec::new();
                self.blocks(input, |this, input| {
                    let key = input.read_string().map_err(datum_error)?.to_string();
                    let value = this.read(*values_ty, values, input, depth + 1)?;
                    entries.push((Value::String(key), value));
                    Ok(())
                })?;
                Value::Map(entries)
            }
            Node::Record { fields, .. } => {
                if fields.len() != schema.fields.len() {
                    return Err(ConnectError::data(
                        "The Connect struct does not match the Avro record",
                    ));
                }
                let mut values = Value::nulls(fields.len());
                for ((slot, field), connect) in values.iter_mut().zip(fields).zip(&schema.fields) {
                    self.read_into(field.ty, &connect.schema, input, depth + 1, slot)?;
                }
                // Each value was read as its own field's schema says, so only a null is looked
                // at again (it must be allowed there).
                Value::Struct(Struct::from_checked_values(
                    Arc::clone(schema),
                    values,
                    |i| schema.fields.get(i).map(|f| &f.schema),
                )?)
            }
        };
        Ok(())
    }

    /// Reads the blocks of an array or map, calling `item` once per item.
    fn blocks(
        &self,
        input: &mut Reader<'_>,
        mut item: impl FnMut(&Self, &mut Reader<'_>) -> Result<()>,
    ) -> Result<()> {
        loop {
            let count = input.read_block_count().map_err(datum_error)?;
            if count == 0 {
                return Ok(());
            }
            for _ in 0..count {
                item(self, input)?;
            }
        }
    }
}

fn child_ref(schema: Option<&SchemaRef>) -> Result<&SchemaRef> {
    schema.ok_or_else(|| ConnectError::data("A Connect schema lacks its element schema"))
}

fn read_primitive(
    kind: Kind,
    schema: &Schema,
    input: &mut Reader<'_>,
    out: &mut Value,
) -> Result<()> {
    *out = match kind {
        Kind::Null => Value::Null,
        Kind::Boolean => Value::Boolean(input.read_boolean().map_err(datum_error)?),
        Kind::Int => {
            let v = input.read_int().map_err(datum_error)?;
            match (schema.schema_type, schema.logical()) {
                // Java's byteValue()/shortValue(): the low bits.
                (SchemaType::Int8, _) => Value::Int8(v as i8),
                (SchemaType::Int16, _) => Value::Int16(v as i16),
                (_, Some(logical::DATE)) => Value::Date(v),
                (_, Some(logical::TIME)) => Value::Time(v),
                _ => Value::Int32(v),
            }
        }
        Kind::Long => {
            let v = input.read_long().map_err(datum_error)?;
            match schema.logical() {
                Some(logical::TIMESTAMP) => Value::Timestamp(v),
                _ => Value::Int64(v),
            }
        }
        Kind::Float => Value::Float32(input.read_float().map_err(datum_error)?),
        Kind::Double => Value::Float64(input.read_double().map_err(datum_error)?),
        Kind::String => Value::String(input.read_string().map_err(datum_error)?.to_string()),
        Kind::Bytes => {
            let bytes = input.read_bytes().map_err(datum_error)?;
            bytes_value(schema, bytes)?
        }
        other => {
            return Err(ConnectError::data(format!(
                "Unexpected Avro {} where a primitive was expected",
                other.avro_name()
            )))
        }
    };
    Ok(())
}

fn bytes_value(schema: &Schema, bytes: &[u8]) -> Result<Value> {
    Ok(match schema.logical() {
        Some(logical::DECIMAL) => {
            Value::Decimal(Decimal::from_bytes(bytes, schema.decimal_scale()?)?)
        }
        _ => Value::Bytes(bytes.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::schema::{to_avro, to_connect, Options};
    use super::*;
    use sluice_connect_api::SchemaBuilder;

    const OPTIONS: Options = Options {
        connect_meta_data: true,
        enhanced: false,
    };

    #[test]
    fn every_connect_type_round_trips_through_avro_binary() {
        let schema = SchemaBuilder::struct_()
            .name("com.acme.Row")
            .field("i8", Schema::int8())
            .and_then(|b| b.field("i16", Schema::int16()))
            .and_then(|b| b.field("i64", Schema::int64()))
            .and_then(|b| b.field("f", Schema::float32()))
            .and_then(|b| b.field("d", Schema::float64()))
            .and_then(|b| b.field("ok", Schema::boolean()))
            .and_then(|b| b.field("s", Schema::optional_string()))
            .and_then(|b| b.field("b", Schema::bytes()))
            .and_then(|b| b.field("price", SchemaBuilder::decimal(2).build()))
            .and_then(|b| b.field("day", SchemaBuilder::date().build()))
            .and_then(|b| b.field("at", SchemaBuilder::timestamp().optional().build()))
            .and_then(|b| b.field("tags", SchemaBuilder::array(Schema::string()).build()))
            .and_then(|b| {
                b.field(
                    "by_id",
                    SchemaBuilder::map(Schema::int32(), Schema::string()).build(),
                )
            })
            .and_then(|b| {
                b.field(
                    "named",
                    SchemaBuilder::map(Schema::string(), Schema::int64()).build(),
                )
            })
            .expect("schema")
            .build();
        let value = Struct::from_values(
            Arc::clone(&schema),
            vec![
                Value::Int8(-3),
                Value::Int16(300),
                Value::Int64(-1 << 40),
                Value::Float32(1.5),
                Value::Float64(-2.25),
                Value::Boolean(true),
                Value::Null,
                Value::Bytes(vec![0, 1, 255]),
                Value::Decimal(Decimal {
                    unscaled: -12345,
                    scale: 2,
                }),
                Value::Date(19000),
                Value::Timestamp(1_700_000_000_000),
                Value::Array(vec![Value::String("a".into()), Value::String("é".into())]),
                Value::Map(vec![(Value::Int32(7), Value::String("seven".into()))]),
                Value::Map(vec![(Value::String("k".into()), Value::Int64(9))]),
            ],
        )
        .expect("value");
        let json = to_avro(&schema, OPTIONS).expect("avro schema");
        let avro = AvroSchema::parse(&json.to_string(), &[], true).expect("parse");
        let mut out = Vec::new();
        encode(&avro, &schema, &Value::Struct(value.clone()), &mut out).expect("encode");
        let connect = to_connect(&avro, OPTIONS, None).expect("connect schema");
        let back = decode(&avro, &connect, &out).expect("decode");
        let Value::Struct(back) = back else {
            panic!("not a struct: {back:?}")
        };
        let got: Vec<&Value> = back.fields().map(|(_, v)| v).collect();
        let want: Vec<&Value> = value.fields().map(|(_, v)| v).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn truncated_and_corrupt_data_is_a_data_error() {
        let schema = SchemaBuilder::struct_()
            .field("s", Schema::string())
            .and_then(|b| b.field("n", Schema::int64()))
            .expect("schema")
            .build();
        let avro = AvroSchema::parse(
            &to_avro(&schema, OPTIONS).expect("json").to_string(),
            &[],
            true,
        )
        .expect("parse");
        for bytes in [
            &[][..],
            &[0x04, b'a'][..],
            &[0x7f][..],
            &[
                0x02, b'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ][..],
        ] {
            let err = decode(&avro, &schema, bytes).expect_err("corrupt");
            assert!(matches!(err, ConnectError::Data(_)), "{err}");
        }
        let missing = Struct::new(Arc::clone(&schema)).expect("struct");
        let err = encode(&avro, &schema, &Value::Struct(missing), &mut Vec::new())
            .expect_err("null in a required field");
        assert!(err.to_string().contains("field s"), "{err}");
    }
}
