//! The command line (README "Command line"). Exit codes follow diff(1) and `kubectl diff`:
//! 0 ok / no drift, 1 drift, 2 invalid input or any failure. Diagnostics and logs go to stderr;
//! stdout carries only what was asked for.

use crate::diagnostic::{Diagnostic, render};
use crate::output::lock::Wait;
use crate::output::{self, ChangeKind};
use crate::{compile, generate};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  deaap-gen build environments/production.toml     write generated/production/
  deaap-gen build                                  every environment in environments/
  deaap-gen build --check                          exit 1 if generated/ is stale (CI)
  deaap-gen validate environments/ --format json   diagnostics as JSON lines
  deaap-gen diff                                   show how generated/ differs from the model
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
    /// Print the environment-file JSON Schema
    Schema,
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
            if check {
                check_stale(&inputs, &out_dir, format)
            } else {
                build(&inputs, &out_dir, wait(no_wait), format)
            }
        }
        Command::Validate { inputs, format } => match compile_all(&inputs, format) {
            Some(_) => 0,
            None => 2,
        },
        Command::Diff {
            inputs,
            against,
            update,
            stat,
            no_wait,
            format,
        } => {
            if update {
                build(&inputs, &against, wait(no_wait), format)
            } else {
                diff(&inputs, &against, stat, format)
            }
        }
        Command::Render { env_path } => render_stream(&env_path),
        Command::Schema => {
            print!("{}", crate::validate::schema::schema_text());
            0
        }
        Command::Explain { code } => explain(code.as_deref()),
        Command::Argocd { command } => match command {
            ArgoCommand::Generate => crate::argocd::generate(),
            ArgoCommand::Discover => crate::argocd::discover(),
        },
    }
}

fn wait(no_wait: bool) -> Wait {
    if no_wait { Wait::NoWait } else { Wait::Block }
}

fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints a failure that has no source location.
pub fn fail(message: &str) -> u8 {
    eprintln!("error: {message}");
    2
}

/// The environment files named by the inputs (default `environments/`), in a stable order.
///
/// # Errors
/// A path that does not exist or a folder without environments.
pub fn resolve_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let default = [PathBuf::from("environments")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("cannot read folder `{}`: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && declares_environment(f))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!(
                    "no environment files in `{}` (a file needs an [environment] table)",
                    p.display()
                ));
            }
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("`{}` does not exist", p.display()));
        }
    }
    Ok(out)
}

/// Whether a TOML file declares an environment (partials such as `base.toml` do not). A file that
/// does not parse counts as one, so its errors are reported rather than silently skipped.
#[must_use]
pub fn declares_environment(path: &Path) -> bool {
    let Ok(text) = crate::load::read_input(path) else {
        return true;
    };
    match toml::from_str::<toml::Table>(&text) {
        Ok(t) => t.contains_key("environment"),
        Err(_) => true,
    }
}

/// A compiled, valid environment ready for the targets.
pub struct Unit {
    pub path: PathBuf,
    pub tree: output::Tree,
    pub artifacts: Vec<crate::targets::Artifact>,
}

/// Compiles every input; prints every diagnostic. `None` when any input is invalid (then nothing
/// may be written at all).
pub fn compile_all(inputs: &Inputs, format: Format) -> Option<Vec<Unit>> {
    let files = match resolve_inputs(&inputs.paths) {
        Ok(f) => f,
        Err(e) => {
            fail(&e);
            return None;
        }
    };
    let mut units = Vec::new();
    let mut ok = true;
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for f in &files {
        let c = compile(f);
        print_diagnostics(&c.diagnostics, &c.sources, format);
        let Some(model) = c.model else {
            ok = false;
            continue;
        };
        if let Some((_, other)) = names.iter().find(|(n, _)| *n == model.environment.name) {
            fail(&format!(
                "`{}` and `{}` both declare environment `{}`; their output folders would collide",
                other.display(),
                f.display(),
                model.environment.name
            ));
            ok = false;
            continue;
        }
        names.push((model.environment.name.clone(), f.clone()));
        let artifacts = match generate(&model, f) {
            Ok(a) => a,
            Err(e) => {
                fail(&format!(
                    "internal error while generating `{}`: {e}",
                    f.display()
                ));
                ok = false;
                continue;
            }
        };
        match output::tree(&model, &artifacts) {
            Ok(tree) => units.push(Unit {
                path: f.clone(),
                tree,
                artifacts,
            }),
            Err(e) => {
                fail(&format!("internal error: {e}"));
                ok = false;
            }
        }
    }
    ok.then_some(units)
}

