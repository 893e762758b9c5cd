//! The `helm/` target: values for the DEAAP umbrella chart (`values.yaml`, in the shape of the
//! seed's staging and production values, extended to every service, storage backend and the
//! monitoring stack), the `values.schema.json` Helm checks those values against on lint, template,
//! install and upgrade, `monitoring-values.yaml` for kube-prometheus-stack and
//! `prometheus-adapter-values.yaml`, which serves the HPAs' Pods metrics.

mod monitoring;
mod schema;
mod values;

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
        let values = values::values(cx.env)?;
        let as_json = serde_json::to_value(&values)?;
        let mut out = vec![
            render::yaml_artifact(cx, self.name(), "helm/values.yaml", &values)?,
            Artifact::file(
                self.name(),
                "helm/values.schema.json",
                render::json_bytes(&schema::schema(cx.env, &as_json)?)?,
            ),
        ];
        if cx.env.monitoring.enabled {
            out.push(render::yaml_artifact(
                cx,
                self.name(),
                "helm/monitoring-values.yaml",
                &monitoring::values(cx.env),
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
