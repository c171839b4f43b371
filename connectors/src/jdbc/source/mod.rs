//! `io.confluent.connect.jdbc.JdbcSourceConnector`: rows of tables (or of one query) into
//! topics, in Confluent's four modes. The connector lists the tables to copy, splits them
//! between the tasks, and lists them again every `table.poll.interval.ms`, asking the worker
//! for new task configs when they changed.

mod config;
mod querier;
mod task;

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_connect_api::{
    ConfigDef, ConnectError, Connector, ConnectorContext, Props, Result, SourceConnector,
    SourceTask,
};

use super::catalog::{list_tables, TableId};
use super::connection::{block_on, connect};

pub use config::{config_def, SourceConfig};
pub use task::JdbcSourceTask;

use querier::{Plan, Target};
use task::{tables_to_prop, TABLES_KEY};

/// The tables `config` selects, as the database lists them now.
async fn selected_tables(pool: &sqlx::AnyPool, config: &SourceConfig) -> Result<Vec<TableId>> {
    let schema_pattern = Some(config.schema_pattern.as_str());
    let tables = list_tables(
        pool,
        config.database.dialect,
        &config.table_types,
        schema_pattern,
    )
    .await?;
    Ok(tables.into_iter().filter(|t| config.selects(t)).collect())
}

/// Lists the tables until told to stop; `first` gets the first listing (or its error).
fn watch_tables(
    config: SourceConfig,
    tables: Arc<Mutex<Vec<TableId>>>,
    context: Arc<dyn ConnectorContext>,
    stop: mpsc::Receiver<()>,
    first: mpsc::Sender<Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = first.send(Err(ConnectError::Fatal(format!("starting a runtime: {e}"))));
            return;
        }
    };
    let mut failures = 0;
    let mut first = Some(first);
    let mut pool = None;
    loop {
        let listed = runtime.block_on(async {
            if pool.is_none() {
                pool = Some(connect(&config.database).await?);
            }
            match &pool {
                Some(pool) => selected_tables(pool, &config).await,
                None => Ok(Vec::new()),
            }
        });
        let wait = match listed {
            Ok(found) => {
                failures = 0;
                let changed = match tables.lock() {
                    Ok(mut known) if *known != found => {
                        *known = found;
                        true
                    }
                    _ => false,
                };
                match first.take() {
                    Some(first) => {
                        let _ = first.send(Ok(()));
                    }
                    None if changed => context.request_task_reconfiguration(),
                    None => {}
                }
                config.table_poll_interval
            }
            Err(e) => {
                pool = None;
                failures += 1;
                if failures >= config.connection_attempts {
                    match first.take() {
                        Some(first) => {
                            let _ = first.send(Err(e));
                        }
                        None => context.raise_error(ConnectError::Fatal(format!(
                            "listing the tables failed {failures} times: {e}"
                        ))),
                    }
                    return;
                }
                tracing::warn!(error = %e, "listing tables failed; trying again");
                config.connection_backoff
            }
        };
        match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

#[derive(Default)]
pub struct JdbcSourceConnector {
    props: Props,
    config: Option<SourceConfig>,
    tables: Arc<Mutex<Vec<TableId>>>,
    watcher: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Connector for JdbcSourceConnector {
    fn version(&self) -> String {
        crate::file::VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, props: &Props, context: Arc<dyn ConnectorContext>) -> Result<()> {
        let config = SourceConfig::parse(props)?;
        self.props = props.clone();
        if config.query.is_none() {
            let (stop_tx, stop_rx) = mpsc::channel();
            let (first_tx, first_rx) = mpsc::channel();
            let watched = config.clone();
            let tables = Arc::clone(&self.tables);
            let handle = std::thread::Builder::new()
                .name("jdbc-tables".into())
                .spawn(move || watch_tables(watched, tables, context, stop_rx, first_tx))
                .map_err(|e| ConnectError::Fatal(format!("starting the table watcher: {e}")))?;
            self.watcher = Some((stop_tx, handle));
            // The first listing decides the first task configs; a database that does not
            // answer in time leaves them empty until it does.
            if let Ok(Err(e)) = first_rx.recv_timeout(Duration::from_secs(10)) {
                self.stop()?;
                return Err(e);
            }
        }
        self.config = Some(config);
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        let Some(config) = &self.config else {
            return Ok(Vec::new());
        };
        if config.query.is_some() {
            return Ok(vec![self.props.clone()]);
        }
        let tables = self
            .tables
            .lock()
            .map(|t| t.clone())
            .map_err(|_| ConnectError::Fatal("the table list is poisoned".into()))?;
        let groups = max_tasks.max(1).min(tables.len());
        Ok((0..groups)
            .map(|g| {
                let mine: Vec<TableId> = tables.iter().skip(g).step_by(groups).cloned().collect();
                let mut props = self.props.clone();
                props.insert(TABLES_KEY.into(), tables_to_prop(&mine));
                props
            })
            .collect())
    }

    fn stop(&mut self) -> Result<()> {
        if let Some((stop, handle)) = self.watcher.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
        Ok(())
    }

    /// Checks the config against the database: that it answers, that the listed tables exist,
    /// and that the mode's columns are there with types that fit.
    fn validate_config(&self, props: &Props) -> Vec<(String, String)> {
        if config_def().parse(props).is_err() {
            // Each key's own error is reported by the framework.
            return Vec::new();
        }
        let config = match SourceConfig::parse(props) {
            Ok(c) => c,
            Err(ConnectError::Config { key, message }) => return vec![(key, message)],
            Err(other) => return vec![("connection.url".into(), other.to_string())],
        };
        let checked = block_on(async {
            let pool = tokio::time::timeout(Duration::from_secs(10), connect(&config.database))
                .await
                .map_err(|_| ConnectError::Retriable("the database did not answer in 10 s".into()))
                .and_then(|r| r)
                .map_err(|e| vec![("connection.url".to_string(), e.to_string())])?;
            let mut errors = Vec::new();
            let targets = match &config.query {
                Some(query) => vec![Target::Query(query.clone())],
                None => {
                    let tables = selected_tables(&pool, &config)
                        .await
                        .map_err(|e| vec![("connection.url".to_string(), e.to_string())])?;
                    for wanted in &config.whitelist {
                        if !tables
                            .iter()
                            .any(|t| t.name == *wanted || t.qualified() == *wanted)
                        {
                            errors.push((
                                "table.whitelist".to_string(),
                                format!("table {wanted} does not exist"),
                            ));
                        }
                    }
                    tables.into_iter().map(Target::Table).collect()
                }
            };
            for target in &targets {
                let planned = match target.columns(&pool, config.database.dialect).await {
                    Ok(columns) => Plan::build(&config, target, columns, config.batch_max_rows),
                    Err(e) => Err(e),
                };
                if let Err(e) = planned {
                    errors.push(match e {
                        ConnectError::Config { key, message } => (key, message),
                        other => (config.tables_key().to_string(), other.to_string()),
                    });
                }
            }
            pool.close().await;
            Ok::<_, Vec<(String, String)>>(errors)
        });
        match checked {
            Ok(Ok(errors)) | Ok(Err(errors)) => errors,
            Err(e) => vec![("connection.url".into(), e.to_string())],
        }
    }
}

impl Drop for JdbcSourceConnector {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl SourceConnector for JdbcSourceConnector {
    fn new_task(&self) -> Box<dyn SourceTask> {
        Box::new(JdbcSourceTask::default())
    }
}
