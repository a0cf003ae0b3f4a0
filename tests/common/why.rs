//! Shared by the `why` tests: run `afterlife why --json` and pick findings
//! and evidence out of its report.

use serde_json::Value;

use super::{run, stderr};

pub fn why_json(pid: i32) -> Value {
    let output = run(&["why", "--json", &pid.to_string()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    super::schema::parse("why", &String::from_utf8_lossy(&output.stdout))
}

pub fn kinds(diagnosis: &Value) -> Vec<String> {
    diagnosis["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

pub fn finding<'a>(diagnosis: &'a Value, kind: &str) -> &'a Value {
    diagnosis["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding in {diagnosis:#}"))
}

pub fn has_evidence(finding: &Value, source: &str, value: &str) -> bool {
    finding["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["source"] == source && e["value"].as_str().is_some_and(|v| v.contains(value)))
}
