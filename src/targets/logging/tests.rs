use super::*;
use crate::targets::testkit;
use serde_json::Value;

const SCHEMA: &str = include_str!("../../../schema/log-format.schema.json");
const SAMPLE: &str = include_str!("../../../tests/fixtures/logging/sample.json");
const FLUENT_BIT: &str = include_str!("../../../schema/external/fluent-bit-schema.json");

fn log_format() -> jsonschema::Validator {
    jsonschema::validator_for(&serde_json::from_str(SCHEMA).unwrap()).unwrap()
}

fn sample() -> Value {
    serde_json::from_str(SAMPLE).unwrap()
}

#[test]
fn the_specified_log_line_is_in_the_standard_format() {
    let errors: Vec<String> = log_format()
        .iter_errors(&sample())
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_standard_format_refuses_what_the_collector_could_not_route_or_time() {
    let v = log_format();
    let broken = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut line = sample();
        f(line.as_object_mut().unwrap());
        line
    };
    for required in [
        "timestamp",
        "level",
        "service",
        "pod",
        "namespace",
        "message",
    ] {
        let line = broken(&|m| {
            m.remove(required);
        });
        assert!(!v.is_valid(&line), "a line without `{required}` passes");
    }
    for (key, bad) in [
        ("level", json!("info")),
        ("level", json!("NOTICE")),
        ("timestamp", json!("2024-01-15T10:30:00Z")),
        ("timestamp", json!("2024-01-15T10:30:00.000+01:00")),
        ("timestamp", json!("2024-01-15 10:30:00.000Z")),
        ("trace_id", json!("XYZ")),
        ("duration_ms", json!(-1)),
        ("duration_ms", json!("2500")),
        ("service", json!("Doc_Ingester")),
        ("unexpected", json!("top-level fields go under metadata")),
    ] {
        let line = broken(&|m| {
            m.insert(key.to_owned(), bad.clone());
        });
        assert!(!v.is_valid(&line), "{key} = {bad} passes");
    }
}

#[test]
fn the_parser_reads_the_timestamp_the_format_writes() {
    let written = sample()["timestamp"].as_str().unwrap().to_owned();
    let mut formatted = TIME_FORMAT.to_owned();
    for (directive, value) in [
        ("%Y", "2024"),
        ("%m", "01"),
        ("%d", "15"),
        ("%H", "10"),
        ("%M", "30"),
        ("%S", "00"),
        ("%L", "000"),
    ] {
        formatted = formatted.replace(directive, value);
    }
    assert_eq!(formatted, written);
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let described = schema["properties"]["timestamp"]["description"]
        .as_str()
        .unwrap();
    assert!(described.contains(TIME_FORMAT), "{described}");
}

fn generated(rel: &str) -> (Environment, Vec<Value>) {
    let env = testkit::load(rel);
    let files = testkit::generate(&Logs, &env).unwrap();
    let text = &files["kubernetes/log-collector.yaml"];
    let docs = serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    (env, docs)
}

fn fluent_bit_config(docs: &[Value]) -> Value {
    let map = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    serde_yaml::from_str(map["data"][CONFIG_FILE].as_str().unwrap()).unwrap()
}

/// Keys of the `service` section and of a parser that the configuration uses, from Fluent Bit's
/// documentation (`--help-json` does not list them).
const SERVICE_KEYS: [&str; 9] = [
    "flush",
    "log_level",
    "http_server",
    "http_listen",
    "http_port",
    "health_check",
    "storage.path",
    "storage.sync",
    "storage.backlog.mem_limit",
];
const PARSER_KEYS: [&str; 5] = ["name", "format", "time_key", "time_format", "time_keep"];

