//! The integration tests: one binary, one module per area. Each test runs the real `deaap-gen`
//! binary (or the library pipeline) the way a user or a consumer would and asserts what they would
//! notice: exit codes, messages, bytes written.

mod admission;
mod alerting;
mod argocd;
mod closure;
mod core;
mod diff;
mod flows;
mod formats;
mod generated;
mod kept;
mod logging;
mod ops;
mod outcomes;
mod quickstart;
mod rules;
mod safety;
mod support;
mod values;
