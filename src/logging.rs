//! Logging through `tracing`, with a filter the Connect REST API can change live
//! (`/admin/loggers`).

use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Swaps the active filter.
pub struct FilterControl {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl sluice_runtime::rest::loggers::LogControl for FilterControl {
    fn apply(&self, directives: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

/// Logs to stderr, as text or JSON lines; `RUST_LOG` sets the starting filter (default info).
pub fn init(json: bool) -> Arc<FilterControl> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .init();
    }
    Arc::new(FilterControl { handle })
}