fn print_diagnostics(diags: &[Diagnostic], sources: &crate::source::SourceMap, format: Format) {
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
                plural(errors),
                plural(warnings)
            );
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Whether the inputs name whole folders of environments (the default `environments/` too). Only
/// then is an environment folder in the output that none of them produces stale: naming single
/// files says nothing about the environments left out.
fn covers_folders(inputs: &Inputs) -> bool {
    inputs.paths.iter().all(|p| p.is_dir())
}

/// How one environment's folder in the output differs from what the model compiles to.
struct Drift {
    environment: String,
    changes: Vec<output::Change>,
}

/// The drift of every compiled environment, plus the environments whose output is orphaned.
fn drift(inputs: &Inputs, units: &[Unit], out: &Path) -> std::io::Result<Vec<Drift>> {
    let mut all = Vec::new();
    for u in units {
        all.push(Drift {
            environment: u.tree.environment.clone(),
            changes: output::compare(out, &u.tree)?,
        });
    }
    for env in orphans(inputs, units, out)? {
        all.push(Drift {
            changes: output::orphan_changes(out, &env)?,
            environment: env,
        });
    }
    Ok(all)
}

/// Environments with output in `out` that the inputs no longer produce (none when the inputs are
/// single files).
fn orphans(inputs: &Inputs, units: &[Unit], out: &Path) -> std::io::Result<Vec<String>> {
    if !covers_folders(inputs) {
        return Ok(Vec::new());
    }
    let keep: Vec<&str> = units.iter().map(|u| u.tree.environment.as_str()).collect();
    output::orphans(out, &keep)
}

