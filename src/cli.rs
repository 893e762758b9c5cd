//! The command line (README "Command line"). Exit codes follow diff(1) and `kubectl diff`:
//! 0 ok / no drift, 1 drift, 2 invalid input or any failure. Diagnostics and logs go to stderr;
//! stdout carries only what was asked for.

use crate::diagnostic::{Diagnostic, render};
use crate::ops::build::Written;
use crate::ops::diff::Drift;
use crate::ops::{self, Compilation, Error, Status, Workspace};
use crate::output::lock::Wait;
use crate::output::{self, ChangeKind};
use crate::source::SourceMap;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  deaap-gen build environments/production.toml     write generated/production/
  deaap-gen build                                  every environment in environments/
  deaap-gen build --check                          exit 1 if generated/ is stale (CI)
  deaap-gen validate environments/ --format json   diagnostics as JSON lines
  deaap-gen diff                                   show how generated/ differs from the model
  deaap-gen check                                  prove admission, network flows and alerts
  deaap-gen check --flows environments/staging.toml   every connection, allowed or denied, and why
  deaap-gen graph environments/production.toml --format dot | dot -Tsvg > graph.svg
  deaap-gen render environments/staging.toml | kubectl apply -f -
  deaap-gen schema > deaap-environment.schema.json
  deaap-gen explain DG0201
  deaap-gen explain                                every diagnostic code";

