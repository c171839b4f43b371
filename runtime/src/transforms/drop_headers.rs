//! `org.apache.kafka.connect.transforms.DropHeaders`: removes every header with one of the
//! configured names.

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectRecord, Importance, Props, Result, Transformation, Validator,
    Verdict,
};

use super::support::Settings;

#[derive(Default)]
pub struct DropHeaders {
    headers: Vec<String>,
}

impl<R: ConnectRecord> Transformation<R> for DropHeaders {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "headers",
                ConfigType::List,
                None,
                Importance::High,
                "The name of the headers to be removed.",
            )
            .validator(Validator::NonEmptyList)
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Transformation::<R>::config_def(self), props)?;
        self.headers = settings.list("headers");
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let headers = record.headers_mut();
        for name in &self.headers {
            headers.remove(name);
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, SourceMap, SourceRecord, Value};

    #[test]
    fn every_header_with_a_listed_name_goes() {
        let mut t = DropHeaders::default();
        Transformation::<SourceRecord>::configure(
            &mut t,
            &props_of(&[("headers", "to-drop, missing")]),
        )
        .expect("configured");
        let mut r = SourceRecord::new(SourceMap::new(), SourceMap::new(), "t", None, Value::Null);
        r.headers
            .add("existing", None, Value::String("existing-value".into()))
            .add("to-drop", None, Value::String("a".into()))
            .add("to-drop", None, Value::String("b".into()));
        let out = t.applied(r).expect("dropped").expect("kept");
        let keys: Vec<&str> = out.headers.iter().map(|h| h.key.as_ref()).collect();
        assert_eq!(keys, ["existing"]);
        let e = Transformation::<SourceRecord>::configure(
            &mut DropHeaders::default(),
            &props_of(&[("headers", "")]),
        )
        .expect_err("empty");
        assert_eq!(
            e.message(),
            "Invalid value [] for configuration headers: Empty list"
        );
    }
}
