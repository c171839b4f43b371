//! A source task: the tables it was given (or the query), each queried when due, the one due
//! first going next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::AnyPool;

use sluice_connect_api::{
    BoxFuture, ConnectError, OffsetReader, Props, Result, SourceRecord, SourceTask,
};

use super::super::catalog::TableId;
use super::super::connection::connect;
use super::config::SourceConfig;
use super::querier::{Querier, Target};

/// The task config key holding the task's tables, as a JSON array of `[catalog, schema, name]`.
pub const TABLES_KEY: &str = "tables";

/// How long one `poll` waits for a table to fall due before returning nothing: short, so a
/// stop is never kept waiting for a poll interval.
const MAX_WAIT: Duration = Duration::from_millis(250);

pub fn tables_to_prop(tables: &[TableId]) -> String {
    let parts: Vec<[Option<&str>; 3]> = tables
        .iter()
        .map(|t| {
            [
                t.catalog.as_deref(),
                t.schema.as_deref(),
                Some(t.name.as_str()),
            ]
        })
        .collect();
    serde_json::to_string(&parts).unwrap_or_else(|_| "[]".into())
}

fn tables_from_prop(text: &str) -> Result<Vec<TableId>> {
    let parts: Vec<[Option<String>; 3]> =
        serde_json::from_str(text).map_err(|e| ConnectError::Config {
            key: TABLES_KEY.into(),
            message: format!("not a list of tables: {e}"),
        })?;
    Ok(parts
        .into_iter()
        .map(|[catalog, schema, name]| TableId {
            catalog,
            schema,
            name: name.unwrap_or_default(),
        })
        .collect())
}

#[derive(Default)]
pub struct JdbcSourceTask {
    config: Option<SourceConfig>,
    queriers: Vec<Querier>,
    pool: Option<AnyPool>,
}

impl JdbcSourceTask {
    async fn next(&mut self) -> Result<Vec<SourceRecord>> {
        let Some(config) = self.config.clone() else {
            return Err(ConnectError::Fatal("the task was not started".into()));
        };
        let Some(index) = (0..self.queriers.len()).min_by_key(|&i| self.queriers[i].due) else {
            tokio::time::sleep(MAX_WAIT).await;
            return Ok(Vec::new());
        };
        let wait = self.queriers[index]
            .due
            .saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait.min(MAX_WAIT)).await;
            if wait > MAX_WAIT {
                return Ok(Vec::new());
            }
        }
        let pool = match &self.pool {
            Some(pool) => pool.clone(),
            None => match connect(&config.database).await {
                Ok(pool) => {
                    self.pool = Some(pool.clone());
                    pool
                }
                Err(e) => {
                    self.queriers[index].failed(config.connection_backoff);
                    return Err(e);
                }
            },
        };
        match self.queriers[index].poll(&pool, &config).await {
            Ok(records) => Ok(records),
            Err(e) => {
                if e.is_retriable() {
                    // The connection may be what failed: the next try opens a new one.
                    self.pool = None;
                    self.queriers[index].failed(config.connection_backoff);
                }
                Err(e)
            }
        }
    }
}

impl SourceTask for JdbcSourceTask {
    fn start(&mut self, props: &Props, offsets: Arc<dyn OffsetReader>) -> Result<()> {
        let config = SourceConfig::parse(props)?;
        let targets = match &config.query {
            Some(query) => vec![Target::Query(query.clone())],
            None => tables_from_prop(props.get(TABLES_KEY).map_or("[]", String::as_str))?
                .into_iter()
                .map(Target::Table)
                .collect(),
        };
        self.queriers = targets
            .into_iter()
            .map(|target| Querier::new(target, &config, offsets.as_ref()))
            .collect();
        self.config = Some(config);
        Ok(())
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>> {
        Box::pin(self.next())
    }

    fn stop(&mut self) -> Result<()> {
        self.pool = None;
        Ok(())
    }
}
