//! `sluice transform`: a dry run of a connector config's transforms and predicates on records
//! read from stdin, one JSON line each, written to stdout in the order read. Exit status 0 when
//! every record went through (dropped ones included), 1 when any failed, 2 when the config is
//! wrong.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;
use sluice_runtime::dry_run::{configure_error, DryRun, Form, Outcome};

#[derive(Debug, Args)]
pub struct TransformArgs {
    /// A connector config: .json (flat, or {"name", "config"}) or .properties.
    #[arg(long)]
    config: PathBuf,
    /// How keys and values are given: JsonConverter envelopes, or {"bytes": base64} read with
    /// the config's converters.
    #[arg(long, value_enum, default_value_t = FormArg::Envelope)]
    input: FormArg,
    /// How keys and values are written, as for --input.
    #[arg(long, value_enum, default_value_t = FormArg::Envelope)]
    output: FormArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormArg {
    Envelope,
    Raw,
}

impl From<FormArg> for Form {
    fn from(form: FormArg) -> Self {
        match form {
            FormArg::Envelope => Form::Envelope,
            FormArg::Raw => Form::Raw,
        }
    }
}

/// Every record went through.
pub const ALL_DONE: u8 = 0;
/// At least one record failed.
pub const SOME_FAILED: u8 = 1;
/// The config is wrong; nothing was read.
pub const BAD_CONFIG: u8 = 2;

/// Runs the dry run; returns the exit status.
pub fn run(args: &TransformArgs) -> u8 {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let configured = crate::connector_files::load_config(&args.config)
        .map_err(|e| json!({"error": {"phase": "configure", "message": format!("{e:#}")}}))
        .and_then(|props| {
            DryRun::from_config(&props, args.input.into(), args.output.into())
                .map_err(|e| configure_error(&e))
        });
    let mut dry_run = match configured {
        Ok(d) => d,
        Err(line) => {
            // Nothing more can be said if stdout is gone.
            let _ = writeln!(out, "{line}").and_then(|()| out.flush());
            return BAD_CONFIG;
        }
    };
    // Someone typing records wants each answer at once; a pipe is better served in bulk.
    let interactive = std::io::stdin().is_terminal();
    let mut status = ALL_DONE;
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("sluice transform: reading stdin: {e}");
                status = SOME_FAILED;
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let outcome = dry_run.run_line(&line);
        if matches!(outcome, Outcome::Failed(_)) {
            status = SOME_FAILED;
        }
        let written = writeln!(out, "{}", outcome.line()).and_then(|()| {
            if interactive {
                out.flush()
            } else {
                Ok(())
            }
        });
        if written.is_err() {
            // A closed pipe (`| head`): the reader wants no more.
            return status;
        }
    }
    let _ = out.flush();
    status
}
