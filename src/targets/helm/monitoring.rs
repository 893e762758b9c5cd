//! `monitoring-values.yaml` for the kube-prometheus-stack chart: the seed's monitoring stack
//! (retention, Prometheus storage, the `deaap-services` pod scrape job, Grafana persistence and
//! the DEAAP dashboard provider) plus the `ruleSelector` that makes Prometheus load the generated
//! `PrometheusRule`, and the Grafana sidecar settings that load the generated dashboard
//! `ConfigMap`s into their folder.

use crate::model::{Environment, NamespaceKey};
use crate::targets::kit;
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use std::collections::BTreeMap;

/// The kube-prometheus-stack release's object-name prefix, fixed so that the Prometheus Service
/// prometheus-adapter queries has a known name.
const STACK_FULLNAME: &str = "kube-prometheus-stack";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MonitoringValues {
    pub fullname_override: &'static str,
    pub prometheus: PrometheusValues,
    pub grafana: GrafanaValues,
    /// Alertmanager's configuration and the Secret of its receivers' credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<kit::alertmanager::Values>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PrometheusValues {
    pub prometheus_spec: PrometheusSpec,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PrometheusSpec {
    pub retention: String,
    pub storage_spec: StorageSpec,
    /// Selects the generated `PrometheusRule` by its labels.
    pub rule_selector: LabelSelector,
    /// With `false`, the chart uses `ruleSelector` as written instead of its own release label.
    pub rule_selector_nil_uses_helm_values: bool,
    pub additional_scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StorageSpec {
    pub volume_claim_template: VolumeClaimTemplate,
}

#[derive(Debug, Serialize)]
pub(super) struct VolumeClaimTemplate {
    pub spec: PersistentVolumeClaimSpec,
}

/// A Prometheus `scrape_config` (Prometheus' own snake-case format).
#[derive(Debug, Serialize)]
pub(super) struct ScrapeConfig {
    pub job_name: String,
    pub kubernetes_sd_configs: Vec<KubernetesSd>,
    pub relabel_configs: Vec<Relabel>,
}

#[derive(Debug, Serialize)]
pub(super) struct KubernetesSd {
    pub role: &'static str,
    pub namespaces: SdNamespaces,
}

#[derive(Debug, Serialize)]
pub(super) struct SdNamespaces {
    pub names: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct Relabel {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<&'static str>,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_label: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GrafanaValues {
    pub persistence: GrafanaPersistence,
    pub dashboard_providers: BTreeMap<&'static str, DashboardProviders>,
    pub sidecar: GrafanaSidecar,
}

/// The Grafana sidecar that loads dashboard `ConfigMap`s (the generated `grafana/dashboards.yaml`)
/// into the folder their annotation names.
#[derive(Debug, Serialize)]
pub(super) struct GrafanaSidecar {
    pub dashboards: SidecarDashboards,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SidecarDashboards {
    pub enabled: bool,
    pub label: &'static str,
    pub label_value: &'static str,
    pub folder_annotation: &'static str,
    pub provider: SidecarProvider,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SidecarProvider {
    pub folders_from_files_structure: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GrafanaPersistence {
    pub enabled: bool,
    pub size: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DashboardProviders {
    pub api_version: u8,
    pub providers: Vec<DashboardProvider>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DashboardProvider {
    pub name: String,
    pub org_id: u8,
    pub folder: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub disable_deletion: bool,
    pub editable: bool,
    pub options: ProviderOptions,
}

#[derive(Debug, Serialize)]
pub(super) struct ProviderOptions {
    pub path: String,
}

/// The kube-prometheus-stack values of one environment; `workloads` as [`crate::plan::workloads`]
/// gives them.
#[must_use]
pub(super) fn values(
    env: &Environment,
    workloads: &[crate::plan::Workload<'_>],
) -> MonitoringValues {
    let mon = &env.monitoring;
    MonitoringValues {
        fullname_override: STACK_FULLNAME,
        prometheus: PrometheusValues {
            prometheus_spec: PrometheusSpec {
                retention: mon.retention.clone(),
                storage_spec: StorageSpec {
                    volume_claim_template: VolumeClaimTemplate {
                        spec: PersistentVolumeClaimSpec {
                            storage_class_name: mon.storage.storage_class.clone(),
                            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                            resources: Some(VolumeResourceRequirements {
                                requests: Some(BTreeMap::from([(
                                    "storage".to_owned(),
                                    Quantity(mon.storage.size.to_string()),
                                )])),
                                ..VolumeResourceRequirements::default()
                            }),
                            ..PersistentVolumeClaimSpec::default()
                        },
                    },
                },
                rule_selector: kit::selector(mon.rule_labels.clone()),
                rule_selector_nil_uses_helm_values: false,
                additional_scrape_configs: vec![scrape_config(env)],
            },
        },
        grafana: GrafanaValues {
            persistence: GrafanaPersistence {
                enabled: mon.grafana.persistence.enabled,
                size: mon.grafana.persistence.size.to_string(),
                storage_class_name: mon.grafana.persistence.storage_class.clone(),
            },
            dashboard_providers: BTreeMap::from([(
                "dashboardproviders.yaml",
                DashboardProviders {
                    api_version: 1,
                    providers: vec![DashboardProvider {
                        name: mon.grafana.dashboard_provider.name.clone(),
                        org_id: 1,
                        folder: mon.grafana.dashboard_provider.folder.clone(),
                        kind: "file",
                        disable_deletion: false,
                        editable: true,
                        options: ProviderOptions {
                            path: mon.grafana.dashboard_provider.path.clone(),
                        },
                    }],
                },
            )]),
            sidecar: GrafanaSidecar {
                dashboards: SidecarDashboards {
                    enabled: true,
                    label: kit::DASHBOARD_LABEL.0,
                    label_value: kit::DASHBOARD_LABEL.1,
                    folder_annotation: kit::FOLDER_ANNOTATION,
                    provider: SidecarProvider {
                        folders_from_files_structure: true,
                    },
                },
            },
        },
        alertmanager: mon
            .alertmanager
            .as_ref()
            .map(|am| kit::alertmanager::values(env, am, workloads)),
    }
}

/// The pod scrape job: keeps pods annotated `prometheus.io/scrape: "true"` in the DEAAP workload
/// namespaces and honours their `prometheus.io/path` and `prometheus.io/port` annotations.
fn scrape_config(env: &Environment) -> ScrapeConfig {
    let mut relabel = vec![
        Relabel {
            source_labels: vec!["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
            action: "keep",
            // A string: YAML's bare `true` would be a boolean, which Prometheus refuses as a regex.
            regex: Some("true".to_owned()),
            ..Relabel::default()
        },
        Relabel {
            source_labels: vec!["__meta_kubernetes_pod_annotation_prometheus_io_path"],
            action: "replace",
            regex: Some("(.+)".to_owned()),
            target_label: Some("__metrics_path__"),
            ..Relabel::default()
        },
        Relabel {
            source_labels: vec![
                "__address__",
                "__meta_kubernetes_pod_annotation_prometheus_io_port",
            ],
            action: "replace",
            regex: Some(r"([^:]+)(?::\d+)?;(\d+)".to_owned()),
            target_label: Some("__address__"),
            replacement: Some("$1:$2".to_owned()),
        },
        Relabel {
            source_labels: vec!["__meta_kubernetes_namespace"],
            action: "replace",
            target_label: Some("namespace"),
            ..Relabel::default()
        },
        Relabel {
            source_labels: vec!["__meta_kubernetes_pod_name"],
            action: "replace",
            target_label: Some("pod"),
            ..Relabel::default()
        },
        Relabel {
            source_labels: vec!["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
            action: "replace",
            target_label: Some("app"),
            ..Relabel::default()
        },
    ];
    if env.blockchain.enabled {
        // The blockchain nodes report under their own job, which `up{job=...}` alerts watch.
        relabel.push(Relabel {
            source_labels: vec![
                "__meta_kubernetes_namespace",
                "__meta_kubernetes_pod_label_app_kubernetes_io_name",
            ],
            action: "replace",
            regex: Some(format!(
                "{};blockchain",
                regex_quote(env.namespace(NamespaceKey::Blockchain))
            )),
            target_label: Some("job"),
            // `$` starts a group reference in a replacement.
            replacement: Some(env.blockchain.metrics_job.replace('$', "$$")),
        });
    }
    ScrapeConfig {
        job_name: env.monitoring.scrape_job.clone(),
        kubernetes_sd_configs: vec![KubernetesSd {
            role: "pod",
            namespaces: SdNamespaces {
                names: [
                    NamespaceKey::Core,
                    NamespaceKey::Blockchain,
                    NamespaceKey::Storage,
                ]
                .iter()
                .map(|k| env.namespace(*k).to_owned())
                .collect(),
            },
        }],
        relabel_configs: relabel,
    }
}

/// Escapes RE2 metacharacters so a name matches only itself.
fn regex_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `prometheus-adapter-values.yaml`: the prometheus-adapter chart's values that serve every HPA's
/// Pods metric from the scraped series of the same name, restricted to the autoscaled service's
/// pods, through the custom metrics API. `None` when no HPA scales on a Pods metric.
#[derive(Debug, Serialize)]
pub(super) struct AdapterValues {
    pub prometheus: AdapterPrometheus,
    pub rules: AdapterRules,
}

#[derive(Debug, Serialize)]
pub(super) struct AdapterPrometheus {
    pub url: String,
    pub port: u16,
}

#[derive(Debug, Serialize)]
pub(super) struct AdapterRules {
    /// The chart's default rules expose every series; only the HPAs' metrics are served.
    pub default: bool,
    pub custom: Vec<AdapterRule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AdapterRule {
    pub series_query: String,
    pub resources: AdapterResources,
    pub name: AdapterName,
    pub metrics_query: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct AdapterResources {
    pub overrides: BTreeMap<&'static str, AdapterResource>,
}

#[derive(Debug, Serialize)]
pub(super) struct AdapterResource {
    pub resource: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct AdapterName {
    pub matches: String,
    #[serde(rename = "as")]
    pub as_: String,
}

#[must_use]
pub(super) fn adapter_values(env: &Environment) -> Option<AdapterValues> {
    let custom: Vec<AdapterRule> = env
        .enabled_services()
        .filter_map(|(name, s)| {
            let a = s.autoscaling.as_ref().filter(|a| a.enabled)?;
            let m = a.pods_metric.as_ref()?;
            let ns = env.namespace(s.namespace);
            Some(AdapterRule {
                // The scrape job's `namespace`, `pod` and `app` labels tie each series to a pod
                // of this service.
                series_query: format!("{}{{namespace=\"{ns}\",app=\"{name}\",pod!=\"\"}}", m.name),
                resources: AdapterResources {
                    overrides: BTreeMap::from([
                        (
                            "namespace",
                            AdapterResource {
                                resource: "namespace",
                            },
                        ),
                        ("pod", AdapterResource { resource: "pod" }),
                    ]),
                },
                name: AdapterName {
                    matches: format!("^{}$", regex_quote(&m.name)),
                    as_: m.name.clone(),
                },
                metrics_query: "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
            })
        })
        .collect();
    (!custom.is_empty()).then(|| AdapterValues {
        prometheus: AdapterPrometheus {
            url: format!(
                "http://{STACK_FULLNAME}-prometheus.{}.svc",
                env.namespace(NamespaceKey::Monitoring)
            ),
            port: 9090,
        },
        rules: AdapterRules {
            default: false,
            custom,
        },
    })
}
