//! Java client settings in worker and connector configs (`consumer.max.poll.records`,
//! `producer.override.buffer.memory`...) as librdkafka takes them. Configs written for Kafka
//! Connect carry Java-only keys that librdkafka refuses outright; each is translated, used by
//! the worker itself, or dropped with a debug line, so such a config works unchanged.

use rdkafka::ClientConfig;

/// What a Java client key becomes.
enum Java {
    /// The same setting under librdkafka's name.
    Renamed(&'static str),
    /// Read by the worker, not the client (`max.poll.records`: the sink's batch size).
    Worker,
    /// Meaningless here (serializers, interceptors, metric reporters...).
    Dropped,
}

fn java_key(key: &str) -> Option<Java> {
    Some(match key {
        "max.request.size" => Java::Renamed("message.max.bytes"),
        "max.poll.records" => Java::Worker,
        "key.serializer"
        | "value.serializer"
        | "key.deserializer"
        | "value.deserializer"
        | "interceptor.classes"
        | "metric.reporters"
        | "metrics.num.samples"
        | "metrics.sample.window.ms"
        | "metrics.recording.level"
        | "max.block.ms"
        | "default.api.timeout.ms"
        | "buffer.memory"
        | "send.buffer.bytes"
        | "receive.buffer.bytes"
        | "exclude.internal.topics"
        | "auto.include.jmx.reporter"
        | "client.dns.lookup" => Java::Dropped,
        _ => return None,
    })
}

/// A Java `partition.assignment.strategy` (class names, comma separated) in librdkafka's words.
fn assignment_strategy(value: &str) -> String {
    value
        .split(',')
        .map(
            |class| match class.trim().rsplit('.').next().unwrap_or("") {
                "RangeAssignor" => "range",
                "RoundRobinAssignor" => "roundrobin",
                "CooperativeStickyAssignor" | "StickyAssignor" => "cooperative-sticky",
                other => other,
            },
        )
        .map(str::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Sets `key` on `client`, translated from Java's client settings where they differ.
pub fn set(client: &mut ClientConfig, key: &str, value: &str) {
    match java_key(key) {
        Some(Java::Renamed(name)) => {
            client.set(name, value);
        }
        Some(Java::Worker) => {}
        Some(Java::Dropped) => {
            tracing::debug!(
                key,
                "a Java client setting with no librdkafka meaning; ignored"
            );
        }
        None if key == "partition.assignment.strategy" => {
            client.set(key, assignment_strategy(value));
        }
        None => {
            client.set(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_settings_become_librdkafka_settings_or_are_left_out() {
        let mut client = ClientConfig::new();
        set(&mut client, "max.poll.records", "500");
        set(
            &mut client,
            "value.deserializer",
            "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        );
        set(&mut client, "max.request.size", "2097152");
        set(
            &mut client,
            "partition.assignment.strategy",
            "org.apache.kafka.clients.consumer.RoundRobinAssignor",
        );
        set(&mut client, "linger.ms", "5");
        assert_eq!(client.get("max.poll.records"), None);
        assert_eq!(client.get("value.deserializer"), None);
        assert_eq!(client.get("message.max.bytes"), Some("2097152"));
        assert_eq!(
            client.get("partition.assignment.strategy"),
            Some("roundrobin")
        );
        assert_eq!(client.get("linger.ms"), Some("5"));
        // librdkafka takes the result: creating a client would fail on any key it does not know.
        client.set("bootstrap.servers", "127.0.0.1:1");
        assert!(client.create::<rdkafka::consumer::BaseConsumer>().is_ok());
    }
}
