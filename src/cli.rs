//! The command line (README "Command line"). Exit codes follow diff(1) and `kubectl diff`:
//! 0 ok / no drift, 1 drift, 2 invalid input or any failure. Machine output (`--format json`,
//! `github`, `gitlab`, `sarif`) and what was asked for go to stdout; progress, human diagnostics
//! and logs go to stderr.

use crate::diagnostic::report::{Collector, Reported};
use crate::diagnostic::{Diagnostic, ci, render};
use crate::ops::build::Written;
use crate::ops::diff::Drift;
use crate::ops::{self, Compilation, Error, Status, Workspace};
use crate::output::lock::Wait;
use crate::output::{self, ChangeKind};
use crate::source::SourceMap;
use crate::targets::Need;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  deaap-gen build environments/production.toml     write generated/production/
  deaap-gen build                                  every environment in environments/
  deaap-gen build --check                          exit 1 if generated/ is stale (CI)
  deaap-gen validate environments/ --format json   diagnostics as JSON lines on stdout
  deaap-gen validate --format sarif > deaap-gen.sarif   one SARIF log for code scanning
  deaap-gen -C platform build --check --deny-warnings   in platform/, warnings fail too
  deaap-gen diff                                   show how generated/ differs from the model
  deaap-gen check                                  prove admission, network flows and alerts
  deaap-gen check --flows environments/staging.toml   every connection, allowed or denied, and why
  deaap-gen graph environments/production.toml --format dot | dot -Tsvg > graph.svg
  deaap-gen render environments/staging.toml | kubectl apply -f -
  deaap-gen schema > deaap-environment.schema.json
  deaap-gen explain DG0201
  deaap-gen explain                                every diagnostic code
  deaap-gen completion bash > ~/.local/share/bash-completion/completions/deaap-gen
  deaap-gen man | man -l -";

#[derive(Debug, Parser)]
#[command(name = "deaap-gen", version, about = "Compile DEAAP environment models into deployment artifacts", after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Run as if started in DIR: every relative path (inputs, --out-dir, --against) is read from
    /// there
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// When to colour human output: auto (a terminal, and `NO_COLOR` unset), always, never
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Print no progress lines: only diagnostics, errors and what was asked for
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Fail (exit 2, nothing written) when any warning was reported
    #[arg(long, global = true)]
    pub deny_warnings: bool,
    /// Keep in DIR what a later run may reuse: the compilations of inputs that reported nothing,
    /// so that unchanged inputs are not compiled again, and the admission proof's Gatekeeper
    /// verdicts, so that a run evaluates the policies only on objects that changed [default:
    /// $XDG_CACHE_HOME/deaap-gen, else ~/.cache/deaap-gen]
    #[arg(long, value_name = "DIR", env = "DEAAP_GEN_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Keep and reuse nothing between runs: compile every input and evaluate every admission
    /// review anew (the variable counts unless empty, `0`, `false`, `no` or `off`)
    #[arg(
        long,
        env = "DEAAP_GEN_NO_CACHE",
        global = true,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub no_cache: bool,
}

