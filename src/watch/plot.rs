//! A chart of every metric over time with its trend line, as SVG or PNG
//! (chosen by the file's extension), drawn with `plotters`.
//!
//! Panels share the time axis; their list is the OS's sampler's
//! ([`crate::watch::sample::PLOT_PANELS`]). On Linux four: open fds (with
//! one line per fd kind that had fds), memory (RSS, PSS, swap in MiB),
//! threads, children; on Windows three: handles, memory (private bytes,
//! working set), threads. Each series
//! has its Theil–Sen trend line dashed over it in a darker shade, each
//! panel's title carries the verdict, and its legend sits beside it (never
//! over the data): one entry per series with its verdict. Counts get
//! ticks on whole numbers only.
//!
//! With more than [`FEW`] processes (a tree) the chart would drown in
//! lines and legends: it has one panel per metric (open fds, anonymous
//! memory, RSS, threads) with the tree's total and its top processes, and
//! the legend beside the chart rather than over it. Titles are cut to fit.
//!
//! Text needs a font: plotters' `ab_glyph` backend is pure Rust but brings
//! no font of its own, so the first TrueType font found under the usual
//! system font directories (DejaVu Sans first) is registered. The PNG
//! encoder is the pure-Rust `image` crate; no system library is linked.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::watch::sample::{self, FdKind};
use crate::watch::series::{History, Metric, MetricVerdict};

/// One process to draw.
#[derive(Debug, Clone, Copy)]
pub struct PlotProcess<'a> {
    /// Its PID.
    pub pid: i32,
    /// Its name (escaped for display).
    pub name: &'a str,
    /// Its samples.
    pub history: &'a History,
    /// Its verdicts.
    pub verdicts: &'a [MetricVerdict],
}

/// Drawing the chart failed.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The extension is neither `.svg` nor `.png`.
    #[error("cannot tell the format of {path}: use a .svg or .png file name")]
    Format {
        /// The path.
        path: PathBuf,
    },
    /// No font to draw text with.
    #[error(
        "no TrueType font found under /usr/share/fonts (or %WINDIR%\\Fonts) for the chart's text (install fonts-dejavu-core)"
    )]
    NoFont,
    /// plotters or the file system failed.
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The image format, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SVG.
    Svg,
    /// PNG.
    Png,
}

impl Format {
    /// From the extension (case-insensitive).
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }
}

const FONT_DIRS: [&str; 3] = ["/usr/share/fonts", "/usr/local/share/fonts", "/usr/lib/fonts"];

fn find_font() -> Option<Vec<u8>> {
    // Windows keeps its fonts in %WINDIR%\Fonts (Wine's prefix may have
    // none there: then the Linux directories, which Wine shows as Z:).
    let windows = std::env::var_os("WINDIR").map(|dir| PathBuf::from(dir).join("Fonts"));
    let mut preferred: Vec<PathBuf> = windows
        .iter()
        .flat_map(|fonts| ["segoeui.ttf", "arial.ttf"].map(|name| fonts.join(name)))
        .collect();
    preferred.extend(
        [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        ]
        .map(PathBuf::from),
    );
    for path in preferred {
        if let Ok(bytes) = std::fs::read(path) {
            return Some(bytes);
        }
    }
    let mut stack: Vec<PathBuf> = FONT_DIRS.iter().map(PathBuf::from).chain(windows).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ttf"))
                && let Ok(bytes) = std::fs::read(&path)
            {
                return Some(bytes);
            }
        }
    }
    None
}

fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let Some(bytes) = find_font() else { return false };
        // Registered once for the life of the process, as plotters requires.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    });
    if ok { Ok(()) } else { Err(PlotError::NoFont) }
}

/// Draws the chart into `path`.
pub fn plot(path: &Path, processes: &[PlotProcess<'_>]) -> Result<(), PlotError> {
    let format = Format::of(path).ok_or_else(|| PlotError::Format {
        path: path.to_path_buf(),
    })?;
    ensure_font()?;
    let draw_error = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let size = (1200, 1400);
    // Before a backend is made: it writes the file when dropped, even
    // after an error.
    regular_or_absent(path).map_err(draw_error)?;
    match format {
        Format::Svg => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw(&root, processes).map_err(draw_error)?;
            root.present().map_err(|e| draw_error(e.to_string()))
        }
        Format::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(&root, processes).map_err(draw_error)?;
            root.present().map_err(|e| draw_error(e.to_string()))
        }
    }
}

/// Refuses a path that became something other than a regular file since
/// the watch began (it was checked then): opening a FIFO for writing
/// would wait for a reader, for ever if none came. (One made while the
/// chart is drawn, a fraction of a second, is not seen.)
fn regular_or_absent(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err("it is not a regular file (a FIFO, a socket or a device)".to_string()),
        _ => Ok(()),
    }
}

