//! `afterlife demo`: text and JSON rendering of [`crate::demo`]: a summary
//! table (scenario, how it ended, `$?`, what went, what stayed), then one
//! section per scenario with every measured fact.

use serde::Serialize;

use crate::cli::layout::{columns, display_width, fit_columns, hanging_indent, wrap};
use crate::cli::output::{Output, Style};
use crate::cli::{DemoArgs, Failure};
use crate::demo::{Check, DemoReport, Fact, RunReport, SCENARIOS, Scenario, ScenarioReport, select};
#[cfg(target_os = "linux")]
use crate::exit::ExitStatus;
use crate::exit_code;
use crate::text::{escape, escape_controls};

#[derive(Serialize)]
struct ListEntry {
    id: u8,
    name: &'static str,
    title: &'static str,
    question: &'static str,
}

pub(crate) fn run(args: &DemoArgs, output: &Output) -> Result<u8, Failure> {
    let chosen = select(&args.scenarios).map_err(|e| Failure::new(escape(&e.to_string())))?;
    if args.list {
        list(&chosen, output);
        return Ok(exit_code::SUCCESS);
    }
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

/// `--list`: the scenarios named, or all of them.
fn list(chosen: &[&Scenario], output: &Output) {
    if output.json() {
        let entries: Vec<ListEntry> = chosen
            .iter()
            .map(|s| ListEntry {
                id: s.id,
                name: s.name,
                title: s.title,
                question: s.question,
            })
            .collect();
        output.json_list("scenarios", &entries);
        return;
    }
    for s in chosen {
        output.line(&format!(
            "{:>2}  {:<16} {}",
            s.id,
            output.paint(Style::Bold, s.name),
            s.title
        ));
    }
}

/// A short form of how a process ended: `exit 3`, `SIGKILL`, `SIGSEGV+core`.
#[cfg(target_os = "linux")]
fn short(run: &RunReport) -> String {
    match run.status() {
        ExitStatus::Exited { code } => format!("exit {code}"),
        ExitStatus::Signaled { signal, core_dumped } => {
            format!("{signal}{}", if core_dumped { "+core" } else { "" })
        }
    }
}

/// A short form of how a process ended: `exit 3`, `0xC0000005`.
#[cfg(windows)]
fn short(run: &RunReport) -> String {
    match run.ending.exit_code {
        code @ 0..=0xFFFF => format!("exit {code}"),
        _ => run.ending.hex.clone(),
    }
}

/// The table's column of the code a shell shows.
#[cfg(target_os = "linux")]
const SHELL_HEADER: &str = "$?";
#[cfg(windows)]
const SHELL_HEADER: &str = "%ERRORLEVEL%";

/// The code a shell shows: `$?` on Linux.
#[cfg(target_os = "linux")]
fn shell(run: &RunReport) -> String {
    run.ending.views.shell_code.to_string()
}

/// The code a shell shows: cmd's `%ERRORLEVEL%` on Windows (signed).
#[cfg(windows)]
fn shell(run: &RunReport) -> String {
    run.ending.errorlevel.to_string()
}

/// Where the demo ran: `Linux 6.18.44`.
#[cfg(target_os = "linux")]
fn machine(report: &DemoReport) -> String {
    format!("Linux {}", escape(&report.machine.kernel))
}

/// Where the demo ran: `Windows 6.1.7601 (Wine 8.0)`.
#[cfg(windows)]
fn machine(report: &DemoReport) -> String {
    let wine = report
        .machine
        .wine
        .as_ref()
        .map(|v| format!(" (Wine {})", escape(v)))
        .unwrap_or_default();
    format!("Windows {}{wine}", escape(&report.machine.windows_version))
}

/// The line of how a run ended, with every reading.
#[cfg(target_os = "linux")]
fn ended_line(run: &RunReport) -> String {
    let views = &run.ending.views;
    // The meaning and the readings are afterlife's own words (a signal's
    // "Ctrl+\\" among them): only control characters need escaping.
    format!(
        "    ended: {} — wait status {:#06x}, $? = {} — {}",
        views.status,
        views.wait_status,
        views.shell_code,
        escape_controls(&views.meaning)
    )
}

/// The line of how a run ended, with every reading.
#[cfg(windows)]
fn ended_line(run: &RunReport) -> String {
    format!(
        "    ended: {} — %ERRORLEVEL% {}",
        escape_controls(&run.ending.describe()),
        run.ending.errorlevel
    )
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
        ended: scenario.runs.iter().map(short).collect::<Vec<_>>().join(" / "),
        shell: scenario.runs.iter().map(shell).collect::<Vec<_>>().join(" / "),
        went: labels(scenario, Fact::Went),
        stayed: labels(scenario, Fact::Stayed),
        verdict,
    }
}

fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(display_width(text))))
}

/// Prints `line`, wrapped at the terminal's width when there is one, with a
/// hanging indent.
fn emit(output: &Output, width: Option<usize>, line: &str) {
    match width {
        Some(width) => {
            for part in wrap(line, width, hanging_indent(line)) {
                output.line(&part);
            }
        }
        None => output.line(line),
    }
}

