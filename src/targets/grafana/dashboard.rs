//! The part of Grafana's dashboard JSON model deaap-gen writes: a dashboard of panels, each with
//! its Prometheus queries, a unit and thresholds. Panel options are the plugin's own objects.
//! Field names and values follow Grafana's typed models (`grafana-foundation-sdk`), which the
//! conformance suite validates every generated dashboard against.

use serde::Serialize;
use serde_json::{Value, json};

/// Kube-prometheus-stack's Prometheus data source: its sidecar provisions it with this uid.
const DATASOURCE_UID: &str = "prometheus";
/// Grafana's dashboard schema version the JSON is written in.
const SCHEMA_VERSION: u32 = 39;
/// Grafana's grid is 24 columns wide.
const GRID_WIDTH: u32 = 24;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Dashboard {
    pub uid: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    timezone: &'static str,
    editable: bool,
    graph_tooltip: u8,
    time: Time,
    refresh: &'static str,
    schema_version: u32,
    pub panels: Vec<Panel>,
}

#[derive(Debug, Serialize)]
struct Time {
    from: &'static str,
    to: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Panel {
    #[serde(rename = "type")]
    kind: &'static str,
    pub id: u32,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    grid_pos: GridPos,
    datasource: Datasource,
    pub targets: Vec<Query>,
    field_config: FieldConfig,
    options: Value,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct GridPos {
    h: u32,
    w: u32,
    x: u32,
    y: u32,
}

#[derive(Debug, Serialize)]
struct Datasource {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Query {
    pub ref_id: String,
    pub expr: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    legend_format: String,
    editor_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct FieldConfig {
    defaults: Value,
    overrides: Vec<Value>,
}

/// How a panel shows its queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Viz {
    /// One big number per query (the last value), coloured by the thresholds.
    Stat,
    /// Lines over time.
    TimeSeries,
    /// The instant result as rows.
    Table,
}

impl Viz {
    fn kind(self) -> &'static str {
        match self {
            Self::Stat => "stat",
            Self::TimeSeries => "timeseries",
            Self::Table => "table",
        }
    }

    /// Width and height on the grid.
    fn size(self) -> (u32, u32) {
        match self {
            Self::Stat => (6, 5),
            Self::TimeSeries => (12, 8),
            Self::Table => (24, 8),
        }
    }

    fn options(self) -> Value {
        match self {
            Self::Stat => json!({
                "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
                "colorMode": "background",
                "graphMode": "area",
                "justifyMode": "auto",
                "textMode": "auto",
                "orientation": "auto"
            }),
            Self::TimeSeries => json!({
                "legend": { "displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": [] },
                "tooltip": { "mode": "multi", "sort": "none" }
            }),
            Self::Table => json!({ "showHeader": true }),
        }
    }
}

/// A threshold: from `value` up (from minus infinity when `None`) the panel shows `color`.
pub(super) type Step = (Option<f64>, &'static str);

/// A panel being described, before it is placed on the grid.
pub(super) struct PanelSpec {
    pub viz: Viz,
    pub title: String,
    pub description: String,
    /// Grafana's unit id: `s`, `percentunit`, `ops`, `short`, ...
    pub unit: &'static str,
    /// `(expr, legend)` per query, in order (`refId` A, B, ...).
    pub queries: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

impl PanelSpec {
    pub(super) fn new(viz: Viz, title: impl Into<String>, unit: &'static str) -> Self {
        Self {
            viz,
            title: title.into(),
            description: String::new(),
            unit,
            queries: Vec::new(),
            steps: vec![(None, "green")],
        }
    }

    pub(super) fn query(mut self, expr: String, legend: impl Into<String>) -> Self {
        self.queries.push((expr, legend.into()));
        self
    }

    pub(super) fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
}

/// A dashboard of `specs`, laid out left to right, top to bottom, with panel ids 1, 2, ... in
/// that order: ids and positions follow from the model's order alone.
pub(super) fn dashboard(
    uid: String,
    title: String,
    description: String,
    tags: Vec<String>,
    specs: Vec<PanelSpec>,
) -> Dashboard {
    let (mut x, mut y, mut row_h) = (0, 0, 0);
    let mut panels = Vec::new();
    let mut last = None;
    for (i, spec) in specs.into_iter().enumerate() {
        let (w, h) = spec.viz.size();
        // A row holds panels of one kind, so rows of stats and rows of graphs stay aligned.
        if x + w > GRID_WIDTH || last.is_some_and(|v| v != spec.viz) {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        let grid_pos = GridPos { h, w, x, y };
        x += w;
        row_h = row_h.max(h);
        last = Some(spec.viz);
        panels.push(panel(
            u32::try_from(i + 1).unwrap_or(u32::MAX),
            grid_pos,
            spec,
        ));
    }
    Dashboard {
        uid,
        title,
        description,
        tags,
        timezone: "browser",
        editable: false,
        graph_tooltip: 1,
        time: Time {
            from: "now-6h",
            to: "now",
        },
        refresh: "1m",
        schema_version: SCHEMA_VERSION,
        panels,
    }
}

fn panel(id: u32, grid_pos: GridPos, spec: PanelSpec) -> Panel {
    let table = spec.viz == Viz::Table;
    let targets = spec
        .queries
        .into_iter()
        .zip(b'A'..=b'Z')
        .map(|((expr, legend), r)| Query {
            ref_id: char::from(r).to_string(),
            expr,
            legend_format: legend,
            editor_mode: "code",
            range: (!table).then_some(true),
            instant: table.then_some(true),
            format: table.then_some("table"),
        })
        .collect();
    let steps: Vec<Value> = spec
        .steps
        .iter()
        .map(|(value, color)| json!({ "color": color, "value": value }))
        .collect();
    Panel {
        kind: spec.viz.kind(),
        id,
        title: spec.title,
        description: spec.description,
        grid_pos,
        datasource: Datasource {
            kind: "prometheus",
            uid: DATASOURCE_UID,
        },
        targets,
        field_config: FieldConfig {
            defaults: json!({
                "unit": spec.unit,
                "thresholds": { "mode": "absolute", "steps": steps }
            }),
            overrides: Vec::new(),
        },
        options: spec.viz.options(),
    }
}
