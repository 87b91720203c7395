//! The `edge` binary: parses the command line, sets up logging and runs `serve` or `check`.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use edge::cli::{CheckArgs, Cli, Command, ServeArgs};
use edge::server::LogFormat;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "edge stopped");
                eprintln!("edge: {err:#}");
                ExitCode::FAILURE
            }
        },
        Command::Precompile(args) => {
            match edge::plugin_runtime::precompile_to_file(
                &args.wasm,
                &args.out,
                &args.runtime_config(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("edge __precompile-plugin: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check(args) => match check(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("edge check: {err:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    // Flushes buffered log lines when `serve` returns.
    let _log_guard = init_logging(args.log_format());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let edge = edge::server::start(args.to_config())
            .await
            .context("edge failed to start")?;
        edge.wait().await;
        tracing::info!("edge stopped");
        Ok(())
    })
}

/// Prints every diagnostic on stdout and a summary on stderr; true when all files are valid.
fn check(args: &CheckArgs) -> anyhow::Result<bool> {
    let loader = edge::server::check_loader(
        args.plugin.as_deref(),
        args.cache_dir.as_deref(),
        args.internal_hosts(),
    )
    .context("cannot load the plugin")?;
    let outcome = edge::check::check_files(&loader, &args.files);
    let mut stdout = std::io::stdout().lock();
    for line in &outcome.lines {
        writeln!(stdout, "{line}")?;
    }
    stdout.flush()?;
    eprintln!(
        "checked {} file(s): {} valid, {} invalid",
        outcome.files,
        outcome.files - outcome.invalid_files,
        outcome.invalid_files
    );
    Ok(outcome.all_valid())
}

/// Logs go to stderr through a background writer thread, so a request never waits on a
/// terminal or pipe; `RUST_LOG` overrides the default `info` level.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal; piped or collected logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
    guard
}
