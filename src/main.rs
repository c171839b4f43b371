//! The `sluice` binary: parses arguments, layers configuration, starts services and handles
//! shutdown.

mod cli;
mod config_check;
mod connector_files;
mod logging;
mod properties;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use properties::Properties;

// Connect pipelines allocate a few small objects per record, across threads; mimalloc handles
// that pattern far better than glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    about = "A Kafka-compatible broker, Kafka Connect worker and schema registry in one binary"
)]
struct Cli {
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SLUICE_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker alone, like kafka-server-start.
    Broker {
        /// A server.properties file.
        config: Option<PathBuf>,
        /// Override a config, key=value; repeatable.
        #[arg(long = "override")]
        overrides: Vec<String>,
        /// Check the configuration (file, environment, overrides) and exit: non-zero if a key
        /// would be ignored or a value refused. Binds nothing and touches no data.
        #[arg(long)]
        check: bool,
    },
    /// Run everything embedded on this machine (broker on 127.0.0.1:9092, Connect REST API on
    /// 127.0.0.1:8083, schema registry on 127.0.0.1:8081, data under ./data), like
    /// connect-standalone with its broker and a schema registry included.
    Standalone {
        /// A worker .properties file.
        worker_config: Option<PathBuf>,
        /// Connector configs (.properties or .json) to create or update at start.
        connectors: Vec<PathBuf>,
        /// Override a broker config, key=value; repeatable.
        #[arg(long = "override")]
        overrides: Vec<String>,
        /// Override a worker config, key=value; repeatable.
        #[arg(long = "worker-override")]
        worker_overrides: Vec<String>,
        /// Override a schema registry config, key=value; repeatable.
        #[arg(long = "registry-override")]
        registry_overrides: Vec<String>,
        /// Check the configuration (file, environment, overrides) and exit: non-zero if a key
        /// would be ignored or a value refused. Binds nothing and touches no data.
        #[arg(long)]
        check: bool,
    },
    /// Run the schema registry alone against any Kafka cluster
    /// (`kafkastore.bootstrap.servers`), like schema-registry-start.
    Registry {
        /// A schema-registry.properties file.
        config: Option<PathBuf>,
        /// Override a config, key=value; repeatable.
        #[arg(long = "override")]
        overrides: Vec<String>,
        /// Check the configuration (file, environment, overrides) and exit: non-zero if a key
        /// would be ignored or a value refused. Binds nothing and touches no data.
        #[arg(long)]
        check: bool,
    },
    /// Run a Connect worker against any Kafka cluster (`bootstrap.servers`), like
    /// connect-distributed.
    Worker {
        /// A worker .properties file.
        worker_config: Option<PathBuf>,
        /// Connector configs (.properties or .json) to create or update at start.
        connectors: Vec<PathBuf>,
        /// Override a worker config, key=value; repeatable.
        #[arg(long = "override")]
        overrides: Vec<String>,
        /// Check the configuration (file, environment, overrides) and exit: non-zero if a key
        /// would be ignored or a value refused. Binds nothing and touches no data.
        #[arg(long)]
        check: bool,
    },
    /// Create, list, describe, alter and delete topics, like kafka-topics.
    Topics(cli::topics::TopicsArgs),
    /// List, describe, reset and delete consumer groups, like kafka-consumer-groups.
    Groups(cli::groups::GroupsArgs),
    /// Send lines from stdin as records, like kafka-console-producer.
    Produce(cli::produce::ProduceArgs),
    /// Print records, like kafka-console-consumer.
    Consume(cli::consume::ConsumeArgs),
    /// Dry-run a connector config's transforms and predicates on JSON record lines from stdin.
    Transform(cli::transform::TransformArgs),
}

/// Raises the soft limit on open files to the hard one: every partition and client connection
/// holds files, and the soft default (often 1024) is far below what the system allows.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "could not raise the open-file limit");
        }
    }
}

fn main() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    // A dry run needs no runtime and answers with its own exit status.
    let command = match cli.command {
        Command::Transform(args) => {
            return Ok(std::process::ExitCode::from(cli::transform::run(&args)))
        }
        other => other,
    };
    if let Some(services) = services_to_check(&command)? {
        return Ok(config_check::run(services));
    }
    let log_control = logging::init(cli.log_format == LogFormat::Json);
    raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = run(command, &runtime, log_control);
    // A client call stuck on an unreachable cluster must not keep the process alive once
    // everything has been stopped.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result.map(|()| std::process::ExitCode::SUCCESS)
}

