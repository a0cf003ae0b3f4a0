//! Every `--json` document the tests see is checked against its command's
//! JSON Schema in docs/schema/: the documented shape is the printed shape.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// The schemas' folder, relative to the crate.
const FOLDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema");

/// The commands that print JSON, each with its schema file's name.
pub const COMMANDS: &[&str] = &[
    "explain",
    "status",
    "wait",
    "kill",
    "why",
    "holds",
    "snapshot",
    "leftovers",
    "run",
    "demo",
    "watch",
    "deaths",
];

fn validators() -> &'static HashMap<&'static str, jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let read = |name: &str| -> Value {
            let path = format!("{FOLDER}/{name}.json");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        let documents: Vec<(String, Value)> = std::iter::once("common")
            .chain(COMMANDS.iter().copied())
            .map(|name| {
                let schema = read(name);
                (
                    schema["$id"].as_str().expect("every schema has an $id").to_string(),
                    schema,
                )
            })
            .collect();
        let mut registry = jsonschema::Registry::new();
        for (id, schema) in &documents {
            registry = registry.add(id.as_str(), schema.clone()).expect("a schema registers");
        }
        let registry = registry.prepare().expect("the schemas' references resolve");
        COMMANDS
            .iter()
            .map(|&name| {
                let schema = read(name);
                let validator = jsonschema::options()
                    .with_registry(&registry)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("docs/schema/{name}.json: {e}"));
                (name, validator)
            })
            .collect()
    })
}

/// Compiles every schema; panics, naming the file, if one does not.
pub fn compile_all() {
    assert_eq!(validators().len(), COMMANDS.len());
}

/// The command a list of arguments runs (`timeout` reports as `run`).
pub fn command_of(args: &[&str]) -> Option<&'static str> {
    let word = args.iter().find(|a| !a.starts_with('-'))?;
    let word = if *word == "timeout" { "run" } else { word };
    COMMANDS.iter().copied().find(|c| *c == word)
}

/// Panics, naming each mismatch, unless `value` is a document of
/// `command`'s schema.
pub fn check(command: &str, value: &Value) {
    let validator = validators()
        .get(command)
        .unwrap_or_else(|| panic!("no schema for {command}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "afterlife {command} printed a document its schema (docs/schema/{command}.json) does not allow:\n{}\n{value:#}",
        errors.join("\n")
    );
}

/// Parses one JSON document (or NDJSON line) and checks it against
/// `command`'s schema.
pub fn parse(command: &str, text: &str) -> Value {
    let value: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("afterlife {command}: not JSON ({e}): {text}"));
    check(command, &value);
    value
}