#[derive(Debug, Parser)]
#[command(name = "deaap-gen", version, about = "Compile DEAAP environment models into deployment artifacts", after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate and write every artifact to <out-dir>/<environment>/
    Build {
        #[command(flatten)]
        inputs: Inputs,
        /// Output folder
        #[arg(short, long, default_value = "generated")]
        out_dir: PathBuf,
        /// Write nothing; exit 1 if the output folder differs from what would be written
        #[arg(long)]
        check: bool,
        /// Fail at once instead of waiting when another build is writing the output folder
        #[arg(long)]
        no_wait: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Validate environment files and report every problem
    Validate {
        #[command(flatten)]
        inputs: Inputs,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Compare the committed output with what the model compiles to (exit 1 on drift)
    Diff {
        #[command(flatten)]
        inputs: Inputs,
        /// The committed output folder
        #[arg(long, default_value = "generated")]
        against: PathBuf,
        /// Write the new output instead (same as build)
        #[arg(long)]
        update: bool,
        /// Print only the summary
        #[arg(long)]
        stat: bool,
        /// With --update: fail at once instead of waiting when another build is writing
        #[arg(long)]
        no_wait: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print every Kubernetes object of one environment as one YAML stream
    Render {
        /// The environment file
        env_path: PathBuf,
    },
    /// Prove that each environment works as one deployed system: its generated objects are
    /// admitted, every flow the model needs is allowed and every alert can fire
    Check {
        #[command(flatten)]
        inputs: Inputs,
        /// Also print the connection matrix: every flow the model needs and every other pair of
        /// pods, with the verdict of the NetworkPolicies and why
        #[arg(long)]
        flows: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write the service graph of one environment (its workloads and the flows the model needs)
    Graph {
        /// The environment file
        env_path: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphStyle::Mermaid)]
        format: GraphStyle,
    },
    /// Print the environment-file JSON Schema
    Schema {
        /// Print the JSON Schema of the deaap chart's values files instead (the chart's
        /// values.schema.json)
        #[arg(long)]
        chart: bool,
    },
    /// Start a platform repository in DIR (default: the current folder): environments, the
    /// editor schema, pre-commit, an Argo CD Application, a README. Never overwrites a file
    Init { dir: Option<PathBuf> },
    /// Add environment NAME as a layer on an existing environment file, next to it
    NewEnv {
        /// The new environment's name (a DNS-1123 label, e.g. `qa`)
        name: String,
        /// The environment file it extends, e.g. environments/staging.toml
        #[arg(long)]
        extends: PathBuf,
    },
    /// Explain a diagnostic code, or list every code
    Explain {
        /// e.g. DG0201 (leave out to list every code)
        code: Option<String>,
    },
    /// Argo CD config-management-plugin entry points
    Argocd {
        #[command(subcommand)]
        command: ArgoCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArgoCommand {
    /// Print the Kubernetes objects of the environment chosen by the plugin parameters
    Generate,
    /// Print the environment files found here (Argo CD matches on non-empty output)
    Discover,
}

#[derive(Debug, Args)]
pub struct Inputs {
    /// Environment files or folders (a folder means every environment file in it)
    #[arg(value_name = "ENV_PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// How `graph` writes the service graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphStyle {
    /// A Mermaid flowchart (renders in Markdown on most forges)
    Mermaid,
    /// Graphviz DOT
    Dot,
}

/// Runs the CLI and returns the process exit code.
#[must_use]
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Build {
            inputs,
            out_dir,
            check,
            no_wait,
            format,
        } => {
            let wait = if no_wait { Wait::NoWait } else { Wait::Block };
            let mode = if check {
                Mode::Check
            } else {
                Mode::Write(wait)
            };
            build(&inputs, &out_dir, mode, format)
        }
        Command::Validate { inputs, format } => match workspace(&inputs, format) {
            Ok(_) => 0,
            Err(code) => code,
        },
        Command::Check {
            inputs,
            flows,
            format,
        } => match workspace(&inputs, format) {
            Ok(ws) => {
                let show = if flows { Show::Matrix } else { Show::Summary };
                print_proofs(&ws, show, format)
            }
            Err(code) => code,
        },
        Command::Graph { env_path, format } => {
            let format = match format {
                GraphStyle::Mermaid => ops::flows::GraphFormat::Mermaid,
                GraphStyle::Dot => ops::flows::GraphFormat::Dot,
            };
            graph(env_path, format)
        }
        Command::Diff {
            inputs,
            against,
            update,
            stat,
            no_wait,
            format,
        } => {
            let wait = if no_wait { Wait::NoWait } else { Wait::Block };
            if update {
                build(&inputs, &against, Mode::Write(wait), format)
            } else {
                let detail = if stat { Detail::Stat } else { Detail::Patch };
                diff(&inputs, &against, detail, format)
            }
        }
        Command::Render { env_path } => render_stream(env_path),
        Command::Schema { chart: false } => {
            print!("{}", crate::validate::schema::schema_text());
            0
        }
        Command::Schema { chart: true } => {
            match serde_json::to_string_pretty(&crate::targets::chart_values_schema()) {
                Ok(text) => {
                    println!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            }
        }
        Command::Init { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            match ops::scaffold::init(&dir) {
                Ok(files) => {
                    for f in files {
                        eprintln!("created {}", dir.join(f).display());
                    }
                    eprintln!(
                        "next: cd {} && deaap-gen build environments/ && git init && pre-commit install",
                        dir.display()
                    );
                    0
                }
                Err(e) => report(&e),
            }
        }
        Command::NewEnv { name, extends } => match ops::scaffold::new_env(&name, &extends) {
            Ok(path) => {
                eprintln!("created {}", path.display());
                0
            }
            Err(e) => report(&e),
        },
        Command::Explain { code } => explain(code.as_deref()),
        Command::Argocd { command } => match command {
            ArgoCommand::Generate => argocd_generate(),
            ArgoCommand::Discover => argocd_discover(),
        },
    }
}

/// What `build` does with the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `build --check`: compare and report stale output, write nothing.
    Check,
    /// Write the output, waiting for another writer or not.
    Write(Wait),
}

/// What `check` prints per environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    /// The one-line summary.
    Summary,
    /// `--flows`: the summary and the connection matrix.
    Matrix,
}

/// How much of the drift `diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every changed file's unified diff, then the summary.
    Patch,
    /// `--stat`: only the summary.
    Stat,
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints a failure that has no source location.
fn fail(message: &str) -> u8 {
    eprintln!("error: {message}");
    2
}

/// Prints an operation's failure and returns its exit code. [`Error::Invalid`] was reported by
/// the diagnostics already.
fn report(e: &Error) -> u8 {
    if !matches!(e, Error::Invalid { .. }) {
        eprintln!("error: {e}");
    }
    e.exit_code()
}