fn run(
    command: Command,
    runtime: &tokio::runtime::Runtime,
    log_control: Arc<logging::FilterControl>,
) -> Result<()> {
    match command {
        Command::Broker {
            config, overrides, ..
        } => {
            let props = broker_properties(config.as_deref(), &overrides)?;
            until_signal(runtime, |stop| run_broker(props, stop))
        }
        Command::Standalone {
            worker_config,
            connectors,
            overrides,
            worker_overrides,
            registry_overrides,
            ..
        } => {
            let (broker, worker, registry) = standalone_properties(
                worker_config.as_deref(),
                &overrides,
                &worker_overrides,
                &registry_overrides,
            )?;
            // The broker serves from threads of its own: no connector, REST request or registry
            // check ever runs on them.
            let broker_runtime = tokio::runtime::Builder::new_multi_thread()
                .thread_name("broker")
                .enable_all()
                .build()
                .context("starting the broker's runtime")?;
            let result = runtime.block_on(run_standalone(
                broker,
                broker_runtime.handle(),
                worker,
                registry,
                connectors,
                log_control,
            ));
            broker_runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            result
        }
        Command::Registry {
            config, overrides, ..
        } => {
            let props = registry_properties(config.as_deref(), &overrides)?;
            until_signal(runtime, |stop| {
                run_registry(props, "http://0.0.0.0:8081", stop)
            })
        }
        Command::Worker {
            worker_config,
            connectors,
            overrides,
            ..
        } => {
            let worker = worker_properties(worker_config.as_deref(), &overrides)?;
            until_signal(runtime, |stop| {
                run_worker(worker, "http://:8083", None, connectors, log_control, stop)
            })
        }
        Command::Topics(args) => runtime.block_on(cli::topics::run(args)),
        Command::Groups(args) => runtime.block_on(cli::groups::run(args)),
        Command::Produce(args) => cli::produce::run(args),
        Command::Consume(args) => cli::consume::run(args),
        // Handled in `main`, before any runtime starts.
        Command::Transform(args) => std::process::exit(i32::from(cli::transform::run(&args))),
    }
}

/// The services a `--check` run would read, layered as their start would; `None` when the
/// command is not a service started with `--check`.
fn services_to_check(command: &Command) -> Result<Option<Vec<config_check::Service>>> {
    use config_check::Service;
    let services = match command {
        Command::Broker {
            config,
            overrides,
            check: true,
        } => vec![Service::Broker(broker_properties(
            config.as_deref(),
            overrides,
        )?)],
        Command::Standalone {
            worker_config,
            connectors,
            overrides,
            worker_overrides,
            registry_overrides,
            check: true,
        } => {
            let (broker, worker, registry) = standalone_properties(
                worker_config.as_deref(),
                overrides,
                worker_overrides,
                registry_overrides,
            )?;
            vec![
                Service::Broker(broker),
                Service::Worker {
                    props: worker,
                    connectors: connectors.clone(),
                },
                Service::Registry(registry),
            ]
        }
        Command::Registry {
            config,
            overrides,
            check: true,
        } => vec![Service::Registry(registry_properties(
            config.as_deref(),
            overrides,
        )?)],
        Command::Worker {
            worker_config,
            connectors,
            overrides,
            check: true,
        } => vec![Service::Worker {
            props: worker_properties(worker_config.as_deref(), overrides)?,
            connectors: connectors.clone(),
        }],
        _ => return Ok(None),
    };
    Ok(Some(services))
}

/// `sluice broker`'s keys: its file, `KAFKA_*` variables, `--override` flags.
fn broker_properties(file: Option<&std::path::Path>, overrides: &[String]) -> Result<Properties> {
    layered_properties(file, "KAFKA", overrides, "--override")
}

/// `sluice worker`'s keys: its file, `CONNECT_*` variables, `--override` flags.
fn worker_properties(file: Option<&std::path::Path>, overrides: &[String]) -> Result<Properties> {
    layered_properties(file, "CONNECT", overrides, "--override")
}

/// `sluice registry`'s keys: its file, `SCHEMA_REGISTRY_*` variables, `--override` flags.
fn registry_properties(file: Option<&std::path::Path>, overrides: &[String]) -> Result<Properties> {
    layered_properties(file, "SCHEMA_REGISTRY", overrides, "--override")
}

