//! `afterlife demo`: text and JSON rendering of [`crate::demo`]: a summary
//! table (scenario, how it ended, `$?`, what went, what stayed), then one
//! section per scenario with every measured fact.

use serde::Serialize;

use crate::cli::output::{Output, Style};
use crate::cli::{DemoArgs, Failure};
use crate::demo::{Check, DemoReport, Fact, RunReport, SCENARIOS, ScenarioReport, select};
use crate::exit::ExitStatus;
use crate::exit_code;
use crate::text::escape;

#[derive(Serialize)]
struct ListEntry {
    id: u8,
    name: &'static str,
    title: &'static str,
    question: &'static str,
}

pub(crate) fn run(args: &DemoArgs, output: &Output) -> Result<u8, Failure> {
    if args.list {
        list(output);
        return Ok(exit_code::SUCCESS);
    }
    let chosen = select(&args.scenarios).map_err(|e| Failure::new(escape(&e.to_string())))?;
    let report = crate::demo::run(&chosen);
    if output.json() {
        output.json_document(&report);
    } else {
        render(&report, output);
    }
    Ok(if report.scenarios.iter().any(|s| s.error.is_some()) {
        exit_code::FAILURE
    } else if report.held() {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

fn list(output: &Output) {
    if output.json() {
        let entries: Vec<ListEntry> = SCENARIOS
            .iter()
            .map(|s| ListEntry {
                id: s.id,
                name: s.name,
                title: s.title,
                question: s.question,
            })
            .collect();
        output.json_document(&entries);
        return;
    }
    for s in &SCENARIOS {
        output.line(&format!(
            "{:>2}  {:<16} {}",
            s.id,
            output.paint(Style::Bold, s.name),
            s.title
        ));
    }
}

/// A short form of how a process ended: `exit 3`, `SIGKILL`, `SIGSEGV+core`.
fn short(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited { code } => format!("exit {code}"),
        ExitStatus::Signaled { signal, core_dumped } => {
            format!("{signal}{}", if core_dumped { "+core" } else { "" })
        }
    }
}

/// The labels of the checks of `fact` that held, each once.
fn labels(scenario: &ScenarioReport, fact: Fact) -> String {
    let mut seen: Vec<&str> = Vec::new();
    // Every scenario's process goes once reaped: the sections say so; the
    // table keeps to what differs.
    for check in scenario
        .checks()
        .filter(|c| c.fact == fact && c.held && !(fact == Fact::Went && c.label == "process"))
    {
        if !seen.contains(&check.label.as_str()) {
            seen.push(&check.label);
        }
    }
    if seen.is_empty() {
        "-".to_string()
    } else {
        escape(&seen.join(", ")).into_owned()
    }
}

struct Row {
    id: String,
    name: String,
    ended: String,
    shell: String,
    went: String,
    stayed: String,
    verdict: (Style, String),
}

fn row(scenario: &ScenarioReport) -> Row {
    let failed = scenario.checks().filter(|c| !c.held).count();
    let verdict = match (&scenario.error, failed) {
        (Some(_), _) => (Style::Bad, "could not run".to_string()),
        (None, 0) => (Style::Good, "ok".to_string()),
        (None, n) => (Style::Bad, format!("{n} check{} failed", if n == 1 { "" } else { "s" })),
    };
    Row {
        id: scenario.id.to_string(),
        name: scenario.name.to_string(),
        ended: scenario
            .runs
            .iter()
            .map(|r| short(r.status()))
            .collect::<Vec<_>>()
            .join(" / "),
        shell: scenario
            .runs
            .iter()
            .map(|r| r.ending.shell_code.to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        went: labels(scenario, Fact::Went),
        stayed: labels(scenario, Fact::Stayed),
        verdict,
    }
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

fn render(report: &DemoReport, output: &Output) {
    let scenarios = report.scenarios.len();
    output.line(&format!(
        "{} — {scenarios} scenario{} run for real on Linux {}, in {:.1} s",
        output.paint(Style::Bold, "afterlife demo"),
        if scenarios == 1 { "" } else { "s" },
        escape(&report.machine.kernel),
        report.seconds
    ));
    output.line("");
    let rows: Vec<Row> = report.scenarios.iter().map(row).collect();
    let headers = ["#", "scenario", "how it ended", "$?", "what went", "what stayed"];
    let width = |i: usize, f: &dyn Fn(&Row) -> &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .chain([headers[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths = [
        width(0, &|r| &r.id),
        width(1, &|r| &r.name),
        width(2, &|r| &r.ended),
        width(3, &|r| &r.shell),
        width(4, &|r| &r.went),
        width(5, &|r| &r.stayed),
    ];
    let mut header: Vec<String> = headers.iter().zip(widths).map(|(h, w)| pad(h, w)).collect();
    header.push("checks".to_string());
    output.line(&output.paint(Style::Bold, &header.join("  ")));
    for r in &rows {
        let cells = [&r.id, &r.name, &r.ended, &r.shell, &r.went, &r.stayed];
        let mut line: Vec<String> = cells.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
        line[0] = format!("{:>w$}", r.id, w = widths[0]);
        output.line(&format!(
            "{}  {}",
            line.join("  "),
            output.paint(r.verdict.0, &r.verdict.1)
        ));
    }
    for scenario in &report.scenarios {
        output.line("");
        section(scenario, output);
    }
}

fn section(scenario: &ScenarioReport, output: &Output) {
    output.line(&format!(
        "{} {}",
        output.paint(
            Style::Bold,
            &format!("── {}. {} ({}) ──", scenario.id, scenario.title, scenario.name)
        ),
        output.paint(Style::Dim, &format!("{:.2} s", scenario.seconds))
    ));
    output.line(&output.paint(Style::Dim, scenario.question));
    for run in &scenario.runs {
        run_lines(run, output);
    }
    for note in &scenario.notes {
        output.line(&format!("  {} {}", output.paint(Style::Dim, "note:"), escape(note)));
    }
    if let Some(error) = &scenario.error {
        output.line(&format!(
            "  {} {}",
            output.paint(Style::Bad, "could not run:"),
            escape(error)
        ));
    }
}

fn run_lines(run: &RunReport, output: &Output) {
    output.line(&format!(
        "  {} (PID {}): {}",
        output.paint(Style::Bold, &escape(&run.label)),
        run.pid,
        escape(&run.action)
    ));
    let views = &run.ending;
    output.line(&format!(
        "    ended: {} — wait status {:#06x}, $? = {} — {}",
        views.status,
        views.wait_status,
        views.shell_code,
        escape(&views.meaning)
    ));
    if !run.explain.readings.is_empty() {
        output.line(&format!(
            "    explain {}: {}",
            escape(&run.explain.input),
            escape(&run.explain.readings.join("; or "))
        ));
    }
    for why in &run.why {
        output.line(&format!("    {} {}", output.paint(Style::Warn, "why:"), escape(why)));
    }
    for check in &run.checks {
        check_line(check, output);
    }
}

fn check_line(check: &Check, output: &Output) {
    let mark = if check.held {
        output.paint(Style::Good, "✓")
    } else {
        output.paint(Style::Bad, "✗")
    };
    let fact = match check.fact {
        Fact::Went => "went",
        Fact::Stayed => "stayed",
        Fact::Observed => "seen",
    };
    output.line(&format!(
        "    {mark} {:<6} {} — {}",
        fact,
        escape(&check.expected),
        output.paint(Style::Dim, &format!("measured: {}", escape(&check.measured)))
    ));
}
