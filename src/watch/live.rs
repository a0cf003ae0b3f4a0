//! The live terminal view: one block per process, one row per metric with
//! its current value, its verdict and a sparkline of its recent history.
//!
//! Drawn with ratatui on the alternate screen, without raw mode: Ctrl-C
//! stays what stops the watch loop (a SIGINT read from its signalfd on
//! Linux, a console control event on Windows), which then prints the
//! summary on the normal screen. `q` and Esc stop it the same way, through
//! the OS side's key reader ([`crate::watch::wake::Keys`]).

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
use crate::watch::wake::Keys;
use crate::watch::watched::Watched;

/// Columns for a metric's name and value before its verdict.
const NAME_VALUE_WIDTH: u16 = 31;

/// The live view on the terminal; leaves the alternate screen, and puts
/// back the terminal's line discipline, on drop.
pub struct LiveView {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    /// The key reader, which puts the terminal back when dropped.
    keys: Option<Keys>,
    reader_started: bool,
}

impl LiveView {
    /// Enters the alternate screen.
    pub fn start() -> std::io::Result<LiveView> {
        let mut stdout = std::io::stdout();
        execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout))?;
        Ok(LiveView {
            terminal,
            keys: None,
            reader_started: false,
        })
    }

    /// Redraws. The first call starts the key reader: by then the watch
    /// loop has blocked its stop signals, and the reader thread inherits
    /// that mask.
    pub fn draw(&mut self, watched: &[Watched], seconds: f64) -> std::io::Result<()> {
        if !self.reader_started {
            self.reader_started = true;
            self.keys = Keys::start(stops);
        }
        self.terminal.draw(|frame| render(frame, watched, seconds))?;
        Ok(())
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        // The key reader's settings first; best effort: the terminal may
        // be gone already (EIO, EPIPE).
        self.keys = None;
        let _ = execute!(
            self.terminal.backend_mut(),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
    }
}

/// Whether a read from the terminal is a key that stops the view: `q`, or
/// Esc alone (an arrow key's sequence also starts with Esc, and arrives in
/// one read). Pure.
pub fn stops(read: &[u8]) -> bool {
    matches!(read, [b'q' | b'Q'] | [0x1b])
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
                " — {} process{}, {:.0}s, {leaking} leaking — q stops",
                watched.len(),
                if watched.len() == 1 { "" } else { "es" },
                seconds
            )),
        ])),
        header,
    );
    // Leaking processes first; as many blocks as fit, and a line for the
    // rest.
    let mut order: Vec<&Watched> = watched.iter().collect();
    order.sort_by_key(|w| (!w.leaking(), w.ending.is_some()));
    let rows_per_block = Metric::BASE.len() as u16 + 2;
    let fit = blocks_that_fit(body.height, rows_per_block, order.len());
    let hidden = order.len() - fit;
    let mut constraints: Vec<Constraint> = (0..fit).map(|_| Constraint::Length(rows_per_block)).collect();
    constraints.push(Constraint::Min(0));
    let areas = Layout::vertical(constraints).split(body);
    for (w, block_area) in order.iter().take(fit).zip(areas.iter()) {
        render_process(frame, w, *block_area);
    }
    if hidden > 0 {
        let leaking_hidden = order[fit..]
            .iter()
            .filter(|w| w.leaking() && w.ending.is_none())
            .count();
        let text = match leaking_hidden {
            0 => format!("+{hidden} more (not leaking)"),
            n => format!("+{hidden} more ({n} of them leaking)"),
        };
        frame.render_widget(Paragraph::new(Line::from(text)), areas[fit]);
    }
}

/// How many process blocks of `rows` lines fit in `height` with `total`
/// processes: all if they fit, else as many as leave one line for "+N
/// more" (at least one). Pure.
pub fn blocks_that_fit(height: u16, rows: u16, total: usize) -> usize {
    let rows = rows.max(1);
    if (total as u64) * u64::from(rows) <= u64::from(height) {
        return total;
    }
    (usize::from(height.saturating_sub(1) / rows))
        .clamp(1, total.max(1))
        .min(total)
}

