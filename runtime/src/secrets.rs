//! Which config values are secrets, and keeping them out of what Sluice shows and logs. A key is
//! secret when the connector's own definition types it PASSWORD, when Kafka's client, producer,
//! consumer, admin, SSL or SASL configs type it PASSWORD (with any prefix:
//! `producer.override.`, `consumer.override.`, `admin.override.`, `value.converter.`, ...), or
//! when its last part names a password or a secret. Secret values are shown as `[hidden]` in REST
//! responses and are cut out of any error text before it is logged or shown as a status trace.

use sluice_connect_api::config::HIDDEN;
use sluice_connect_api::{ConfigDef, ConfigType, Props};

/// Keys Kafka's clients (and the broker and registry clients) type as PASSWORD.
const PASSWORD_KEYS: &[&str] = &[
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.certificates",
    "sasl.jaas.config",
    "sasl.oauthbearer.client.credentials.client.secret",
    "sasl.oauthbearer.assertion.private.key.passphrase",
    "password.encoder.secret",
    "password.encoder.old.secret",
    "delegation.token.secret.key",
    "delegation.token.master.key",
    // Confluent's registry clients (AvroConverter and friends).
    "basic.auth.user.info",
    "bearer.auth.token",
];

/// Values shorter than this are not cut out of text: they would match ordinary words.
const MIN_REDACTED_LEN: usize = 4;

/// Whether `key` holds a secret, given the connector's definition if known.
pub fn is_secret(key: &str, definition: Option<&ConfigDef>) -> bool {
    if definition
        .and_then(|d| d.key(key))
        .is_some_and(|k| k.config_type == ConfigType::Password)
    {
        return true;
    }
    let matches_kafka_key = PASSWORD_KEYS.iter().any(|known| {
        key == *known
            || key
                .strip_suffix(known)
                .is_some_and(|prefix| prefix.ends_with('.'))
    });
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    matches_kafka_key || last.contains("password") || last.contains("secret")
}

/// `props` as shown to users: secret values replaced by `[hidden]`.
pub fn shown(props: &Props, definition: Option<&ConfigDef>) -> Props {
    props
        .iter()
        .map(|(k, v)| {
            let value = if is_secret(k, definition) {
                HIDDEN.to_string()
            } else {
                v.clone()
            };
            (k.clone(), value)
        })
        .collect()
}

/// `text` (an error message, a trace) with every secret value of `props` replaced by
/// `[hidden]`, and the password of any JAAS `password="..."` option too.
pub fn redact(text: &str, props: &Props, definition: Option<&ConfigDef>) -> String {
    let mut out = text.to_string();
    for (key, value) in props {
        if value.len() >= MIN_REDACTED_LEN
            && is_secret(key, definition)
            && out.contains(value.as_str())
        {
            out = out.replace(value.as_str(), HIDDEN);
        }
    }
    redact_jaas(&out)
}

/// JAAS options look like `password="secret"`: whatever the key, the quoted value goes.
fn redact_jaas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("password=\"") {
        let value_start = at + "password=\"".len();
        out.push_str(&rest[..value_start]);
        match rest[value_start..].find('"') {
            Some(end) => {
                out.push_str(HIDDEN);
                rest = &rest[value_start + end..];
            }
            None => {
                out.push_str(HIDDEN);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::{props_of, Importance};

    #[test]
    fn kafka_password_keys_are_secret_with_any_prefix_and_connector_keys_when_typed() {
        for key in [
            "ssl.key.password",
            "producer.override.ssl.keystore.password",
            "consumer.override.sasl.jaas.config",
            "admin.override.ssl.truststore.certificates",
            "value.converter.basic.auth.user.info",
            "connection.password",
            "oauth2.client.secret",
        ] {
            assert!(is_secret(key, None), "{key}");
        }
        for key in [
            "topic",
            "connection.user",
            "sasl.mechanism",
            "file",
            "ssl.keystore.type",
        ] {
            assert!(!is_secret(key, None), "{key}");
        }
        let def =
            ConfigDef::new().define("token", ConfigType::Password, None, Importance::High, "");
        assert!(is_secret("token", Some(&def)));
    }

    #[test]
    fn secret_values_are_cut_out_of_text() {
        let props = props_of(&[
            ("consumer.override.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ssw0rd\";"),
            ("connection.password", "hunter22"),
            ("topic", "orders"),
        ]);
        let text = "bad config sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ssw0rd\"; and hunter22 for orders";
        let redacted = redact(text, &props, None);
        assert!(
            !redacted.contains("p4ssw0rd") && !redacted.contains("hunter22"),
            "{redacted}"
        );
        assert!(redacted.contains("orders"));
        assert_eq!(
            redact_jaas(r#"x password="abc" y password="def"#),
            r#"x password="[hidden]" y password="[hidden]"#
        );
    }
}