/// `build --check`: reports stale output and writes nothing.
fn check_stale(inputs: &Inputs, out: &Path, format: Format) -> u8 {
    let Some(units) = compile_all(inputs, format) else {
        return 2;
    };
    let drifts = match drift(inputs, &units, out) {
        Ok(d) => d,
        Err(e) => return fail(&e.to_string()),
    };
    for d in &drifts {
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
    let stale = drifts.iter().any(|d| !d.changes.is_empty());
    if stale {
        eprintln!("{}", refresh_hint(inputs, out));
    }
    u8::from(stale)
}

/// Writes every environment's output. Under the output folder's lock, every environment is first
/// checked (so an obstacle in one leaves all of them unwritten), then each is swapped in.
fn build(inputs: &Inputs, out: &Path, wait: Wait, format: Format) -> u8 {
    let Some(units) = compile_all(inputs, format) else {
        return 2;
    };
    let folder_error = |e: &dyn std::fmt::Display| fail(&format!("writing {}: {e}", out.display()));
    match crate::fsafe::real_dir(out) {
        Ok(true) => {}
        Ok(false) => {
            if let Err(e) = std::fs::create_dir_all(out) {
                return folder_error(&e);
            }
        }
        Err(e) => return folder_error(&std::io::Error::from(e)),
    }
    let _lock = match output::lock::lock(out, wait) {
        Ok(l) => l,
        Err(e) => return folder_error(&e),
    };
    let mut pending = Vec::new();
    for u in &units {
        match output::prepare(out, &u.tree) {
            Ok(p) => pending.push(p),
            Err(e) => return folder_error(&e),
        }
    }
    for p in pending {
        let (environment, files) = (p.environment().to_owned(), p.file_count());
        match output::apply(out, p) {
            Ok(0) => eprintln!("{environment}: up to date ({files} files)"),
            Ok(n) => eprintln!(
                "{environment}: wrote {} ({n} changed)",
                out.join(&environment).display()
            ),
            Err(e) => {
                return fail(&format!(
                    "writing {}: {e}",
                    out.join(&environment).display()
                ));
            }
        }
    }
    let orphans = match orphans(inputs, &units, out) {
        Ok(o) => o,
        Err(e) => return fail(&format!("listing {}: {e}", out.display())),
    };
    for env in orphans {
        match output::remove_orphan(out, &env) {
            Ok(n) => eprintln!(
                "{env}: removed {n} generated files (no environment file declares `{env}` any more)"
            ),
            Err(e) => return fail(&format!("removing {}: {e}", out.join(&env).display())),
        }
    }
    0
}

/// The command that refreshes `out` from these inputs.
fn refresh_hint(inputs: &Inputs, out: &Path) -> String {
    let mut cmd = String::from("deaap-gen build");
    for p in &inputs.paths {
        cmd.push(' ');
        cmd.push_str(&p.display().to_string());
    }
    if out != Path::new("generated") {
        cmd.push_str(&format!(" -o {}", out.display()));
    }
    format!("generated output is stale: run `{cmd}` and commit the result")
}

fn diff(inputs: &Inputs, against: &Path, stat: bool, format: Format) -> u8 {
    let Some(units) = compile_all(inputs, format) else {
        return 2;
    };
    let drifts = match drift(inputs, &units, against) {
        Ok(d) => d,
        Err(e) => return fail(&e.to_string()),
    };
    let changes: Vec<&output::Change> = drifts.iter().flat_map(|d| &d.changes).collect();
    let mut text = String::new();
    match format {
        Format::Json => {
            let files: Vec<serde_json::Value> = drifts
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
            let count = |k| changes.iter().filter(|c| c.kind == k).count();
            let v = serde_json::json!({
                "against": against.display().to_string(),
                "drift": !changes.is_empty(),
                "files": files,
                "summary": {
                    "modified": count(ChangeKind::Modified),
                    "added": count(ChangeKind::Added),
                    "removed": count(ChangeKind::Removed),
                },
            });
            text = format!("{v}\n");
        }
        Format::Human => {
            if !stat {
                let color = stdout_color();
                for d in &drifts {
                    for c in &d.changes {
                        text.push_str(&output::diff::unified(&d.environment, c, color));
                    }
                }
            }
            text.push_str(&output::diff::summary_of(changes.iter().copied()));
            text.push('\n');
        }
    }
    // A closed pipe (`deaap-gen diff | head`) is not a failure worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if changes.is_empty() {
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

/// Compiles one environment and prints its Kubernetes objects.
fn render_stream(path: &Path) -> u8 {
    let inputs = Inputs {
        paths: vec![path.to_path_buf()],
    };
    let Some(units) = compile_all(&inputs, Format::Human) else {
        return 2;
    };
    let Some(unit) = units.into_iter().next() else {
        return fail("no environment compiled");
    };
    match crate::stream::kubernetes_stream(&unit.artifacts) {
        Ok(s) if !s.is_empty() => match std::io::stdout().lock().write_all(s.as_bytes()) {
            Ok(()) => 0,
            Err(e) => fail(&format!("cannot write to stdout: {e}")),
        },
        Ok(_) => fail(&format!(
            "environment `{}` has no Kubernetes objects",
            unit.tree.environment
        )),
        Err(e) => fail(&e),
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
            text.push_str(&format!(
                "{}  {:<6}  {:<24}  {}\n",
                c.code,
                c.phase.as_str(),
                c.name,
                summary(c.what)
            ));
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