impl Global {
    /// The cache folder: `--cache-dir`, else `$XDG_CACHE_HOME/deaap-gen`, else
    /// `$HOME/.cache/deaap-gen` (the variables only when they hold an absolute path); none with
    /// `--no-cache`.
    #[must_use]
    pub fn cache(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        let absolute = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        absolute("XDG_CACHE_HOME")
            .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
            .map(|cache| cache.join("deaap-gen"))
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
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
        /// How diagnostics (and drift) are reported: human on stderr, the others on stdout
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Validate environment files and report every problem
    Validate {
        #[command(flatten)]
        inputs: Inputs,
        /// How diagnostics (and drift) are reported: human on stderr, the others on stdout
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
        /// List the changed files with the lines each adds and removes, then the summary
        #[arg(long)]
        stat: bool,
        /// With --update: fail at once instead of waiting when another build is writing
        #[arg(long)]
        no_wait: bool,
        /// How diagnostics (and drift) are reported: human on stderr, the others on stdout
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
        /// How diagnostics (and drift) are reported: human on stderr, the others on stdout
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
    Init {
        #[arg(value_name = "DIR")]
        path: Option<PathBuf>,
    },
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
    /// Print a shell completion script
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff)
    Man,
}

impl Command {
    /// The `--format` of a command that reports diagnostics; human for the others.
    fn format(&self) -> Format {
        match self {
            Self::Build { format, .. }
            | Self::Validate { format, .. }
            | Self::Diff { format, .. }
            | Self::Check { format, .. } => *format,
            _ => Format::Human,
        }
    }
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

/// How diagnostics (and drift) are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source snippets with a caret, on stderr
    Human,
    /// One JSON object per line, on stdout
    Json,
    /// GitHub Actions workflow commands (annotations), on stdout
    Github,
    /// One GitLab Code Quality report, on stdout
    Gitlab,
    /// One SARIF 2.1.0 log, on stdout
    Sarif,
}

impl Format {
    /// Whether the whole run is one document (printed once, even when empty).
    fn is_document(self) -> bool {
        matches!(self, Self::Gitlab | Self::Sarif)
    }
}

/// How `graph` writes the service graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphStyle {
    /// A Mermaid flowchart (renders in Markdown on most forges)
    Mermaid,
    /// Graphviz DOT
    Dot,
}

/// How this run prints: the options every command takes, resolved once.
struct Ui {
    format: Format,
    /// Colour human diagnostics and progress on stderr.
    color_err: bool,
    /// Colour the diff on stdout.
    color_out: bool,
    quiet: bool,
    deny_warnings: bool,
    /// Whether the one document of `--format gitlab|sarif` was printed.
    document: Cell<bool>,
}

impl Ui {
    fn new(global: &Global, format: Format) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = |terminal: bool| match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !no_color,
        };
        Self {
            format,
            color_err: color(std::io::stderr().is_terminal()),
            color_out: color(std::io::stdout().is_terminal()),
            quiet: global.quiet,
            deny_warnings: global.deny_warnings,
            document: Cell::new(false),
        }
    }

    /// A progress line on stderr, unless `--quiet`.
    fn progress(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// The one document of `--format gitlab|sarif` for these diagnostics, on stdout.
    fn document(&self, all: &[Reported]) {
        let doc = match self.format {
            Format::Gitlab => ci::gitlab(all),
            Format::Sarif => ci::sarif(all),
            Format::Human | Format::Json | Format::Github => return,
        };
        self.document.set(true);
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        print_out(&format!("{text}\n"));
    }

    /// At the end of the run: a run that failed before it compiled anything still prints its one
    /// document (an empty one), so a CI step that uploads it finds a valid file.
    fn finish(&self) {
        if self.format.is_document() && !self.document.get() {
            self.document(&[]);
        }
    }
}

/// Writes to stdout; a closed pipe (`deaap-gen diff | head`) is not a failure worth a panic.
fn print_out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Runs the CLI and returns the process exit code.
#[must_use]
pub fn run(cli: Cli) -> u8 {
    if let Some(dir) = &cli.global.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        return fail(&format!("cannot run in `{}`: {e}", dir.display()));
    }
    crate::cache::keep_in(cli.global.cache());
    let ui = Ui::new(&cli.global, cli.command.format());
    let code = dispatch(cli.command, &ui);
    ui.finish();
    code
}