/// One line to draw: label, metric, points, verdict.
type Drawn<'a> = (String, Metric, Vec<(f64, f64)>, Option<&'a MetricVerdict>);

/// A panel of the chart, as an OS's sampler lists them
/// ([`crate::watch::sample::PLOT_PANELS`]).
#[derive(Debug, Clone, Copy)]
pub struct PanelSpec {
    /// Its title.
    pub title: &'static str,
    /// The unit of its axis.
    pub unit: &'static str,
    /// Its metrics (the panel of open fds also gets one line per fd kind
    /// that had fds).
    pub metrics: &'static [Metric],
    /// Draw only the metrics some process could read (PSS and swap need
    /// `smaps_rollup`).
    pub measured_only: bool,
}

struct Panel {
    title: &'static str,
    unit: &'static str,
    metrics: Vec<Metric>,
}

fn panels(processes: &[PlotProcess<'_>]) -> Vec<Panel> {
    sample::PLOT_PANELS
        .iter()
        .map(|spec| {
            let mut metrics: Vec<Metric> = spec
                .metrics
                .iter()
                .copied()
                .filter(|m| !spec.measured_only || processes.iter().any(|p| p.history.measured().contains(m)))
                .collect();
            if spec.metrics.contains(&Metric::Fds) {
                for kind in FdKind::ALL {
                    if processes.iter().any(|p| p.history.kinds_seen().contains(&kind)) {
                        metrics.push(Metric::FdsOfKind(kind));
                    }
                }
            }
            Panel {
                title: spec.title,
                unit: spec.unit,
                metrics,
            }
        })
        .collect()
}

fn scale(metric: Metric) -> f64 {
    if metric.is_bytes() { 1.0 / 1_048_576.0 } else { 1.0 }
}

/// The panel's verdict line: the worst verdict among its metrics.
fn headline(panel: &Panel, processes: &[PlotProcess<'_>]) -> String {
    let mut parts = Vec::new();
    for p in processes {
        for v in p.verdicts {
            let in_panel = panel.metrics.iter().any(|m| m.name() == v.metric);
            if !in_panel || !v.leaks() {
                continue;
            }
            let per_minute = v.growth_per_minute * if panel.unit == "MiB" { 1.0 / 1_048_576.0 } else { 1.0 };
            let mut text = format!("{} {} leaking {:+.1} {}/min", p.pid, v.metric, per_minute, panel.unit);
            if let (Some(limit), Some(seconds)) = (v.limit, v.time_to_limit_seconds) {
                text.push_str(&format!(
                    ", limit {limit} in about {}",
                    crate::duration::format_duration(std::time::Duration::from_secs_f64(seconds))
                ));
            }
            parts.push(text);
        }
    }
    if parts.is_empty() {
        format!("{}: no leak", panel.title)
    } else {
        format!("{}: {}", panel.title, parts.join("; "))
    }
}

/// More processes than this are drawn as a tree: one panel per metric with
/// the total and the top processes.
pub const FEW: usize = 4;

/// Processes drawn by name in a tree's panel, besides the total.
const TOP: usize = 5;

/// Cuts a title to `max` characters, with an ellipsis, so that it is not
/// clipped by the image's edge. Pure.
pub fn fit_title(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The sum over processes of a metric, on the union of their sample times;
/// each process counts from its first to its last sample with its latest
/// value. Pure.
pub fn total(series: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let mut times: Vec<f64> = series.iter().flatten().map(|p| p.0).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    times
        .into_iter()
        .map(|t| {
            let sum = series
                .iter()
                .filter(|s| s.first().is_some_and(|f| f.0 <= t) && s.last().is_some_and(|l| l.0 >= t))
                .map(|s| s[s.partition_point(|p| p.0 <= t) - 1].1)
                .sum();
            (t, sum)
        })
        .collect()
}

/// The processes with the highest values of a metric, at most `n`,
/// highest first, as positions in `series`. Pure.
pub fn top(series: &[Vec<(f64, f64)>], n: usize) -> Vec<usize> {
    let peak = |s: &Vec<(f64, f64)>| s.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let mut order: Vec<usize> = (0..series.len()).filter(|&i| !series[i].is_empty()).collect();
    order.sort_by(|&a, &b| peak(&series[b]).total_cmp(&peak(&series[a])));
    order.truncate(n);
    order
}

fn draw_tree<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, processes: &[PlotProcess<'_>]) -> Result<(), String> {
    let e = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    root.fill(&WHITE).map_err(e)?;
    let first = processes
        .first()
        .map_or(String::new(), |p| format!("{} {}", p.pid, p.name));
    let title = format!("afterlife watch: {} processes ({first} and its tree)", processes.len());
    let root = root
        .titled(&fit_title(&title, 80), ("sans-serif", 26).into_font())
        .map_err(e)?;
    let metrics = sample::TREE_PLOT;
    let areas = root.split_evenly((metrics.len(), 1));
    let t_max = processes
        .iter()
        .filter_map(|p| p.history.samples().last().map(|s| s.0))
        .fold(1.0f64, f64::max);
    for (metric, area) in metrics.iter().zip(areas.iter()) {
        let k = scale(*metric);
        let series: Vec<Vec<(f64, f64)>> = processes
            .iter()
            .map(|p| p.history.series(*metric).into_iter().map(|(t, v)| (t, v * k)).collect())
            .collect();
        let mut lines: Vec<(String, Vec<(f64, f64)>)> = vec![("tree total".to_string(), total(&series))];
        for i in top(&series, TOP) {
            let p = &processes[i];
            let verdict = p.verdicts.iter().find(|v| v.metric == metric.name());
            // The verdict before the name, so that cutting a long title
            // never cuts the verdict.
            let word = verdict.map_or(String::new(), |v| format!(" ({})", v.verdict.name()));
            lines.push((fit_title(&format!("{}{word} {}", p.pid, p.name), 42), series[i].clone()));
        }
        let leaking: Vec<String> = processes
            .iter()
            .filter(|p| p.verdicts.iter().any(|v| v.metric == metric.name() && v.leaks()))
            .map(|p| format!("{} {}", p.pid, p.name))
            .collect();
        let caption = if leaking.is_empty() {
            format!("{}: no leak", metric.title())
        } else {
            format!("{}: leaking in {}", metric.title(), leaking.join(", "))
        };
        let (plot_area, legend_area) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(LEGEND_WIDTH));
        let y_max = lines
            .iter()
            .flat_map(|l| l.1.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let axis = YAxis::of(y_max, metric.is_bytes());
        let unit = if metric.is_bytes() { "MiB" } else { "count" };
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(fit_title(&caption, 75), ("sans-serif", 20).into_font())
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..t_max, 0.0..axis.top)
            .map_err(e)?;
        axis.mesh(&mut chart, unit).map_err(e)?;
        let mut legend = Legend::new(&legend_area);
        for (index, (label, points)) in lines.iter().enumerate() {
            let color = if index == 0 {
                BLACK.to_rgba()
            } else {
                Palette99::pick(index - 1).to_rgba()
            };
            let width = if index == 0 { 3 } else { 2 };
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(width)))
                .map_err(e)?;
            // The legend beside the chart, never over the data.
            legend.entry(label, color, width).map_err(e)?;
        }
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, processes: &[PlotProcess<'_>]) -> Result<(), String> {
    if processes.len() > FEW {
        return draw_tree(root, processes);
    }
    let e = |error: DrawingAreaErrorKind<DB::ErrorType>| error.to_string();
    root.fill(&WHITE).map_err(e)?;
    let names: Vec<String> = processes.iter().map(|p| format!("{} {}", p.pid, p.name)).collect();
    let root = root
        .titled(
            &fit_title(&format!("afterlife watch: {}", names.join(", ")), 80),
            ("sans-serif", 26).into_font(),
        )
        .map_err(e)?;
    let panels = panels(processes);
    let areas = root.split_evenly((panels.len(), 1));
    let t_max = processes
        .iter()
        .filter_map(|p| p.history.samples().last().map(|s| s.0))
        .fold(1.0f64, f64::max);
    let mut color_index = 0usize;
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let mut series: Vec<Drawn<'_>> = Vec::new();
        for p in processes {
            for metric in &panel.metrics {
                let points: Vec<(f64, f64)> = p
                    .history
                    .series(*metric)
                    .into_iter()
                    .map(|(t, v)| (t, v * scale(*metric)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let label = if processes.len() > 1 {
                    format!("{} [{}]", metric.title(), p.pid)
                } else {
                    metric.title()
                };
                let verdict = p.verdicts.iter().find(|v| v.metric == metric.name());
                series.push((label, *metric, points, verdict));
            }
        }
        let y_max = series
            .iter()
            .flat_map(|s| s.2.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let axis = YAxis::of(y_max, panel.unit == "MiB");
        let (plot_area, legend_area) = area.split_horizontally(area.dim_in_pixel().0.saturating_sub(LEGEND_WIDTH));
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(
                fit_title(&headline(panel, processes), 75),
                ("sans-serif", 20).into_font(),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..t_max, 0.0..axis.top)
            .map_err(e)?;
        axis.mesh(&mut chart, panel.unit).map_err(e)?;
        let mut legend = Legend::new(&legend_area);
        legend.trend_key().map_err(e)?;
        for (label, metric, points, verdict) in &series {
            let color = Palette99::pick(color_index).to_rgba();
            color_index += 1;
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(3)))
                .map_err(e)?;
            if let Some(trend) = verdict.and_then(|v| v.trend) {
                let (t0, t1) = (points[0].0, points[points.len() - 1].0);
                let k = scale(*metric);
                let line = vec![(t0, trend.fitted(t0) * k), (t1, trend.fitted(t1) * k)];
                chart
                    .draw_series(DashedLineSeries::new(line, 10, 6, darker(color).stroke_width(2)))
                    .map_err(e)?;
            }
            let word = verdict.map_or(String::new(), |v| format!(" ({})", v.verdict.name()));
            legend
                .entry(&fit_title(&format!("{label}{word}"), 38), color, 3)
                .map_err(e)?;
        }
    }
    Ok(())
}

/// Pixels kept beside each panel for its legend, so that it never covers
/// the data.
const LEGEND_WIDTH: u32 = 330;

/// The y axis of a panel: its top, and for counts (fds, threads,
/// children) labels on whole numbers only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YAxis {
    /// The top of the axis.
    pub top: f64,
    /// At most this many labels; for counts, few enough that each falls
    /// on a whole number.
    pub labels: usize,
    /// Whether values are counts.
    pub counts: bool,
}

impl YAxis {
    /// The axis for values up to `max`. Pure.
    pub fn of(max: f64, bytes: bool) -> YAxis {
        if bytes {
            return YAxis {
                top: max.max(1.0) * 1.1,
                labels: 10,
                counts: false,
            };
        }
        // A tenth above the largest count, and at least one whole count.
        let top = (max * 1.1).max(max + 1.0).ceil().max(1.0);
        YAxis {
            top,
            labels: (top as usize + 1).min(10),
            counts: true,
        }
    }

    fn mesh<'a, DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            'a,
            DB,
            Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
        >,
        unit: &str,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let counts = self.counts;
        let format = move |v: &f64| if counts { format!("{v:.0}") } else { format!("{v:.1}") };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc("seconds since the watch started")
            .y_desc(unit)
            .y_labels(self.labels)
            .y_label_formatter(&format)
            .label_style(("sans-serif", 14));
        if counts {
            // No light lines between whole counts.
            mesh.y_max_light_lines(0);
        }
        mesh.draw()
    }
}

