//! `--check`: reads a service's configuration exactly as a start would (file, then environment,
//! then flags) and reports every key it would not use and every value it would refuse, without
//! binding a port or touching data. A compose file or properties file moved over from the
//! Confluent images can be checked before anything runs.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::connector_files;
use crate::properties::Properties;

/// One service's layered keys, as its start would read them.
pub enum Service {
    Broker(Properties),
    Worker {
        props: Properties,
        connectors: Vec<PathBuf>,
    },
    Registry(Properties),
}

/// Prints what each service would ignore or refuse; success only when every key is used.
pub fn run(services: Vec<Service>) -> ExitCode {
    let mut problems = 0;
    for service in services {
        let (name, count, found) = match service {
            Service::Broker(props) => ("broker", props.len(), broker(&props)),
            Service::Worker { props, connectors } => {
                ("worker", props.len(), worker(&props, &connectors))
            }
            Service::Registry(props) => ("schema registry", props.len(), registry(&props)),
        };
        if found.is_empty() {
            println!("{name}: {count} keys set, all used");
        }
        for problem in &found {
            println!("{name}: {problem}");
        }
        problems += found.len();
    }
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn broker(props: &Properties) -> Vec<String> {
    match sluice_broker::BrokerConfig::from_properties(props) {
        Ok((_, warnings)) => warnings.iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

fn worker(props: &Properties, connectors: &[PathBuf]) -> Vec<String> {
    let mut found =
        match sluice_runtime::config::WorkerConfig::from_properties(props, "http://:8083") {
            Ok((_, warnings)) => warnings.into_iter().map(|w| w.0).collect(),
            Err(e) => vec![e.to_string()],
        };
    for path in connectors {
        if let Err(e) = connector_files::load(path) {
            found.push(format!("{e:#}"));
        }
    }
    found
}

fn registry(props: &Properties) -> Vec<String> {
    match sluice_schema_registry::RegistryConfig::from_properties(props, "http://0.0.0.0:8081") {
        Ok((_, ignored)) => ignored
            .iter()
            .map(|key| format!("setting '{key}' is not used by Sluice"))
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}