fn dispatch(command: Command, ui: &Ui) -> u8 {
    match command {
        Command::Build {
            inputs,
            out_dir,
            check,
            no_wait,
            format: _,
        } => {
            let wait = if no_wait { Wait::NoWait } else { Wait::Block };
            let mode = if check {
                Mode::Check
            } else {
                Mode::Write(wait)
            };
            build(&inputs, &out_dir, mode, ui)
        }
        Command::Validate { inputs, format: _ } => {
            if ops::kept::lookup(&inputs.paths, Need::Objects).is_some() {
                print_diagnostics(&[], ui);
                return 0;
            }
            match workspace(&inputs, ui, Need::Objects, None) {
                Ok(_) => 0,
                Err(code) => code,
            }
        }
        Command::Check {
            inputs,
            flows,
            format: _,
        } => match (!flows)
            .then(|| ops::kept::lookup(&inputs.paths, Need::Objects))
            .flatten()
        {
            Some(kept) => {
                print_diagnostics(&[], ui);
                let proven: Vec<(&str, crate::proof::Summary)> = kept
                    .units
                    .iter()
                    .map(|u| (u.environment.as_str(), u.proof))
                    .collect();
                print_proven(&proven, &[], ui)
            }
            None => match workspace(&inputs, ui, Need::Objects, None) {
                Ok(ws) => {
                    let show = if flows { Show::Matrix } else { Show::Summary };
                    print_proofs(ws, show, ui)
                }
                Err(code) => code,
            },
        },
        Command::Graph { env_path, format } => {
            let format = match format {
                GraphStyle::Mermaid => ops::flows::GraphFormat::Mermaid,
                GraphStyle::Dot => ops::flows::GraphFormat::Dot,
            };
            graph(&env_path, format, ui)
        }
        Command::Diff {
            inputs,
            against,
            update,
            stat,
            no_wait,
            format: _,
        } => {
            let wait = if no_wait { Wait::NoWait } else { Wait::Block };
            if update {
                build(&inputs, &against, Mode::Write(wait), ui)
            } else {
                let detail = if stat { Detail::Stat } else { Detail::Patch };
                diff(&inputs, &against, detail, ui)
            }
        }
        Command::Render { env_path } => render_stream(&env_path, ui),
        Command::Schema { chart: false } => {
            print_out(&crate::validate::schema::schema_text());
            0
        }
        Command::Schema { chart: true } => {
            match serde_json::to_string_pretty(&crate::targets::chart_values_schema()) {
                Ok(text) => {
                    print_out(&format!("{text}\n"));
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            }
        }
        Command::Init { path } => {
            let dir = path.unwrap_or_else(|| PathBuf::from("."));
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
            ArgoCommand::Generate => argocd_generate(ui),
            ArgoCommand::Discover => argocd_discover(),
        },
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "deaap-gen", &mut script);
            print_out(&String::from_utf8_lossy(&script));
            0
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => {
                    print_out(&title_first(&String::from_utf8_lossy(&page)));
                    0
                }
                Err(e) => fail(&format!("cannot render the manual page: {e}")),
            }
        }
    }
}

/// The manual page with its `.TH` title line first, where man pages have it: the renderer opens
/// with the definitions of the apostrophe string its text uses, which may as well follow.
fn title_first(page: &str) -> String {
    let mut lines: Vec<&str> = page.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(i);
        lines.insert(0, title);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
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
    /// `--stat`: every changed file with its line counts, then the summary.
    Stat,
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
/// (then nothing may be written at all), or when a warning was reported under `--deny-warnings`.
///
/// The workspace lives as long as the process: a command ends when it is done with it, and
/// freeing its objects one by one (a hundred thousand values at 1,000 services) would only delay
/// the exit, where the system reclaims the memory at once.
///
/// `need` is what the command uses of the generated output. A command that compares with or writes
/// the output folder `out` lets go of the files it finds there already as they are generated
/// ([`ops::compile_all_for`]).
fn workspace(
    inputs: &Inputs,
    ui: &Ui,
    need: Need,
    out: Option<&Path>,
) -> Result<&'static Workspace, u8> {
    let compilation = ops::compile_all_for(&inputs.paths, need, out).map_err(|e| report(&e))?;
    let warnings = print_compilation(&compilation, ui);
    let ws = compilation.into_workspace().map_err(|e| report(&e))?;
    if ui.deny_warnings && warnings > 0 {
        return Err(fail(&format!(
            "{warnings} warning{} reported, and --deny-warnings makes warnings fail",
            ops::plural(warnings)
        )));
    }
    Ok(Box::leak(Box::new(ws)))
}

/// `check`'s summary: one line per environment on stdout (with `--format json` one object,
/// `"kind": "proof"`); with `--flows` each followed by its connection matrix (in JSON, under
/// `matrix`). The CI formats are for diagnostics: there the summary is progress on stderr.
fn print_proofs(ws: &Workspace, show: Show, ui: &Ui) -> u8 {
    let matrices = match show {
        Show::Summary => Vec::new(),
        Show::Matrix => match ops::flows::matrices(ws) {
            Ok(m) => m,
            Err(e) => return report(&e),
        },
    };
    let proven: Vec<(&str, crate::proof::Summary)> = ws
        .units
        .iter()
        .map(|u| (u.tree.environment.as_str(), u.proof))
        .collect();
    print_proven(&proven, &matrices, ui)
}

