//! The live terminal view: one block per process, one row per metric with
//! its current value, its verdict and a sparkline of its recent history.
//!
//! Drawn with ratatui on the alternate screen, without raw mode: Ctrl-C
//! stays a SIGINT, which the watch loop reads from its signalfd to stop and
//! print the summary on the normal screen.

use std::io::Stdout;

use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

use crate::text::escape;
use crate::watch::series::{Metric, MetricVerdict};
use crate::watch::trend::Verdict;
use crate::watch::watcher::Watched;

/// Columns for a metric's name, value and verdict before its sparkline.
const LABEL_WIDTH: u16 = 80;

/// The live view on the terminal; leaves the alternate screen on drop.
pub struct LiveView {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl LiveView {
    /// Enters the alternate screen.
    pub fn start() -> std::io::Result<LiveView> {
        let mut stdout = std::io::stdout();
        execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout))?;
        Ok(LiveView { terminal })
    }

    /// Redraws.
    pub fn draw(&mut self, watched: &[Watched], seconds: f64) -> std::io::Result<()> {
        self.terminal.draw(|frame| render(frame, watched, seconds))?;
        Ok(())
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        // Best effort: the terminal may be gone already (EIO, EPIPE).
        let _ = execute!(
            self.terminal.backend_mut(),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
    }
}

/// Draws on any backend (tests use ratatui's `TestBackend`).
pub fn draw_on<B: Backend>(terminal: &mut Terminal<B>, watched: &[Watched], seconds: f64) -> Result<(), B::Error> {
    terminal.draw(|frame| render(frame, watched, seconds))?;
    Ok(())
}

fn human(metric: Metric, value: f64) -> String {
    crate::watch::series::human_value(metric.base_name(), value)
}

fn verdict_span(_metric: Metric, verdict: Option<&MetricVerdict>) -> Span<'static> {
    let Some(v) = verdict else {
        return Span::styled("…", Style::default().fg(Color::DarkGray));
    };
    let color = match v.verdict {
        Verdict::Leaking if v.judged => Color::Red,
        Verdict::Leaking | Verdict::WarmingUp | Verdict::Growing => Color::Yellow,
        Verdict::LevelledOff | Verdict::Step | Verdict::Steady | Verdict::Shrinking | Verdict::Shifting => Color::Green,
        Verdict::TooFewSamples => Color::DarkGray,
    };
    Span::styled(v.shape_text(), Style::default().fg(color))
}

fn render(frame: &mut Frame<'_>, watched: &[Watched], seconds: f64) {
    let area = frame.area();
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    // Processes that ended are not counted among the leaking ones.
    let leaking = watched.iter().filter(|w| w.leaking() && w.ending.is_none()).count();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("afterlife watch", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " — {} process{}, {:.0}s, {leaking} leaking — Ctrl-C stops",
                watched.len(),
                if watched.len() == 1 { "" } else { "es" },
                seconds
            )),
        ])),
        header,
    );
    // Leaking processes first; as many blocks as fit.
    let mut order: Vec<&Watched> = watched.iter().collect();
    order.sort_by_key(|w| (!w.leaking(), w.ending.is_some()));
    let rows_per_block = Metric::BASE.len() as u16 + 2;
    let fit = (body.height / rows_per_block).max(1) as usize;
    let shown: Vec<&Watched> = order.into_iter().take(fit).collect();
    let areas = Layout::vertical(shown.iter().map(|_| Constraint::Length(rows_per_block))).split(body);
    for (w, block_area) in shown.iter().zip(areas.iter()) {
        render_process(frame, w, *block_area);
    }
}

fn render_process(frame: &mut Frame<'_>, w: &Watched, area: Rect) {
    let mut title = format!(" {} {} ", w.pid(), escape(&w.name));
    if w.ending.is_some() {
        title.push_str("(ended) ");
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = Layout::vertical(Metric::BASE.iter().map(|_| Constraint::Length(1))).split(inner);
    let width = inner.width.saturating_sub(LABEL_WIDTH) as usize;
    let measured = w.history.measured();
    for (metric, row) in Metric::BASE.iter().zip(rows.iter()) {
        let [label, spark] = Layout::horizontal([Constraint::Length(LABEL_WIDTH), Constraint::Min(0)]).areas(*row);
        if !measured.contains(metric) {
            let text = format!("{:<17}{:>12}  not readable (needs ptrace access)", metric.title(), "-");
            frame.render_widget(Paragraph::new(Line::from(Span::raw(text))), label);
            continue;
        }
        let series = w.history.series(*metric);
        let current = series.last().map_or(0.0, |p| p.1);
        let verdict = w.verdicts.iter().find(|v| v.metric == metric.name());
        let mut spans = vec![
            Span::raw(format!("{:<17}{:>12}  ", metric.title(), human(*metric, current))),
            verdict_span(*metric, verdict),
        ];
        if *metric == Metric::Fds && !w.breakdown.kinds.is_empty() {
            let leaking: Vec<&str> = crate::watch::series::leaking_kinds(&w.verdicts)
                .iter()
                .map(|k| k.name())
                .collect();
            if !leaking.is_empty() {
                spans.push(Span::styled(
                    format!(" ({})", leaking.join(", ")),
                    Style::default().fg(Color::Red),
                ));
            }
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), label);
        let data: Vec<u64> = series[series.len().saturating_sub(width)..]
            .iter()
            .map(|p| p.1 as u64)
            .collect();
        let floor = data.iter().copied().min().unwrap_or(0);
        // Relative to the window's floor, so small changes in big values show.
        let relative: Vec<u64> = data.iter().map(|v| v - floor + 1).collect();
        frame.render_widget(
            Sparkline::default()
                .data(&relative)
                .style(Style::default().fg(Color::Cyan)),
            spark,
        );
    }
}
