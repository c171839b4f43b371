//! Connectors bundled with Sluice. [`plugins`] lists them for the worker.

pub mod file;

use sluice_connect_api::PluginDesc;

/// Every connector class this crate provides.
pub fn plugins() -> Vec<PluginDesc> {
    vec![file::source_plugin(), file::sink_plugin()]
}