/// The broker's, worker's and registry's keys for `sluice standalone`.
fn standalone_properties(
    worker_config: Option<&std::path::Path>,
    overrides: &[String],
    worker_overrides: &[String],
    registry_overrides: &[String],
) -> Result<(Properties, Properties, Properties)> {
    // A first consumer should not wait for company on a single machine.
    let defaults = properties::parse(
        "listeners=PLAINTEXT://127.0.0.1:9092\nlog.dirs=./data/broker\ngroup.initial.rebalance.delay.ms=0\n",
    )?;
    let broker = properties::layer([
        defaults,
        properties::from_env("KAFKA", std::env::vars()),
        properties::parse_overrides(overrides, "--override")?,
    ]);
    // As Kafka's connect-standalone.properties ships it: offsets (and with them spooldir's
    // finished files) are committed every 10 s rather than every minute.
    let worker = properties::layer([
        properties::parse("offset.flush.interval.ms=10000\n")?,
        layered_properties(
            worker_config,
            "CONNECT",
            worker_overrides,
            "--worker-override",
        )?,
    ]);
    let registry = layered_properties(
        None,
        "SCHEMA_REGISTRY",
        registry_overrides,
        "--registry-override",
    )?;
    Ok((broker, worker, registry))
}

/// The broker's config, with its warnings logged, and its bound listeners, one per endpoint
/// (not yet tied to a runtime: the broker takes them on its own).
fn bind_broker(
    props: &Properties,
) -> Result<(sluice_broker::BrokerConfig, Vec<std::net::TcpListener>)> {
    let (config, warnings) = sluice_broker::BrokerConfig::from_properties(props)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let mut listeners = Vec::with_capacity(config.endpoints.len());
    for endpoint in &config.endpoints {
        let address = endpoint.bind.bind_address();
        let listener = std::net::TcpListener::bind(&address)
            .with_context(|| format!("binding the broker listener {}", endpoint.bind))?;
        listener.set_nonblocking(true)?;
        listeners.push(listener);
    }
    Ok((config, listeners))
}

/// Runs the broker on the runtime it is spawned on, with the listeners bound before.
async fn serve_broker(
    config: sluice_broker::BrokerConfig,
    listeners: Vec<std::net::TcpListener>,
    shutdown: CancellationToken,
) -> Result<()> {
    let listeners = listeners
        .into_iter()
        .map(tokio::net::TcpListener::from_std)
        .collect::<std::io::Result<Vec<_>>>()?;
    sluice_broker::run(config, listeners, shutdown).await?;
    Ok(())
}

async fn run_broker(props: Properties, shutdown: CancellationToken) -> Result<()> {
    let (config, listeners) = bind_broker(&props)?;
    serve_broker(config, listeners, shutdown).await
}

/// Runs a service to its end; SIGINT or SIGTERM cancels the token it was given.
fn until_signal<F>(
    runtime: &tokio::runtime::Runtime,
    service: impl FnOnce(CancellationToken) -> F,
) -> Result<()>
where
    F: std::future::Future<Output = Result<()>>,
{
    let stop = CancellationToken::new();
    runtime.block_on(async {
        tokio::spawn(cancel_on_signal(stop.clone()));
        service(stop).await
    })
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
    token.cancel();
}

/// A service's keys: its file, then `<env_prefix>_*` variables (as the Confluent images
/// name them), then the `flag` overrides.
fn layered_properties(
    file: Option<&std::path::Path>,
    env_prefix: &str,
    overrides: &[String],
    flag: &str,
) -> Result<Properties> {
    let file = match file {
        Some(path) => properties::load_file(path)?,
        None => Properties::new(),
    };
    Ok(properties::layer([
        file,
        properties::from_env(env_prefix, std::env::vars()),
        properties::parse_overrides(overrides, flag)?,
    ]))
}

/// The schema registry until `shutdown`.
async fn run_registry(
    props: Properties,
    default_listener: &str,
    shutdown: CancellationToken,
) -> Result<()> {
    let (config, listener) = bind_registry(&props, default_listener).await?;
    sluice_schema_registry::run(config, listener, shutdown).await?;
    Ok(())
}

/// The registry's config and its bound listener.
async fn bind_registry(
    props: &Properties,
    default_listener: &str,
) -> Result<(
    sluice_schema_registry::RegistryConfig,
    tokio::net::TcpListener,
)> {
    let (config, ignored) =
        sluice_schema_registry::RegistryConfig::from_properties(props, default_listener)?;
    for key in ignored {
        tracing::warn!(key = %key, "schema registry setting not used by Sluice");
    }
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("binding the schema registry listener {}", config.bind))?;
    Ok((config, listener))
}