/// Columns for the sparkline in a block `inner` columns wide: what is left
/// beside the name, value and a verdict of about 50 columns, from 10 up to
/// 60; none when a verdict would have fewer than 14 columns beside it.
/// Pure.
pub fn sparkline_width(inner: u16) -> u16 {
    let beside = inner.saturating_sub(NAME_VALUE_WIDTH);
    if beside < 24 {
        return 0;
    }
    inner.saturating_sub(NAME_VALUE_WIDTH + 50).clamp(10, 60)
}

/// The sparkline's bars: each value above the window's floor, against a
/// scale of at least the metric's margin (3 fds, 1 MiB), so that a flat
/// series is a low line rather than a full bar, and a change of one fd is
/// not drawn as a jump to the top. Returns the bars and the scale's top.
/// Pure.
pub fn sparkline_bars(values: &[f64], margin: f64) -> (Vec<u64>, u64) {
    if values.is_empty() {
        return (Vec::new(), 8);
    }
    let floor = values.iter().copied().fold(f64::INFINITY, f64::min);
    let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (top - floor).max(margin).max(1.0);
    // A one-row sparkline has eight bar heights: the floor is the lowest
    // bar (never a blank), the top the full one.
    let scale = |v: f64| (((v - floor) / range) * 7.0).round() as u64 + 1;
    (values.iter().map(|&v| scale(v)).collect(), 8)
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
    let width = sparkline_width(inner.width);
    let measured = w.history.measured();
    for (metric, row) in Metric::BASE.iter().zip(rows.iter()) {
        let [label, spark] = Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(*row);
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
        let recent: Vec<f64> = series[series.len().saturating_sub(width as usize)..]
            .iter()
            .map(|p| p.1)
            .collect();
        let (bars, top) = sparkline_bars(&recent, metric.margin().absolute);
        frame.render_widget(
            Sparkline::default()
                .data(&bars)
                .max(top)
                .style(Style::default().fg(Color::Cyan)),
            spark,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_and_esc_stop_but_arrow_keys_do_not() {
        assert!(stops(b"q"));
        assert!(stops(b"Q"));
        assert!(stops(&[0x1b]));
        assert!(!stops(b"\x1b[A"), "an arrow key starts with Esc");
        assert!(!stops(b"x"));
        assert!(!stops(b"qq"), "pasted text is not a key");
    }

    #[test]
    fn a_flat_series_is_a_low_line_not_a_full_bar() {
        let (bars, top) = sparkline_bars(&[120.0; 30], 3.0);
        assert_eq!(top, 8);
        assert!(bars.iter().all(|&b| b == 1), "{bars:?}");
        // One fd more is a small step against the 3-fd margin, not a jump
        // to the top.
        let (bars, _) = sparkline_bars(&[120.0, 121.0, 120.0], 3.0);
        assert_eq!(bars, vec![1, 3, 1]);
        // A real climb uses the whole height.
        let (bars, _) = sparkline_bars(&[0.0, 50.0, 100.0], 3.0);
        assert_eq!(bars, vec![1, 5, 8]);
        assert_eq!(sparkline_bars(&[], 3.0).0, Vec::<u64>::new());
    }

    #[test]
    fn sparklines_stay_down_to_sixty_columns() {
        // A 60-column terminal: the block's inside is 58 columns.
        assert_eq!(sparkline_width(58), 10);
        assert_eq!(sparkline_width(100), 19);
        assert_eq!(sparkline_width(158), 60);
        assert_eq!(sparkline_width(40), 0, "too narrow: the values and verdicts first");
    }

    #[test]
    fn processes_that_do_not_fit_leave_a_line_for_the_rest() {
        // Eleven rows a block.
        assert_eq!(blocks_that_fit(39, 11, 3), 3);
        assert_eq!(blocks_that_fit(33, 11, 3), 3, "exactly fits: no line needed");
        assert_eq!(blocks_that_fit(39, 11, 15), 3);
        assert_eq!(blocks_that_fit(33, 11, 15), 2, "one line kept for +N more");
        assert_eq!(blocks_that_fit(5, 11, 15), 1);
        assert_eq!(blocks_that_fit(5, 11, 0), 0);
    }
}
