//! `afterlife watch`: the live view, NDJSON, the Prometheus exporter, the
//! plot and the final summary around [`crate::watch::Watcher`].

use std::io::IsTerminal;
use std::time::Duration;

use serde::Serialize;

use crate::cli::output::{Output, Style, stderr_line};
use crate::cli::{Failure, WatchArgs};
use crate::duration::format_duration;
use crate::exit_code;
use crate::process::Pid;
use crate::watch::live::LiveView;
use crate::watch::plot::{self, PlotProcess};
use crate::watch::prometheus::{Exporter, ProcessMetrics};
use crate::watch::series::{Metric, MetricVerdict, kind_counts};
use crate::watch::watcher::ending_text;
use crate::watch::{
    Ending, EndingText, FdBreakdown, Limits, Observer, Options, ProcessSummary, Sample, Targets, WatchError,
    WatchSummary, Watched, Watcher,
};

/// One NDJSON line.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event<'a> {
    Process {
        pid: Pid,
        name: &'a str,
        title: Option<&'a str>,
        command_line: &'a [String],
        limits: &'a Limits,
    },
    Sample {
        pid: Pid,
        at_seconds: f64,
        #[serde(flatten)]
        sample: &'a Sample,
        #[serde(skip_serializing_if = "Option::is_none")]
        fd_breakdown: Option<&'a FdBreakdown>,
    },
    Ended {
        pid: Pid,
        at_seconds: Option<f64>,
        ending: Option<&'a Ending>,
        ended_by_watch: bool,
    },
    Verdict {
        pid: Pid,
        #[serde(flatten)]
        verdict: &'a MetricVerdict,
    },
    Summary(&'a WatchSummary),
}

struct CliObserver<'a> {
    output: &'a Output,
    live: Option<LiveView>,
    exporter: Option<Exporter>,
    /// A JSON line was refused: stdout's reader went away.
    closed: bool,
}

impl CliObserver<'_> {
    fn event(&mut self, event: &Event<'_>) {
        if self.output.json() && !self.output.json_line_written(event) {
            self.closed = true;
        }
    }
}

impl Observer for CliObserver<'_> {
    fn added(&mut self, w: &Watched) {
        self.event(&Event::Process {
            pid: w.pid(),
            name: &w.name,
            title: w.title.as_deref(),
            command_line: &w.cmdline,
            limits: &w.limits,
        });
    }

    fn sampled(&mut self, w: &Watched, seconds: f64, sample: &Sample, breakdown: Option<&FdBreakdown>) {
        self.event(&Event::Sample {
            pid: w.pid(),
            at_seconds: seconds,
            sample,
            fd_breakdown: breakdown,
        });
    }

    fn ended(&mut self, w: &Watched) {
        self.event(&Event::Ended {
            pid: w.pid(),
            at_seconds: w.ended_after,
            ending: w.ending.as_ref(),
            ended_by_watch: w.ended_by_watch,
        });
    }

    /// The JSON reader went away and no exporter serves the watch.
    fn reader_gone(&self) -> bool {
        self.closed && self.exporter.is_none()
    }

    fn tick(&mut self, watched: &[Watched], seconds: f64, _fresh: bool) {
        if let Some(exporter) = &self.exporter {
            exporter.publish(&metrics_of(watched));
        }
        if let Some(live) = &mut self.live
            && live.draw(watched, seconds).is_err()
        {
            // The terminal went away: go on without the view.
            self.live = None;
        }
    }
}

fn metrics_of(watched: &[Watched]) -> Vec<ProcessMetrics> {
    watched
        .iter()
        .filter(|w| w.ending.is_none())
        .map(|w| ProcessMetrics {
            pid: w.pid().get(),
            name: w.name.clone(),
            sample: w.history.last().copied(),
            limits: w.limits.clone(),
            kinds: kind_counts(&w.breakdown).into_iter().collect(),
            verdicts: w.verdicts.clone(),
            stat: w.stat,
            started_at: w.started_at,
        })
        .collect()
}