/// Compiles every input and prints every diagnostic; the exit code when any input is invalid
/// (then nothing may be written at all).
fn workspace(inputs: &Inputs, format: Format) -> Result<Workspace, u8> {
    let compilation = ops::compile_all(&inputs.paths).map_err(|e| report(&e))?;
    print_compilation(&compilation, format);
    compilation.into_workspace().map_err(|e| report(&e))
}

/// `check`'s summary: one line (or JSON object) per environment on stdout; with `--flows` each
/// followed by its connection matrix (in JSON, under `matrix`).
fn print_proofs(ws: &Workspace, show: Show, format: Format) -> u8 {
    let matrices = match show {
        Show::Summary => Vec::new(),
        Show::Matrix => match ops::flows::matrices(ws) {
            Ok(m) => m,
            Err(e) => return report(&e),
        },
    };
    let mut text = String::new();
    for (i, u) in ws.units.iter().enumerate() {
        let p = u.proof;
        let env = &u.tree.environment;
        let matrix = matrices.get(i);
        let _ = match format {
            Format::Human => writeln!(
                text,
                "{env}: {} object{} admitted, {} flow{} proven, {} alert{} proven",
                p.admitted,
                ops::plural(p.admitted),
                p.flows,
                ops::plural(p.flows),
                p.alerts,
                ops::plural(p.alerts)
            ),
            Format::Json => {
                let mut v = serde_json::json!({
                    "environment": env,
                    "admitted": p.admitted,
                    "flows": p.flows,
                    "alerts": p.alerts,
                });
                if let Some(m) = matrix {
                    v["matrix"] = ops::flows::json(m);
                }
                writeln!(text, "{v}")
            }
        };
        if let (Format::Human, Some(m)) = (format, matrix) {
            text.push_str(&matrix_table(m));
        }
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    0
}

/// A connection matrix as an indented table, one connection a line.
fn matrix_table(m: &ops::flows::Matrix) -> String {
    let Some(a) = &m.analysis else {
        return "  (no NetworkPolicies: not a Kubernetes environment)\n".to_owned();
    };
    let header = ["FROM", "TO", "PORT", "VERDICT", "MODEL", "WHY"].map(str::to_owned);
    let rows: Vec<[String; 6]> = std::iter::once(header)
        .chain(a.flows.iter().map(ops::flows::row))
        .collect();
    let mut width = [0usize; 6];
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut text = String::new();
    for r in &rows {
        text.push(' ');
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                let _ = write!(text, " {c}");
            } else {
                let _ = write!(text, " {c:<w$}", w = width[i]);
            }
        }
        text.push('\n');
    }
    text
}

/// `graph`: compiles one environment and prints its service graph.
fn graph(path: PathBuf, format: ops::flows::GraphFormat) -> u8 {
    let inputs = Inputs { paths: vec![path] };
    let ws = match workspace(&inputs, Format::Human) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    match ops::flows::graph(&ws) {
        Ok(g) => match std::io::stdout()
            .lock()
            .write_all(g.render(format).as_bytes())
        {
            Ok(()) => 0,
            Err(e) => fail(&format!("cannot write to stdout: {e}")),
        },
        Err(e) => report(&e),
    }
}

/// Every file's diagnostics, then why it could not be used, in input order.
fn print_compilation(compilation: &Compilation, format: Format) {
    for f in &compilation.files {
        print_diagnostics(&f.diagnostics, &f.sources, format);
        if let Status::Failed(e) = &f.status {
            report(e);
        }
    }
}

fn print_diagnostics(diags: &[Diagnostic], sources: &SourceMap, format: Format) {
    let mut err = std::io::stderr().lock();
    let color = stderr_color();
    for d in diags {
        let _ = match format {
            Format::Human => writeln!(err, "{}", render::human(d, sources, color)),
            Format::Json => writeln!(err, "{}", render::json(d, sources)),
        };
    }
    if format == Format::Human {
        let errors = diags.iter().filter(|d| d.is_error()).count();
        let warnings = diags.len() - errors;
        if errors > 0 {
            let _ = writeln!(
                err,
                "error: {errors} error{} and {warnings} warning{} found",
                ops::plural(errors),
                ops::plural(warnings)
            );
        }
    }
}

