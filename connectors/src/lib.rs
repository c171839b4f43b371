//! Connectors bundled with Sluice. [`plugins`] lists them for the worker.

pub mod file;
pub mod http;
pub mod jdbc;
pub mod spooldir;

use sluice_connect_api::PluginDesc;

/// Every connector class this crate provides.
pub fn plugins() -> Vec<PluginDesc> {
    let mut plugins = vec![
        file::source_plugin(),
        file::sink_plugin(),
        http::plugin(),
        jdbc::sink_plugin(),
        jdbc::source_plugin(),
    ];
    plugins.extend(spooldir::plugins());
    plugins
}