/// The broker, a worker and a schema registry using it; on a signal the worker and registry
/// stop first, so the worker's tasks commit their offsets to the broker, then the broker.
async fn run_standalone(
    broker_props: Properties,
    broker_runtime: &tokio::runtime::Handle,
    mut worker_props: Properties,
    mut registry_props: Properties,
    connectors: Vec<PathBuf>,
    log_control: Arc<logging::FilterControl>,
) -> Result<()> {
    let (config, listeners) = bind_broker(&broker_props)?;
    // The embedded services use the first listener, as a client given it would.
    let local = listeners
        .first()
        .context("the broker has no listener")?
        .local_addr()?;
    let bootstrap = if local.ip().is_unspecified() {
        format!("127.0.0.1:{}", local.port())
    } else {
        local.to_string()
    };
    registry_props
        .entry("kafkastore.bootstrap.servers".into())
        .or_insert(bootstrap.clone());
    worker_props
        .entry("bootstrap.servers".into())
        .or_insert(bootstrap);
    let broker_stop = CancellationToken::new();
    let broker = broker_runtime.spawn(serve_broker(config, listeners, broker_stop.clone()));
    let worker_stop = CancellationToken::new();
    tokio::spawn(cancel_on_signal(worker_stop.clone()));
    let registry_stop = worker_stop.clone();
    let (registry_config, registry_listener) =
        bind_registry(&registry_props, "http://127.0.0.1:8081").await?;
    // Every AvroConverter without a schema.registry.url of its own uses the embedded registry.
    let registry_addr = registry_listener.local_addr()?;
    let registry_url = if registry_addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", registry_addr.port())
    } else {
        format!("http://{registry_addr}")
    };
    let registry = tokio::spawn(async move {
        let served = sluice_schema_registry::run(registry_config, registry_listener, registry_stop)
            .await
            .map_err(anyhow::Error::from);
        if let Err(e) = &served {
            tracing::error!(error = %e, "the schema registry stopped");
        }
        served
    });
    let worker = run_worker(
        worker_props,
        "http://127.0.0.1:8083",
        Some(registry_url),
        connectors,
        log_control,
        worker_stop.clone(),
    )
    .await;
    // The worker returns on a signal or an error; either way the registry stops with it.
    worker_stop.cancel();
    let registry = registry.await.context("the schema registry task")?;
    broker_stop.cancel();
    let broker = broker.await.context("the broker task")?;
    worker?;
    registry?;
    broker?;
    Ok(())
}

/// A Connect worker: the herder, the connectors given on the command line, and the REST API.
async fn run_worker(
    props: Properties,
    default_listener: &str,
    registry_url: Option<String>,
    connectors: Vec<PathBuf>,
    log_control: Arc<logging::FilterControl>,
    shutdown: CancellationToken,
) -> Result<()> {
    use sluice_runtime::herder::Herder;
    let (mut config, warnings) =
        sluice_runtime::config::WorkerConfig::from_properties(&props, default_listener)?;
    for warning in warnings {
        tracing::warn!("{}", warning.0);
    }
    config.schema_registry_url = registry_url;
    let files = connectors
        .iter()
        .map(|path| connector_files::load(path))
        .collect::<Result<Vec<_>>>()?;
    let bind = config.rest_bind.clone();
    let bind = if bind.starts_with(':') {
        format!("0.0.0.0{bind}")
    } else {
        bind
    };
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("binding the REST listener {bind}"))?;
    // An ephemeral port (listeners=http://host:0) is named by the port it got.
    if let Some(host) = config.worker_id.strip_suffix(":0") {
        config.worker_id = format!("{host}:{}", listener.local_addr()?.port());
    }
    let herder = tokio::select! {
        herder = Herder::start(config, sluice_connectors::plugins()) => herder?,
        _ = shutdown.cancelled() => return Ok(()),
    };
    for file in files {
        let exists = herder.connectors().await.contains(&file.name);
        let result = if exists {
            herder.put_config(&file.name, file.config).await.map(|_| ())
        } else {
            herder
                .create(&file.name, file.config, file.initial_state)
                .await
                .map(|_| ())
        };
        if let Err(e) = result {
            tracing::error!(connector = %file.name, error = %e, "could not start the connector");
        }
    }
    let loggers = Arc::new(sluice_runtime::rest::loggers::Loggers::new(
        "INFO",
        Some(log_control),
    ));
    tracing::info!(address = %listener.local_addr()?, "Connect REST API listening");
    let served =
        sluice_runtime::rest::serve(listener, Arc::clone(&herder), loggers, shutdown).await;
    herder.shutdown().await;
    served.context("serving the REST API")
}