/// `build`, `build --check` and `diff --update`.
fn build(inputs: &Inputs, out: &Path, mode: Mode, format: Format) -> u8 {
    let ws = match workspace(inputs, format) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let wait = match mode {
        Mode::Check => return check_stale(inputs, &ws, out),
        Mode::Write(wait) => wait,
    };
    match ops::build::build(&ws, out, wait, &mut print_written) {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

/// One line per environment folder as soon as it is written, and one while waiting for the lock.
fn print_written(w: &Written) {
    match w {
        Written::UpToDate { environment, files } => {
            eprintln!("{environment}: up to date ({files} files)");
        }
        Written::Wrote {
            environment,
            dir,
            changed,
        } => eprintln!("{environment}: wrote {} ({changed} changed)", dir.display()),
        Written::RemovedOrphan {
            environment,
            removed,
        } => eprintln!(
            "{environment}: removed {removed} generated files (no environment file declares `{environment}` any more)"
        ),
        Written::Waiting { out } => eprintln!(
            "waiting for another deaap-gen to finish writing `{}`…",
            out.display()
        ),
    }
}

/// `build --check`: reports stale output and writes nothing.
fn check_stale(inputs: &Inputs, ws: &Workspace, out: &Path) -> u8 {
    let drift = match ops::diff::drift(ws, out) {
        Ok(d) => d,
        Err(e) => return report(&e),
    };
    for d in &drift.environments {
        if d.changes.is_empty() {
            eprintln!("{}: up to date", d.environment);
            continue;
        }
        eprintln!(
            "{}: stale: {}",
            d.environment,
            output::diff::summary(&d.changes)
        );
        for c in &d.changes {
            let problem = c
                .problem
                .as_ref()
                .map_or_else(String::new, |p| format!(" ({})", p.text));
            eprintln!(
                "  {:<8} {}{problem}",
                c.kind.as_str(),
                out.join(&d.environment).join(&c.path).display()
            );
        }
    }
    let stale = drift.is_drift();
    if stale {
        eprintln!("{}", refresh_hint(inputs, out));
    }
    u8::from(stale)
}

/// The command that refreshes `out` from these inputs.
fn refresh_hint(inputs: &Inputs, out: &Path) -> String {
    let mut cmd = String::from("deaap-gen build");
    for p in &inputs.paths {
        cmd.push(' ');
        cmd.push_str(&p.display().to_string());
    }
    if out != Path::new("generated") {
        let _ = write!(cmd, " -o {}", out.display());
    }
    format!("generated output is stale: run `{cmd}` and commit the result")
}

fn diff(inputs: &Inputs, against: &Path, detail: Detail, format: Format) -> u8 {
    let drift = match workspace(inputs, format)
        .and_then(|ws| ops::diff::drift(&ws, against).map_err(|e| report(&e)))
    {
        Ok(d) => d,
        Err(code) => return code,
    };
    let text = match format {
        Format::Json => diff_json(&drift, against),
        Format::Human => diff_human(&drift, detail),
    };
    // A closed pipe (`deaap-gen diff | head`) is not a failure worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if !drift.is_drift() {
        return 0;
    }
    if format == Format::Human {
        if !against.exists() {
            eprintln!("`{}` does not exist yet", against.display());
        }
        eprintln!("{}", refresh_hint(inputs, against));
    }
    1
}

/// `diff --format json`: one object listing every changed file and the summary.
fn diff_json(drift: &Drift, against: &Path) -> String {
    let files: Vec<serde_json::Value> = drift
        .environments
        .iter()
        .flat_map(|d| d.changes.iter().map(move |c| (d, c)))
        .map(|(d, c)| {
            let mut v = serde_json::json!({
                "environment": d.environment,
                "path": format!("{}/{}", d.environment, c.path),
                "change": c.kind,
            });
            if let Some(p) = &c.problem {
                v["problem"] = serde_json::Value::String(p.text.clone());
            }
            v
        })
        .collect();
    let count = |k| drift.changes().filter(|c| c.kind == k).count();
    let v = serde_json::json!({
        "against": against.display().to_string(),
        "drift": drift.is_drift(),
        "files": files,
        "summary": {
            "modified": count(ChangeKind::Modified),
            "added": count(ChangeKind::Added),
            "removed": count(ChangeKind::Removed),
        },
    });
    format!("{v}\n")
}

/// `diff`: every changed file's unified diff (unless `--stat`), then the summary line.
fn diff_human(drift: &Drift, detail: Detail) -> String {
    let mut text = String::new();
    if detail == Detail::Patch {
        let color = stdout_color();
        for d in &drift.environments {
            for c in &d.changes {
                text.push_str(&output::diff::unified(&d.environment, c, color));
            }
        }
    }
    text.push_str(&output::diff::summary_of(drift.changes()));
    text.push('\n');
    text
}

/// `render`: compiles one environment and prints its Kubernetes objects.
fn render_stream(path: PathBuf) -> u8 {
    let inputs = Inputs { paths: vec![path] };
    let ws = match workspace(&inputs, Format::Human) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    match ops::render::render(&ws) {
        Ok(s) => match std::io::stdout().lock().write_all(s.as_bytes()) {
            Ok(()) => 0,
            Err(e) => fail(&format!("cannot write to stdout: {e}")),
        },
        Err(e) => report(&e),
    }
}

/// `argocd generate` (README "In a platform repository"). On success stdout is the object stream
/// and stderr one log line; on failure stdout is empty and stderr is a single line (Argo CD shows
/// it in the UI as the reason generation failed).
fn argocd_generate() -> u8 {
    let mut warn = |d: &Diagnostic, sources: &SourceMap| {
        eprintln!("{}", ops::argocd::one_line(d, sources));
    };
    match ops::argocd::generate(&mut warn) {
        Ok(m) => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out
                .write_all(m.stream.as_bytes())
                .and_then(|()| out.flush())
            {
                return fail(&format!("cannot write the manifests to stdout: {e}"));
            }
            eprintln!(
                "deaap-gen: environment `{}` from `{}`: {} objects",
                m.environment,
                m.file.display(),
                m.objects
            );
            0
        }
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace(['\n', '\r'], " "));
            e.exit_code()
        }
    }
}

