//! The `deaap-gen` binary: parse the command line, run, map to an exit code.

use clap::Parser;

/// Compiling allocates many small, short-lived values (YAML nodes, Rego values); mimalloc serves
/// them markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = match deaap_gen::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are successes; any other usage error is invalid input.
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    std::process::ExitCode::from(deaap_gen::cli::run(cli))
}
