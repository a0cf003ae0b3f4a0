//! Every `--json` document the tests see is checked against its command's
//! JSON Schema in docs/schema/: the documented shape is the printed shape.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// A schema file of docs/schema/, built into the test executable (so that
/// the Windows tests, run under Wine, have them too).
macro_rules! schema_file {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema/", $name, ".json")),
        )
    };
}

/// Every schema file: the shared pieces, then one per command.
const FILES: &[(&str, &str)] = &[
    schema_file!("common"),
    schema_file!("explain"),
    schema_file!("status"),
    schema_file!("wait"),
    schema_file!("kill"),
    schema_file!("why"),
    schema_file!("holds"),
    schema_file!("snapshot"),
    schema_file!("leftovers"),
    schema_file!("run"),
    schema_file!("demo"),
    schema_file!("watch"),
    schema_file!("deaths"),
];

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
            let (_, text) = FILES.iter().find(|(file, _)| *file == name).expect("a schema file");
            serde_json::from_str(text).unwrap_or_else(|e| panic!("docs/schema/{name}.json: {e}"))
        };
        let documents: Vec<(String, Value)> = FILES
            .iter()
            .map(|(name, _)| {
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
    assert_eq!(
        FILES.len(),
        COMMANDS.len() + 1,
        "a schema file for each command, and common"
    );
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
    let mut errors = Vec::new();
    for error in validator.iter_errors(value) {
        describe(&error, 0, &mut errors);
    }
    assert!(
        errors.is_empty(),
        "afterlife {command} printed a document its schema (docs/schema/{command}.json) does not allow:\n{}\n{value:#}",
        errors.join("\n")
    );
}

/// One line per mismatch; for a document that fits none of a `oneOf`'s or
/// an `anyOf`'s branches (Linux or Windows, one event or another), why each
/// branch refused it.
fn describe(error: &jsonschema::ValidationError<'_>, depth: usize, lines: &mut Vec<String>) {
    let indent = "  ".repeat(depth);
    match error.kind() {
        jsonschema::error::ValidationErrorKind::OneOfNotValid { context }
        | jsonschema::error::ValidationErrorKind::AnyOf { context } => {
            lines.push(format!(
                "{indent}at {}: fits none of the branches",
                error.instance_path()
            ));
            for (n, branch) in context.iter().enumerate() {
                lines.push(format!("{indent}  branch {n}:"));
                for inner in branch.iter().take(5) {
                    describe(inner, depth + 2, lines);
                }
            }
        }
        _ => lines.push(format!("{indent}at {}: {error}", error.instance_path())),
    }
}

/// Parses one JSON document (or NDJSON line) and checks it against
/// `command`'s schema.
pub fn parse(command: &str, text: &str) -> Value {
    let value: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("afterlife {command}: not JSON ({e}): {text}"));
    check(command, &value);
    value
}
