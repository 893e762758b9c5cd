//! The `alertmanager/` target: `alertmanager.yaml`, Alertmanager's configuration from
//! `[monitoring.alertmanager]` (built by [`kit::alertmanager`], which also gives it to
//! kube-prometheus-stack as `alertmanager.config` in `helm/monitoring-values.yaml`), for
//! `amtool check-config` and any Alertmanager run outside the chart.

use crate::model::Environment;
use crate::render;
use crate::targets::kit;
use crate::targets::{Artifact, Context, Target, TargetError};

pub(super) struct Alertmanager;

/// The standalone configuration file.
pub(super) const CONFIG_FILE: &str = "alertmanager/alertmanager.yaml";

impl Target for Alertmanager {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes() && env.monitoring.enabled && env.monitoring.alertmanager.is_some()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let Some(am) = &cx.env.monitoring.alertmanager else {
            return Ok(Vec::new());
        };
        Ok(vec![render::yaml_artifact(
            cx,
            self.name(),
            CONFIG_FILE,
            &kit::alertmanager::config(cx.env, am, cx.workloads()),
        )?])
    }
}