fn targets(args: &WatchArgs) -> Targets {
    if let Some(root) = args.tree {
        Targets::Tree(root)
    } else if let Some(pattern) = &args.name {
        Targets::Name(pattern.clone())
    } else if !args.command.is_empty() {
        Targets::Command(args.command.clone())
    } else {
        Targets::Pids(args.pids.clone())
    }
}

fn failure(error: WatchError) -> Failure {
    let code = match &error {
        WatchError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => exit_code::NOT_FOUND,
        WatchError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            exit_code::CANNOT_EXECUTE
        }
        _ => exit_code::FAILURE,
    };
    Failure {
        message: crate::text::escape_native(&error.to_string()).into_owned(),
        code,
    }
}

pub(crate) fn run(args: &WatchArgs, output: &Output) -> Result<u8, Failure> {
    if args.interval.is_zero() {
        return Err(Failure::new("invalid --interval: it must be longer than 0"));
    }
    if let Some(path) = &args.plot {
        if plot::Format::of(path).is_none() {
            return Err(Failure::new(format!(
                "invalid --plot: {} must end in .svg or .png",
                crate::text::escape_native(&path.to_string_lossy())
            )));
        }
        // Found out now, not after a whole watch whose verdict would be lost.
        check_writable(path)?;
    }
    #[cfg(target_os = "linux")]
    refuse_itself(args)?;
    let exporter = match &args.prometheus {
        // The address is the user's text: escaped like everything else.
        Some(address) => Some(
            Exporter::serve(address)
                .map_err(|e| Failure::new(crate::text::escape_native(&e.to_string()).into_owned()))?,
        ),
        None => None,
    };
    if let Some(exporter) = &exporter {
        // On stderr, with or without --json: port 0 picks a free port.
        stderr_line(&format!(
            "afterlife: serving Prometheus metrics on http://{}/metrics",
            exporter.address()
        ));
    }
    // A started command keeps the terminal for its own output: no live view
    // over it.
    let live_wanted = !output.json() && std::io::stdout().is_terminal() && args.command.is_empty();
    let ticks = |period: Duration| (period.as_secs_f64() / args.interval.as_secs_f64()).ceil().max(1.0) as u64;
    let options = Options {
        interval: args.interval,
        duration: args.duration.filter(|d| !d.is_zero()),
        refresh_every: ticks(Duration::from_secs(2)),
        live_verdicts: live_wanted || exporter.is_some(),
        until_exit: args.until_exit,
        // NDJSON owns stdout: the command's own output goes to stderr.
        command_stdout_to_stderr: output.json(),
        stat_facts: exporter.is_some(),
    };
    let watcher = Watcher::start(targets(args), options).map_err(failure)?;
    let live = if live_wanted { LiveView::start().ok() } else { None };
    let mut observer = CliObserver {
        output,
        live,
        exporter,
        closed: false,
    };
    let summary = watcher.run(&mut observer);
    // Leave the alternate screen before printing the summary.
    observer.live = None;
    let (summary, histories) = summary.map_err(failure)?;
    if let Some(path) = &args.plot {
        // Control characters in a name would make the SVG invalid XML.
        let names: Vec<String> = summary.processes.iter().map(display_name).collect();
        let processes: Vec<PlotProcess<'_>> = summary
            .processes
            .iter()
            .zip(histories.iter())
            .zip(names.iter())
            .map(|((p, history), name)| PlotProcess {
                pid: p.pid.get(),
                name,
                history,
                verdicts: &p.verdicts,
            })
            .collect();
        plot::plot(path, &processes).map_err(Failure::new)?;
    }
    if output.json() {
        for p in &summary.processes {
            for verdict in &p.verdicts {
                output.json_line(&Event::Verdict { pid: p.pid, verdict });
            }
        }
        output.json_line(&Event::Summary(&summary));
    } else {
        for p in &summary.processes {
            for line in describe_process(p, args.until_exit, output) {
                output.line(&line);
            }
        }
        let verdict = overall_text(&summary, output);
        output.line(&format!(
            "watched {} process{} for {}: {verdict}",
            summary.processes.len(),
            if summary.processes.len() == 1 { "" } else { "es" },
            format_duration(Duration::from_secs_f64(summary.watched_seconds)),
        ));
        if let Some(path) = &args.plot {
            output.line(&format!(
                "plot written to {}",
                crate::text::escape_native(&path.to_string_lossy())
            ));
        }
    }
    Ok(if summary.leak {
        exit_code::NEGATIVE
    } else if summary.too_few_samples {
        exit_code::UNDECIDED
    } else {
        exit_code::SUCCESS
    })
}

