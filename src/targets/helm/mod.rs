//! The `helm/` target: `values-<environment>.yaml` for the repository's `deaap` chart
//! (`charts/deaap/`, see [`chart`]; written after every other target, since it carries their
//! objects), `monitoring-values.yaml` for kube-prometheus-stack and
//! `prometheus-adapter-values.yaml`, which serves the HPAs' Pods metrics.

pub(super) mod chart;
mod monitoring;
mod reuse;

use crate::model::Environment;
use crate::render;
use crate::targets::{Artifact, Context, Target, TargetError};

pub(super) struct Helm;

impl Target for Helm {
    fn name(&self) -> &'static str {
        "helm"
    }

    fn applies(&self, env: &Environment) -> bool {
        env.is_kubernetes()
    }

    fn generate(&self, cx: &Context<'_>) -> Result<Vec<Artifact>, TargetError> {
        let mut out = Vec::new();
        if cx.env.monitoring.enabled {
            out.push(render::yaml_artifact(
                cx,
                self.name(),
                "helm/monitoring-values.yaml",
                &monitoring::values(cx.env, cx.workloads()),
            )?);
            if let Some(adapter) = monitoring::adapter_values(cx.env) {
                out.push(render::yaml_artifact(
                    cx,
                    self.name(),
                    "helm/prometheus-adapter-values.yaml",
                    &adapter,
                )?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