/// A darker shade of `color`, for its trend line.
fn darker(color: RGBAColor) -> RGBAColor {
    let RGBAColor(r, g, b, _) = color;
    RGBAColor(r / 2, g / 2, b / 2, 1.0)
}

/// A legend drawn in its own area beside a panel, one entry per line.
struct Legend<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    next: i32,
}

impl<'a, DB: DrawingBackend> Legend<'a, DB> {
    fn new(area: &'a DrawingArea<DB, Shift>) -> Self {
        Legend { area, next: 40 }
    }

    /// The key to the dashed lines: each series' trend.
    fn trend_key(&mut self) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let y = self.next;
        for x in [4, 16] {
            self.area
                .draw(&PathElement::new(vec![(x, y), (x + 8, y)], BLACK.stroke_width(2)))?;
        }
        self.area.draw(&Text::new(
            "dashed: trend (Theil–Sen)",
            (34, y - 8),
            ("sans-serif", 14).into_font(),
        ))?;
        self.next += 26;
        Ok(())
    }

    fn entry(&mut self, label: &str, color: RGBAColor, width: u32) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let y = self.next;
        self.area
            .draw(&PathElement::new(vec![(4, y), (28, y)], color.stroke_width(width)))?;
        self.area.draw(&Text::new(
            label.to_string(),
            (34, y - 8),
            ("sans-serif", 14).into_font(),
        ))?;
        self.next += 22;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_count_each_process_while_it_lives() {
        let a = vec![(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)];
        let b = vec![(1.0, 10.0), (2.0, 10.0)];
        let c = vec![(0.0, 5.0)];
        assert_eq!(total(&[a, b, c]), vec![(0.0, 6.0), (1.0, 12.0), (2.0, 13.0)]);
        assert_eq!(top(&[vec![(0.0, 1.0)], vec![], vec![(0.0, 9.0)]], 5), vec![2, 0]);
    }

    #[test]
    fn counts_get_whole_number_ticks() {
        let one = YAxis::of(1.0, false);
        assert_eq!((one.top, one.labels, one.counts), (2.0, 3, true));
        let fds = YAxis::of(5.0, false);
        assert_eq!((fds.top, fds.labels), (6.0, 7));
        let many = YAxis::of(500.0, false);
        assert_eq!((many.top, many.labels), (550.0, 10));
        assert_eq!(YAxis::of(0.0, false).top, 1.0);
        let memory = YAxis::of(2.0, true);
        assert!(!memory.counts && (memory.top - 2.2).abs() < 1e-9);
    }

    #[test]
    fn long_titles_are_cut() {
        assert_eq!(fit_title("short", 10), "short");
        assert_eq!(fit_title("abcdefghijkl", 5), "abcd…");
    }
}