#[test]
fn every_plugin_and_property_is_in_fluent_bits_schema() {
    let schema: Value = serde_json::from_str(FLUENT_BIT).unwrap();
    let (_, docs) = generated("environments/production.toml");
    let config = fluent_bit_config(&docs);
    let sections = [
        ("inputs", "inputs"),
        ("filters", "filters"),
        ("outputs", "outputs"),
    ];
    let mut checked = 0;
    for (key, section) in sections {
        for item in config["pipeline"][key].as_array().unwrap() {
            let name = item["name"].as_str().unwrap();
            let plugin = schema[section]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("no {section} plugin `{name}`"));
            let options: Vec<&Value> = plugin["properties"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|opts| opts.as_array().unwrap())
                .collect();
            let name_of = |o: &Value| o["name"].as_str().unwrap().to_ascii_lowercase();
            let known: Vec<String> = options.iter().map(|o| name_of(o)).collect();
            // Properties passed through to a library: `rdkafka.<librdkafka property>`.
            let prefixes: Vec<String> = options
                .iter()
                .filter(|o| o["type"] == "prefixed string")
                .map(|o| name_of(o))
                .collect();
            for property in item.as_object().unwrap().keys().filter(|k| *k != "name") {
                let p = property.to_ascii_lowercase();
                assert!(
                    known.contains(&p) || prefixes.iter().any(|x| p.starts_with(x.as_str())),
                    "{section} `{name}` has no property `{property}`"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
    for key in config["service"].as_object().unwrap().keys() {
        assert!(SERVICE_KEYS.contains(&key.as_str()), "service `{key}`");
    }
    for parser in config["parsers"].as_array().unwrap() {
        for key in parser.as_object().unwrap().keys() {
            assert!(PARSER_KEYS.contains(&key.as_str()), "parser `{key}`");
        }
    }
}

#[test]
fn each_workload_is_tailed_once_and_routed_to_its_topic() {
    let (env, docs) = generated("environments/production.toml");
    let config = fluent_bit_config(&docs);
    let inputs = config["pipeline"]["inputs"].as_array().unwrap();
    let deployed = crate::plan::deployed(&env);
    assert_eq!(inputs.len(), deployed.len());
    for w in &deployed {
        let tag = format!("deaap.{}.{}", w.namespace, w.name);
        assert_eq!(
            inputs.iter().filter(|i| i["tag"] == tag.as_str()).count(),
            1,
            "{tag}"
        );
    }
    let outputs = config["pipeline"]["outputs"].as_array().unwrap();
    let topic_of = |tag: &str| -> Vec<&str> {
        outputs
            .iter()
            .filter(|o| {
                regex_lite::Regex::new(o["match_regex"].as_str().unwrap())
                    .unwrap()
                    .is_match(tag)
            })
            .map(|o| o["topics"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        topic_of("deaap.deaap-core.authorization"),
        ["deaap-audit-logs"]
    );
    assert_eq!(
        topic_of("deaap.deaap-core.consensus-manager"),
        ["deaap-audit-logs"]
    );
    assert_eq!(topic_of("deaap.deaap-core.doc-ingester"), ["deaap-logs"]);
    assert_eq!(
        topic_of("deaap.deaap-core.doc-ingester-x"),
        Vec::<&str>::new()
    );
    for o in outputs {
        assert_eq!(o["brokers"], "kafka-bootstrap.kafka.svc.cluster.local:9093");
        assert_eq!(o["rdkafka.security.protocol"], "ssl");
    }
}

#[test]
fn a_workload_named_after_another_is_left_to_its_own_input() {
    let mut env = testkit::load("environments/production.toml");
    let api = env.services["api-gateway"].clone();
    env.services.insert("api-gateway-admin".to_owned(), api);
    let config = config(env.logging.as_ref().unwrap(), &crate::plan::workloads(&env));
    let inputs = config["pipeline"]["inputs"].as_array().unwrap();
    let gateway = inputs
        .iter()
        .find(|i| i["alias"] == "tail-api-gateway")
        .unwrap();
    assert_eq!(
        gateway["exclude_path"],
        "/var/log/containers/api-gateway-admin-*_deaap-core_api-gateway-admin-*.log"
    );
}

#[test]
fn the_collector_runs_on_every_node_with_the_least_it_needs() {
    let (env, docs) = generated("environments/staging.toml");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ServiceAccount", "ConfigMap", "DaemonSet", "NetworkPolicy"]
    );
    let monitoring = env.namespace(NamespaceKey::Monitoring);
    assert!(
        docs.iter()
            .all(|d| d["metadata"]["namespace"] == monitoring)
    );
    let ds = &docs[2];
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["tolerations"][0]["operator"], "Exists");
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert!(c["resources"]["limits"]["memory"].is_string());
    let policy = &docs[3];
    assert_eq!(policy["spec"]["policyTypes"][0], "Egress");
    assert_eq!(
        policy["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "kafka"
    );
    assert_eq!(policy["spec"]["egress"][0]["ports"][0]["port"], 9092);
}

#[test]
fn compose_and_disabled_environments_collect_nothing_here() {
    let dev = testkit::load("environments/development.toml");
    assert!(!Logs.applies(&dev));
    let minimal = testkit::load("tests/fixtures/minimal.toml");
    assert!(!Logs.applies(&minimal));
}