/// Refuses afterlife's own PID, named or as `--tree`'s root, as `kill`
/// refuses it: its fds and memory grow with what it watches, so a verdict
/// on it would be about the watch. (`--tree` and `--name` leave it out of
/// what they find.)
#[cfg(target_os = "linux")]
fn refuse_itself(args: &WatchArgs) -> Result<(), Failure> {
    let me = Pid::current();
    if args.tree == Some(me) || args.pids.contains(&me) {
        let why = crate::terminate::select::Refusal::Itself.describe();
        return Err(Failure::new(format!("cannot watch {me}: {why}")));
    }
    Ok(())
}

/// Creates the plot file (or opens it for writing) and removes it again if
/// it did not exist.
fn check_writable(path: &std::path::Path) -> Result<(), Failure> {
    // A FIFO would hold the open (here and at the end) until a reader came,
    // and a device takes no chart: only a regular file is written.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, a socket or a device)"
        };
        return Err(Failure::new(format!(
            "invalid --plot: {} is {kind}",
            crate::text::escape_native(&path.to_string_lossy())
        )));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            Failure::new(format!(
                "invalid --plot: cannot write {}: {e}",
                crate::text::escape_native(&path.to_string_lossy())
            ))
        })?;
    if !existed {
        // Written for real at the end; an empty file meanwhile would mislead.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// The last line's verdict: running leaking processes, those that leaked
/// until they ended (counted apart), or why there is no answer.
fn overall_text(summary: &WatchSummary, output: &Output) -> String {
    let running = summary
        .processes
        .iter()
        .filter(|p| p.leaking && p.ending.is_none())
        .count();
    let ended = summary
        .processes
        .iter()
        .filter(|p| p.leaking && p.ending.is_some())
        .count();
    let plural = |n: usize| if n == 1 { "" } else { "es" };
    let mut parts = Vec::new();
    if running > 0 {
        parts.push(output.paint(Style::Bad, &format!("{running} leaking process{}", plural(running))));
    }
    if ended > 0 {
        parts.push(output.paint(
            Style::Bad,
            &format!(
                "{ended} process{} leaked until {} ended",
                plural(ended),
                if ended == 1 { "it" } else { "they" }
            ),
        ));
    }
    if parts.is_empty() {
        if summary.too_few_samples {
            return output.paint(Style::Bad, "too few samples to judge: no verdict");
        }
        // A gate must not read "no leak" as "every metric judged".
        let partly = summary
            .processes
            .iter()
            .filter(|p| p.last.as_ref().is_some_and(|l| !l.refusals(p.pid).is_empty()))
            .count();
        if partly > 0 {
            return format!(
                "{} in what could be read ({partly} process{} not read whole: see 'not read' above)",
                output.paint(Style::Good, "no leak found"),
                plural(partly)
            );
        }
        return output.paint(Style::Good, "no leak found");
    }
    parts.join(", ")
}

fn describe_verdict(v: &MetricVerdict) -> String {
    let mut text = format!("{} {}", v.metric, v.shape_text());
    if let Some(last) = v.last {
        text.push_str(&format!(", now {}", v.human(last)));
    }
    if let (Some(limit), Some(seconds)) = (v.limit, v.time_to_limit_seconds) {
        let what = match v.metric.as_str() {
            "fds" => "fd limit",
            "handles" => "handle limit",
            "private_bytes" => "commit limit",
            _ => "memory limit",
        };
        text.push_str(&format!(
            "; {what} {} reached in about {}",
            v.human(limit as f64),
            format_duration(Duration::from_secs_f64(seconds.min(1e9)))
        ));
    }
    if !v.judged && matches!(v.metric.as_str(), "rss_shmem" | "rss_file") && v.rise.is_some_and(|r| r > 0.0) {
        text.push_str(" (not a leak: pages touched or mapped, not allocated)");
    }
    text
}

/// How a process is shown: its title where it set one, else its name.
fn display_name(p: &ProcessSummary) -> String {
    crate::text::escape_native(p.title.as_deref().unwrap_or(&p.name)).into_owned()
}

fn describe_process(p: &ProcessSummary, until_exit: bool, output: &Output) -> Vec<String> {
    let name = output.paint(Style::Bold, &display_name(p));
    let head = match (p.leaking, p.ending.is_some(), p.unjudged) {
        // No sample: no value to show, only its ending below.
        (false, true, true) if p.samples == 0 => output.paint(Style::Bad, "ended before its first sample"),
        (true, false, _) => output.paint(Style::Bad, "LEAK"),
        (true, true, _) => output.paint(Style::Bad, "leaked until it ended"),
        (false, _, true) => output.paint(Style::Bad, "too few samples to judge"),
        (false, _, false) => output.paint(Style::Good, "no leak"),
    };
    let mut lines = vec![format!(
        "{} {name}: {head} ({} sample{})",
        p.pid,
        p.samples,
        if p.samples == 1 { "" } else { "s" }
    )];
    let base: Vec<String> = Metric::BASE.iter().map(|m| m.name()).collect();
    // A metric never sampled (a process that ended before its first
    // sample) has no value to show: "now 0" would be made up.
    for v in p.verdicts.iter().filter(|v| base.contains(&v.metric) && v.samples > 0) {
        let line = describe_verdict(v);
        let line = if v.leaks() {
            output.paint(Style::Bad, &line)
        } else {
            line
        };
        lines.push(format!("  {line}"));
    }
    if let Some(last) = &p.last {
        lines.extend(last.refusals(p.pid).into_iter().map(|line| format!("  {line}")));
    }
    for v in p.verdicts.iter().filter(|v| v.kind.is_some() && v.leaks()) {
        lines.push(format!(
            "  leaking kind: {}",
            output.paint(Style::Bad, &describe_verdict(v))
        ));
    }
    if !p.fd_breakdown.kinds.is_empty() {
        let kinds: Vec<String> = p.fd_breakdown.kinds.iter().map(|(k, c)| format!("{k} {c}")).collect();
        lines.push(format!("  fds by kind: {}", kinds.join(", ")));
    }
    for t in &p.fd_breakdown.top_targets {
        lines.push(format!(
            "  held {}×: {} ({})",
            t.count,
            crate::text::escape_native(&t.target),
            t.kind.name()
        ));
    }
    if until_exit || p.ending.is_some() {
        let ending = describe_ending(p.pid, p.title.as_deref().unwrap_or(&p.name), p.ending.as_ref(), output);
        let by = if p.ended_by_watch {
            " (afterlife ended it: the watch stopped)"
        } else {
            ""
        };
        lines.push(format!("  {ending}{by}"));
    }
    lines
}

fn describe_ending(pid: Pid, name: &str, ending: Option<&Ending>, output: &Output) -> String {
    let name = crate::text::escape_native(name);
    match ending.map(ending_text) {
        Some(EndingText::Known {
            outcome,
            success,
            details,
        }) => format!(
            "{pid} {name} ended: {}{details}",
            output.paint(if success { Style::Good } else { Style::Bad }, &outcome),
        ),
        Some(EndingText::Unknown { reason }) => {
            format!("{pid} {name} ended; its exit status cannot be known: {reason}")
        }
        None => format!("{pid} {name} still running"),
    }
}
