//! The `sluice` binary: parses arguments, layers configuration, starts services and handles
//! shutdown.

mod cli;
mod properties;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use properties::Properties;

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

#[derive(Debug, Clone, Copy, ValueEnum)]
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
    },
    /// Run everything embedded on this machine, with data under ./data.
    Standalone {
        /// Override a broker config, key=value; repeatable.
        #[arg(long = "override")]
        overrides: Vec<String>,
    },
    /// Create, list, describe, alter and delete topics, like kafka-topics.
    Topics(cli::topics::TopicsArgs),
    /// List, describe, reset and delete consumer groups, like kafka-consumer-groups.
    Groups(cli::groups::GroupsArgs),
    /// Send lines from stdin as records, like kafka-console-producer.
    Produce(cli::produce::ProduceArgs),
    /// Print records, like kafka-console-consumer.
    Consume(cli::consume::ConsumeArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        Command::Broker { config, overrides } => {
            let file = match config {
                Some(path) => properties::load_file(&path)?,
                None => Properties::new(),
            };
            let props = properties::layer([
                file,
                properties::from_env("KAFKA", std::env::vars()),
                properties::parse_overrides(&overrides, "--override")?,
            ]);
            runtime.block_on(run_broker(props))
        }
        Command::Standalone { overrides } => {
            // A first consumer should not wait for company on a single machine.
            let defaults =
                properties::parse("log.dirs=./data/broker\ngroup.initial.rebalance.delay.ms=0\n")?;
            let props = properties::layer([
                defaults,
                properties::from_env("KAFKA", std::env::vars()),
                properties::parse_overrides(&overrides, "--override")?,
            ]);
            runtime.block_on(run_broker(props))
        }
        Command::Topics(args) => runtime.block_on(cli::topics::run(args)),
        Command::Groups(args) => runtime.block_on(cli::groups::run(args)),
        Command::Produce(args) => cli::produce::run(args),
        Command::Consume(args) => cli::consume::run(args),
    }
}

async fn run_broker(props: Properties) -> Result<()> {
    let (config, warnings) = sluice_broker::BrokerConfig::from_properties(&props)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let address = config.listener.bind_address();
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("binding the broker listener {address}"))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    sluice_broker::run(config, listener, shutdown).await?;
    Ok(())
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

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