/// `argocd discover`: the environment files, one a line; exit 1 and no output when there are none.
fn argocd_discover() -> u8 {
    match ops::argocd::discover() {
        Ok(files) if files.is_empty() => 1,
        Ok(files) => {
            let list = files.iter().fold(String::new(), |mut list, f| {
                let _ = writeln!(list, "{}", f.display());
                list
            });
            // A closed stdout means nobody is asking any more; the exit code still answers.
            let _ = std::io::stdout().lock().write_all(list.as_bytes());
            0
        }
        Err(e) => report(&e),
    }
}

/// The first sentence of a code's What, cut to fit one line of a listing.
fn summary(what: &str) -> String {
    let first = what
        .split(". ")
        .next()
        .unwrap_or(what)
        .trim_end_matches('.');
    if first.chars().count() <= 80 {
        return first.to_owned();
    }
    let cut: String = first.chars().take(79).collect();
    format!("{}…", cut.trim_end())
}

fn explain(code: Option<&str>) -> u8 {
    let Some(code) = code else {
        let mut text = String::new();
        for c in crate::codes::all() {
            let _ = writeln!(
                text,
                "{}  {:<6}  {:<24}  {}",
                c.code,
                c.phase.as_str(),
                c.name,
                summary(c.what)
            );
        }
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return 0;
    };
    match crate::codes::find(code) {
        Some(c) => {
            println!(
                "{} {}\n\nWhat: {}\n\nWhy: {}",
                c.code, c.name, c.what, c.why
            );
            0
        }
        None => fail(&format!(
            "no diagnostic has the code `{}` (`deaap-gen explain` lists them all)",
            code.to_ascii_uppercase()
        )),
    }
}
