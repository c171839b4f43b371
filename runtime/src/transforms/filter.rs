//! `org.apache.kafka.connect.transforms.Filter`: drops every record it is applied to; used with
//! a predicate.

use sluice_connect_api::{ConfigDef, ConnectRecord, Props, Result, Transformation, Verdict};

#[derive(Default)]
pub struct Filter;

impl<R: ConnectRecord> Transformation<R> for Filter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }

    fn apply(&mut self, _record: &mut R) -> Result<Verdict> {
        Ok(Verdict::Discard)
    }
}