/// What the proofs established per environment (`check`'s summary), each followed by its
/// connection matrix when `matrices` holds them.
fn print_proven(
    proven: &[(&str, crate::proof::Summary)],
    matrices: &[ops::flows::Matrix],
    ui: &Ui,
) -> u8 {
    let json = ui.format == Format::Json;
    let mut text = String::new();
    for (i, (env, p)) in proven.iter().enumerate() {
        let matrix = matrices.get(i);
        if json {
            let mut v = serde_json::json!({
                "kind": "proof",
                "environment": env,
                "admitted": p.admitted,
                "flows": p.flows,
                "alerts": p.alerts,
            });
            if let Some(m) = matrix {
                v["matrix"] = ops::flows::json(m);
            }
            let _ = writeln!(text, "{v}");
            continue;
        }
        let _ = writeln!(
            text,
            "{env}: {} object{} admitted, {} flow{} proven, {} alert{} proven",
            p.admitted,
            ops::plural(p.admitted),
            p.flows,
            ops::plural(p.flows),
            p.alerts,
            ops::plural(p.alerts)
        );
        if let Some(m) = matrix {
            text.push_str(&matrix_table(m));
        }
    }
    match ui.format {
        Format::Human | Format::Json => print_out(&text),
        Format::Github | Format::Gitlab | Format::Sarif => ui.progress(text.trim_end()),
    }
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

/// The one environment file `render` or `graph` compiles, or the exit code when it is a folder.
fn one_environment(command: &'static str, path: &Path, ui: &Ui) -> Result<&'static Workspace, u8> {
    let file = ops::inputs::one_file(command, path).map_err(|e| report(&e))?;
    workspace(&Inputs { paths: vec![file] }, ui, Need::Objects, None)
}

/// `graph`: compiles one environment and prints its service graph.
fn graph(path: &Path, format: ops::flows::GraphFormat, ui: &Ui) -> u8 {
    let ws = match one_environment("graph", path, ui) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    match ops::flows::graph(ws) {
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

/// Every diagnostic of the run, once and in the order of file, line and column, in the chosen
/// format; then why any input could not be used. Returns how many warnings were reported.
fn print_compilation(compilation: &Compilation, ui: &Ui) -> usize {
    let human = (ui.format == Format::Human).then_some(ui.color_err);
    let mut collector = Collector::new(human);
    for f in &compilation.files {
        for d in &f.diagnostics {
            collector.add(d, &f.sources, &f.environment, &f.path);
        }
    }
    let all = collector.finish();
    print_diagnostics(&all, ui);
    for f in &compilation.files {
        if let Status::Failed(e) = &f.status {
            report(e);
        }
    }
    all.iter()
        .filter(|r| r.severity == crate::diagnostic::Severity::Warning)
        .count()
}

fn print_diagnostics(all: &[Reported], ui: &Ui) {
    match ui.format {
        Format::Human => {
            let mut err = std::io::stderr().lock();
            for r in all {
                let _ = writeln!(err, "{}", r.human.as_deref().unwrap_or_default());
                if r.environments.len() > 1 {
                    let _ = writeln!(
                        err,
                        "   = note: reported once for the environments {}",
                        r.environments.join(", ")
                    );
                }
            }
            let errors = all.iter().filter(|r| r.is_error()).count();
            let warnings = all
                .iter()
                .filter(|r| r.severity == crate::diagnostic::Severity::Warning)
                .count();
            if errors > 0 {
                let _ = writeln!(
                    err,
                    "error: {errors} error{} and {warnings} warning{} found",
                    ops::plural(errors),
                    ops::plural(warnings)
                );
            }
        }
        Format::Json => print_out(&all.iter().fold(String::new(), |mut text, r| {
            let _ = writeln!(text, "{}", render::json(r));
            text
        })),
        Format::Github => print_out(&all.iter().fold(String::new(), |mut text, r| {
            let _ = writeln!(text, "{}", ci::github(r));
            text
        })),
        Format::Gitlab | Format::Sarif => ui.document(all),
    }
}

/// `build`, `build --check` and `diff --update`.
fn build(inputs: &Inputs, out: &Path, mode: Mode, ui: &Ui) -> u8 {
    if let Some(kept) = ops::kept::lookup(&inputs.paths, Need::Files) {
        match mode {
            Mode::Check => {
                if let Some(drift) = ops::diff::none_kept(&kept, &inputs.paths, out) {
                    print_diagnostics(&[], ui);
                    return stale_report(inputs, &drift, out, ui);
                }
            }
            Mode::Write(wait) => {
                let mut progress = |w: &Written| print_written(w, ui);
                match ops::build::up_to_date(&kept, &inputs.paths, out, wait, &mut progress) {
                    Ok(true) => {
                        print_diagnostics(&[], ui);
                        return 0;
                    }
                    Ok(false) => {}
                    Err(e) => return report(&e),
                }
            }
        }
    }
    // The files the output folder holds already are let go of as they are generated.
    let ws = match workspace(inputs, ui, Need::Files, Some(out)) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    let wait = match mode {
        Mode::Check => return check_stale(inputs, ws, out, ui),
        Mode::Write(wait) => wait,
    };
    match ops::build::build(ws, out, wait, &mut |w| print_written(w, ui)) {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

/// One line per environment folder as soon as it is written, and one while waiting for the lock.
fn print_written(w: &Written, ui: &Ui) {
    let line = match w {
        Written::UpToDate { environment, files } => {
            format!("{environment}: up to date ({files} files)")
        }
        Written::Wrote {
            environment,
            dir,
            changed,
        } => format!("{environment}: wrote {} ({changed} changed)", dir.display()),
        Written::RemovedOrphan {
            environment,
            removed,
        } => format!(
            "{environment}: removed {removed} generated files (no environment file declares `{environment}` any more)"
        ),
        Written::Waiting { out } => format!(
            "waiting for another deaap-gen to finish writing `{}`…",
            out.display()
        ),
    };
    ui.progress(&line);
}

/// `build --check`: reports stale output and writes nothing. Human: per environment on stderr;
/// `--format json`: an object per changed file and a summary on stdout; `--format github`: an
/// annotation per changed file.
fn check_stale(inputs: &Inputs, ws: &Workspace, out: &Path, ui: &Ui) -> u8 {
    match ops::diff::drift(ws, out) {
        Ok(drift) => stale_report(inputs, &drift, out, ui),
        Err(e) => report(&e),
    }
}

/// `build --check`'s report of `drift`, and its exit code.
fn stale_report(inputs: &Inputs, drift: &Drift, out: &Path, ui: &Ui) -> u8 {
    for d in &drift.environments {
        if d.changes.is_empty() {
            ui.progress(&format!("{}: up to date", d.environment));
        } else if matches!(ui.format, Format::Human | Format::Gitlab | Format::Sarif) {
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
    }
    print_drift(drift, inputs, out, ui);
    let stale = drift.is_drift();
    if stale {
        eprintln!("{}", refresh_hint(inputs, out));
    }
    u8::from(stale)
}

/// Drift in the machine formats, on stdout: JSON lines (`"kind": "drift"` per changed file, then
/// `"kind": "drift_summary"`) or GitHub annotations. The one-document formats hold diagnostics
/// only; their drift is reported on stderr.
fn print_drift(drift: &Drift, inputs: &Inputs, out: &Path, ui: &Ui) {
    match ui.format {
        Format::Json => print_out(&drift_json(drift, out)),
        Format::Github => print_out(&drift_github(drift, inputs, out)),
        Format::Human | Format::Gitlab | Format::Sarif => {}
    }
}

/// The command that refreshes `out` from these inputs.
fn refresh_command(inputs: &Inputs, out: &Path) -> String {
    let mut cmd = String::from("deaap-gen build");
    for p in &inputs.paths {
        cmd.push(' ');
        cmd.push_str(&p.display().to_string());
    }
    if out != Path::new("generated") {
        let _ = write!(cmd, " -o {}", out.display());
    }
    cmd
}

/// What to do about stale output.
fn refresh_hint(inputs: &Inputs, out: &Path) -> String {
    format!(
        "generated output is stale: run `{}` and commit the result",
        refresh_command(inputs, out)
    )
}

fn diff(inputs: &Inputs, against: &Path, detail: Detail, ui: &Ui) -> u8 {
    let kept = ops::kept::lookup(&inputs.paths, Need::Files)
        .and_then(|kept| ops::diff::none_kept(&kept, &inputs.paths, against));
    let drift = if let Some(drift) = kept {
        print_diagnostics(&[], ui);
        drift
    } else {
        match workspace(inputs, ui, Need::Files, Some(against))
            .and_then(|ws| ops::diff::drift(ws, against).map_err(|e| report(&e)))
        {
            Ok(d) => d,
            Err(code) => return code,
        }
    };
    match ui.format {
        Format::Human => print_out(&diff_human(&drift, detail, ui.color_out)),
        Format::Json | Format::Github => print_drift(&drift, inputs, against, ui),
        Format::Gitlab | Format::Sarif => {
            ui.progress(&output::diff::summary_of(drift.changes()));
        }
    }
    if !drift.is_drift() {
        return 0;
    }
    if !against.exists() {
        eprintln!("`{}` does not exist yet", against.display());
    }
    eprintln!("{}", refresh_hint(inputs, against));
    1
}

/// Drift as JSON lines: one `{"kind": "drift", "environment", "path", "change"}` object per
/// changed file (`path` inside `against`; `problem` when the committed file could not be read),
/// then `{"kind": "drift_summary", "against", "drift", "modified", "added", "removed"}`.
fn drift_json(drift: &Drift, against: &Path) -> String {
    let mut text = String::new();
    for d in &drift.environments {
        for c in &d.changes {
            let mut v = serde_json::json!({
                "kind": "drift",
                "environment": d.environment,
                "path": format!("{}/{}", d.environment, c.path),
                "change": c.kind,
            });
            if let Some(p) = &c.problem {
                v["problem"] = serde_json::Value::String(p.text.clone());
            }
            let _ = writeln!(text, "{v}");
        }
    }
    let count = |k| drift.changes().filter(|c| c.kind == k).count();
    let v = serde_json::json!({
        "kind": "drift_summary",
        "against": against.display().to_string(),
        "drift": drift.is_drift(),
        "modified": count(ChangeKind::Modified),
        "added": count(ChangeKind::Added),
        "removed": count(ChangeKind::Removed),
    });
    let _ = writeln!(text, "{v}");
    text
}

/// Drift as GitHub annotations: an error on every stale file.
fn drift_github(drift: &Drift, inputs: &Inputs, against: &Path) -> String {
    let mut text = String::new();
    for d in &drift.environments {
        for c in &d.changes {
            let file = against
                .join(&d.environment)
                .join(&c.path)
                .to_string_lossy()
                .replace('\\', "/");
            let problem = c
                .problem
                .as_ref()
                .map_or_else(String::new, |p| format!(" ({})", p.text));
            let message = format!(
                "`{file}` is stale ({}){problem}: run `{}` and commit the result",
                c.kind.as_str(),
                refresh_command(inputs, against)
            );
            let _ = writeln!(
                text,
                "::error file={},title=stale generated file::{}",
                ci::escape_property(&file),
                ci::escape_data(&message)
            );
        }
    }
    text
}

/// `diff`: every changed file's unified diff (or with `--stat` its line counts), then the summary
/// line.
fn diff_human(drift: &Drift, detail: Detail, color: bool) -> String {
    let mut text = String::new();
    match detail {
        Detail::Patch => {
            for d in &drift.environments {
                for c in &d.changes {
                    text.push_str(&output::diff::unified(&d.environment, c, color));
                }
            }
            text.push_str(&output::diff::summary_of(drift.changes()));
        }
        Detail::Stat => text.push_str(&diff_stat(drift, color)),
    }
    text.push('\n');
    text
}

/// `diff --stat`, as `git diff --stat` lays it out: ` production/x.yaml | 4 ++--` per changed file
/// (a file that could not be read shows why), then the summary with the lines added and removed.
fn diff_stat(drift: &Drift, color: bool) -> String {
    /// The widest bar of `+` and `-`.
    const BAR: usize = 40;
    /// One changed file: its name, the lines it adds and removes, or why it could not be read.
    struct Row<'a> {
        name: String,
        counts: Option<(usize, usize)>,
        problem: Option<&'a str>,
    }
    let rows: Vec<Row<'_>> = drift
        .environments
        .iter()
        .flat_map(|d| d.changes.iter().map(move |c| (d, c)))
        .map(|(d, c)| Row {
            name: format!("{}/{}", d.environment, c.path),
            counts: ops::diff::line_counts(c),
            problem: c.problem.as_ref().map(|p| p.text.as_str()),
        })
        .collect();
    let name_width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let most = rows
        .iter()
        .filter_map(|r| r.counts)
        .map(|(a, r)| a + r)
        .max()
        .unwrap_or(0);
    let count_width = most.to_string().len();
    let (mut added, mut removed) = (0, 0);
    let mut text = String::new();
    for Row {
        name,
        counts,
        problem,
    } in &rows
    {
        let _ = write!(text, " {name:<name_width$} | ");
        let Some((a, r)) = *counts else {
            let _ = writeln!(text, "{}", problem.unwrap_or("unreadable"));
            continue;
        };
        added += a;
        removed += r;
        // Scaled like git: every non-zero side keeps at least one mark.
        let scale = |n: usize| {
            if most <= BAR || n == 0 {
                n
            } else {
                (n * BAR / most).max(1)
            }
        };
        let (plus, minus) = ("+".repeat(scale(a)), "-".repeat(scale(r)));
        let (plus, minus) = if color {
            (
                format!("\x1b[32m{plus}\x1b[0m"),
                format!("\x1b[31m{minus}\x1b[0m"),
            )
        } else {
            (plus, minus)
        };
        let _ = writeln!(text, "{:>count_width$} {plus}{minus}", a + r);
    }
    text.push_str(&output::diff::summary_of(drift.changes()));
    if !rows.is_empty() {
        let _ = write!(
            text,
            ", {added} insertion{}(+), {removed} deletion{}(-)",
            ops::plural(added),
            ops::plural(removed)
        );
    }
    text
}

/// How much of an object stream is gathered before it goes to stdout, which on its own writes at
/// every line end.
const STDOUT_BUFFER: usize = 1 << 16;

/// `render`: compiles one environment and prints its Kubernetes objects.
fn render_stream(path: &Path, ui: &Ui) -> u8 {
    let ws = match one_environment("render", path, ui) {
        Ok(ws) => ws,
        Err(code) => return code,
    };
    match ops::render::render(ws) {
        Ok(objects) => {
            let mut out =
                std::io::BufWriter::with_capacity(STDOUT_BUFFER, std::io::stdout().lock());
            match crate::stream::write_stream(&objects, &mut out).and_then(|()| out.flush()) {
                Ok(()) => 0,
                Err(e) => fail(&format!("cannot write to stdout: {e}")),
            }
        }
        Err(e) => report(&e),
    }
}

/// `argocd generate` (README "In a platform repository"). On success stdout is the object stream
/// and stderr one log line; on failure stdout is empty and stderr is a single line (Argo CD shows
/// it in the UI as the reason generation failed).
fn argocd_generate(ui: &Ui) -> u8 {
    let mut warnings = 0usize;
    let mut warn = |d: &Diagnostic, sources: &SourceMap| {
        warnings += 1;
        eprintln!("{}", ops::argocd::one_line(d, sources));
    };
    match ops::argocd::generate(&mut warn) {
        Ok(_) if ui.deny_warnings && warnings > 0 => fail(&format!(
            "{warnings} warning{} reported, and --deny-warnings makes warnings fail",
            ops::plural(warnings)
        )),
        Ok(m) => {
            let mut out =
                std::io::BufWriter::with_capacity(STDOUT_BUFFER, std::io::stdout().lock());
            if let Err(e) = m.write(&mut out).and_then(|()| out.flush()) {
                return fail(&format!("cannot write the manifests to stdout: {e}"));
            }
            ui.progress(&format!(
                "deaap-gen: environment `{}` from `{}`: {} objects",
                m.environment,
                m.file.display(),
                m.objects
            ));
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
            print_out(&list);
            0
        }
        Err(e) => report(&e),
    }
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
                ci::short_description(c.what)
            );
        }
        print_out(&text);
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
