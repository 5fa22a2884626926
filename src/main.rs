//! `vexfs-unified-server`: command line, configuration, logging; then the runtime.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vexfs_server::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "vexfs-unified-server",
    version,
    about = "Thread-per-core io_uring vector database speaking Qdrant's REST API"
)]
struct Cli {
    /// TOML configuration file; without it the embedded defaults apply.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides [server] host).
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on (overrides [server] port).
    #[arg(long)]
    port: Option<u16>,
    /// Data directory (overrides [storage] path).
    #[arg(long, value_name = "DIR")]
    storage_path: Option<PathBuf>,
    /// Executor threads, one pinned per CPU; 0 = all (overrides [runtime] cores).
    #[arg(long)]
    cores: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        },
        None => Config::default(),
    };
    config.apply_env();
    if let Some(h) = cli.host {
        config.server.host = h;
    }
    if let Some(p) = cli.port {
        config.server.port = p;
    }
    if let Some(s) = cli.storage_path {
        config.storage.path = s;
    }
    if let Some(c) = cli.cores {
        config.runtime.cores = c;
    }
    if let Err(e) = config.validate() {
        return fail(&e);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level));
    let filter = match filter {
        Ok(f) => f,
        Err(e) => return fail(&format!("log.level {:?}: {e}", config.log.level)),
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    tracing::info!(
        host = %config.server.host,
        port = config.server.port,
        storage = %config.storage.path.display(),
        "starting vexfs-unified-server {}",
        env!("CARGO_PKG_VERSION")
    );
    match vexfs_server::runtime::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("vexfs-unified-server: {msg}");
    ExitCode::FAILURE
}