fn render(report: &DemoReport, output: &Output) {
    let width = columns();
    let scenarios = report.scenarios.len();
    emit(
        output,
        width,
        &format!(
            "{} — {scenarios} scenario{} run for real on {}, in {:.1} s",
            output.paint(Style::Bold, "afterlife demo"),
            if scenarios == 1 { "" } else { "s" },
            machine(report),
            report.seconds
        ),
    );
    output.line("");
    let rows: Vec<Row> = report.scenarios.iter().map(row).collect();
    table(&rows, output, width);
    for scenario in &report.scenarios {
        output.line("");
        section(scenario, output, width);
    }
}

/// The summary table; at a terminal too narrow for it, the columns that
/// list things wrap inside their cells.
fn table(rows: &[Row], output: &Output, width: Option<usize>) {
    const GAP: usize = 2;
    let headers = [
        "#",
        "scenario",
        "how it ended",
        SHELL_HEADER,
        "what went",
        "what stayed",
        "checks",
    ];
    let cells: Vec<[&str; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.id.as_str(),
                &r.name,
                &r.ended,
                &r.shell,
                &r.went,
                &r.stayed,
                &r.verdict.1,
            ]
        })
        .collect();
    let column = |i: usize, measure: &dyn Fn(&str) -> usize| {
        cells
            .iter()
            .map(|c| measure(c[i]))
            .chain([measure(headers[i])])
            .max()
            .unwrap_or(0)
    };
    let longest_word = |text: &str| text.split(' ').map(display_width).max().unwrap_or(0);
    let natural: Vec<usize> = (0..7).map(|i| column(i, &display_width)).collect();
    let words: Vec<usize> = (0..7).map(|i| column(i, &longest_word)).collect();
    let wrappable = [false, false, true, true, true, true, false];
    let widths = match width {
        Some(budget) => fit_columns(&natural, &words, &wrappable, GAP, budget),
        None => natural,
    };
    let header: Vec<String> = headers.iter().zip(&widths).map(|(h, w)| pad(h, *w)).collect();
    output.line(&output.paint(Style::Bold, header.join("  ").trim_end()));
    for (row, cell) in rows.iter().zip(&cells) {
        let wrapped: Vec<Vec<String>> = cell.iter().zip(&widths).map(|(text, w)| wrap(text, *w, 0)).collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for line in 0..height {
            let mut parts: Vec<String> = Vec::with_capacity(7);
            for (i, (lines, w)) in wrapped.iter().zip(&widths).enumerate() {
                let text = lines.get(line).map_or("", String::as_str);
                parts.push(match i {
                    0 => format!("{text:>w$}", w = *w),
                    6 => output.paint(row.verdict.0, text),
                    _ => pad(text, *w),
                });
            }
            output.line(parts.join("  ").trim_end());
        }
    }
}

fn section(scenario: &ScenarioReport, output: &Output, width: Option<usize>) {
    emit(
        output,
        width,
        &format!(
            "{} {}",
            output.paint(
                Style::Bold,
                &format!("── {}. {} ({}) ──", scenario.id, scenario.title, scenario.name)
            ),
            output.paint(Style::Dim, &format!("{:.2} s", scenario.seconds))
        ),
    );
    emit(output, width, &output.paint(Style::Dim, scenario.question));
    if let Some(windows) = SCENARIOS.iter().find(|s| s.id == scenario.id).and_then(|s| s.windows) {
        emit(output, width, &output.paint(Style::Dim, windows));
    }
    for run in &scenario.runs {
        run_lines(run, output, width);
    }
    for note in &scenario.notes {
        emit(
            output,
            width,
            &format!("  {} {}", output.paint(Style::Dim, "note:"), escape(note)),
        );
    }
    if let Some(error) = &scenario.error {
        emit(
            output,
            width,
            &format!("  {} {}", output.paint(Style::Bad, "could not run:"), escape(error)),
        );
    }
}

fn run_lines(run: &RunReport, output: &Output, width: Option<usize>) {
    emit(
        output,
        width,
        &format!(
            "  {} (PID {}): {}",
            output.paint(Style::Bold, &escape(&run.label)),
            run.pid,
            escape(&run.action)
        ),
    );
    emit(output, width, &ended_line(run));
    if !run.explain.readings.is_empty() {
        emit(
            output,
            width,
            &format!(
                "    explain {}: {}",
                escape(&run.explain.input),
                escape_controls(&run.explain.readings.join("; or "))
            ),
        );
    }
    for why in &run.why {
        emit(
            output,
            width,
            &format!("    {} {}", output.paint(Style::Warn, "why:"), escape(why)),
        );
    }
    for check in &run.checks {
        check_line(check, output, width);
    }
}

fn check_line(check: &Check, output: &Output, width: Option<usize>) {
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
    emit(
        output,
        width,
        &format!(
            "    {mark} {:<6} {} — {}",
            fact,
            escape(&check.expected),
            output.paint(Style::Dim, &format!("measured: {}", escape(&check.measured)))
        ),
    );
}
