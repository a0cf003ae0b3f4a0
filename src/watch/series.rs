//! The history of one watched process, and the verdict on each metric.
//!
//! A history keeps at most [`MAX_HISTORY`] samples: when it fills up every
//! second sample is dropped and the stride doubles, so an hour-long watch
//! still covers the whole hour at a coarser grain, in bounded memory.
//! Per-kind fd counts are stored only when they change (reading them lists
//! every fd, so it is done only when the count moves) and carried forward.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::watch::sample::{self, FdBreakdown, FdKind, Limits, Sample};
use crate::watch::trend::{self, Margin, Trend, Verdict};

/// Samples kept per process before thinning.
pub const MAX_HISTORY: usize = 600;

/// A metric of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Open fds.
    Fds,
    /// Open fds of one kind.
    FdsOfKind(FdKind),
    /// Resident set size.
    Rss,
    /// Resident anonymous memory: what leaks.
    RssAnon,
    /// Resident file-backed pages.
    RssFile,
    /// Resident shared memory.
    RssShmem,
    /// Proportional set size.
    Pss,
    /// Swap.
    Swap,
    /// Threads.
    Threads,
    /// Children.
    Children,
    /// Open handles (Windows: `GetProcessHandleCount`).
    Handles,
    /// Private bytes (Windows: `PrivateUsage`, the commit charge): what
    /// leaks.
    PrivateBytes,
    /// Working set (Windows: `WorkingSetSize`), as RSS on Linux.
    WorkingSet,
}

impl Metric {
    /// The whole-process metrics this OS samples, in display order
    /// ([`crate::watch::sample::METRICS`]).
    pub const BASE: &'static [Metric] = sample::METRICS;

    /// A short name: `fds`, `fds:socket`, `rss`, ...
    pub fn name(self) -> String {
        match self {
            Metric::FdsOfKind(kind) => format!("fds:{}", kind.name()),
            other => other.base_name().to_string(),
        }
    }

    /// The name of the metric family (`fds` for every per-kind metric).
    pub fn base_name(self) -> &'static str {
        match self {
            Metric::Fds | Metric::FdsOfKind(_) => "fds",
            Metric::Rss => "rss",
            Metric::RssAnon => "rss_anon",
            Metric::RssFile => "rss_file",
            Metric::RssShmem => "rss_shmem",
            Metric::Pss => "pss",
            Metric::Swap => "swap",
            Metric::Threads => "threads",
            Metric::Children => "children",
            Metric::Handles => "handles",
            Metric::PrivateBytes => "private_bytes",
            Metric::WorkingSet => "working_set",
        }
    }

    /// What it is, for titles: `open fds`, `RSS`, ...
    pub fn title(self) -> String {
        match self {
            Metric::Fds => "open fds".to_string(),
            Metric::FdsOfKind(kind) => format!("{} fds", kind.name()),
            Metric::Rss => "RSS".to_string(),
            Metric::RssAnon => "anonymous memory".to_string(),
            Metric::RssFile => "file pages".to_string(),
            Metric::RssShmem => "shared memory".to_string(),
            Metric::Pss => "PSS".to_string(),
            Metric::Swap => "swap".to_string(),
            Metric::Threads => "threads".to_string(),
            Metric::Children => "children".to_string(),
            Metric::Handles => "handles".to_string(),
            Metric::PrivateBytes => "private bytes".to_string(),
            Metric::WorkingSet => "working set".to_string(),
        }
    }

    /// Whether values are bytes.
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            Metric::Rss
                | Metric::RssAnon
                | Metric::RssFile
                | Metric::RssShmem
                | Metric::Pss
                | Metric::Swap
                | Metric::PrivateBytes
                | Metric::WorkingSet
        )
    }

    /// Whether a leak verdict on this metric counts. Memory leaks are
    /// judged on anonymous memory (and swap, where it goes): RSS also grows
    /// as a server touches its shared buffers or maps files for the first
    /// time, and PSS also rises when other processes stop sharing pages
    /// with this one; neither is this process's leak. Their shapes are
    /// still reported. On Windows private bytes are judged, and the working
    /// set (which also grows with mapped files and shrinks when trimmed)
    /// is shown, as RSS is.
    pub fn judged(self) -> bool {
        !matches!(
            self,
            Metric::Rss | Metric::RssFile | Metric::RssShmem | Metric::Pss | Metric::WorkingSet
        )
    }

    /// How much the floor must rise before a leak is called: a few fds,
    /// threads or children (transients come and go), 1 MiB and 2% of memory
    /// (allocators round and cache).
    pub fn margin(self) -> Margin {
        match self {
            Metric::Fds | Metric::FdsOfKind(_) | Metric::Handles => Margin {
                absolute: 3.0,
                relative: 0.0,
            },
            Metric::Threads | Metric::Children => Margin {
                absolute: 2.0,
                relative: 0.0,
            },
            Metric::Rss
            | Metric::RssAnon
            | Metric::RssFile
            | Metric::RssShmem
            | Metric::Pss
            | Metric::Swap
            | Metric::PrivateBytes
            | Metric::WorkingSet => Margin {
                absolute: 1_048_576.0,
                relative: 0.02,
            },
        }
    }

    /// The value of this metric in a sample (per-kind metrics come from the
    /// kind counts, not the sample); `None` where it could not be read, or
    /// where this OS's samples do not have it ([`Sample::value`]).
    pub fn of(self, sample: &Sample) -> Option<u64> {
        sample.value(self)
    }
}

/// The verdict on one metric of one process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricVerdict {
    /// The metric (`fds`, `fds:socket`, `rss`, ...).
    pub metric: String,
    /// For per-kind fd metrics, the kind.
    pub kind: Option<FdKind>,
    /// The verdict (the shape of the series).
    pub verdict: Verdict,
    /// Whether a `leaking` verdict on this metric makes the process leak
    /// (see [`Metric::judged`]); false for a metric without a sample,
    /// where nothing was judged.
    pub judged: bool,
    /// For `levelled_off` and `step`: how much it rose.
    pub rise: Option<f64>,
    /// For `levelled_off` and `step`: when the rise ended, seconds after
    /// the start of the watch.
    #[serde(rename = "rise_ended_at_seconds")]
    pub rise_ended_at: Option<f64>,
    /// Theil–Sen slope per second.
    pub slope_per_second: f64,
    /// The same per minute.
    pub growth_per_minute: f64,
    /// `1 - p` of the Mann–Kendall test for growth (for shrinking, for
    /// shrinking).
    pub confidence: f64,
    /// First and last value in the window; `None` without a sample (a
    /// process that ended before its first), where any value would be
    /// made up.
    pub first: Option<f64>,
    /// The last value; `None` without a sample.
    pub last: Option<f64>,
    /// Samples the verdict rests on.
    pub samples: usize,
    /// The limit this metric runs into, if any.
    pub limit: Option<u64>,
    /// Seconds until the limit is reached at this slope, if leaking.
    pub time_to_limit_seconds: Option<f64>,
    /// For `shifting`: how many siblings (this process among them) share
    /// the load whose total does not leak.
    pub siblings: Option<usize>,
    /// The fitted trend line, for plots.
    #[serde(skip)]
    pub trend: Option<Trend>,
}

/// The samples of one process over time.
#[derive(Debug, Clone, Default)]
pub struct History {
    points: Vec<(f64, Sample)>,
    kinds: Vec<(f64, [u32; FdKind::ALL.len()])>,
    stride: u64,
    seen: u64,
    settled_from: f64,
    judged_until: Option<f64>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History {
            stride: 1,
            ..History::default()
        }
    }

    /// An empty history whose samples before `seconds` (watch time) are
    /// kept for plots but left out of verdicts: a process in its first
    /// moments grows as it loads, which says nothing about leaks.
    pub fn settling_until(seconds: f64) -> History {
        History {
            settled_from: seconds,
            ..History::new()
        }
    }

    /// Leaves samples from `seconds` on out of verdicts: a process that
    /// ended spent its last moments shutting down, and freeing everything
    /// at exit says nothing about a leak while it ran.
    pub fn stop_judging_at(&mut self, seconds: f64) {
        self.judged_until = Some(seconds);
    }

    /// Adds a sample taken `seconds` after the watch started; `kinds` when
    /// the per-kind counts were read with it.
    pub fn push(&mut self, seconds: f64, sample: Sample, kinds: Option<&FdBreakdown>) {
        if let Some(breakdown) = kinds {
            self.record_kinds(seconds, breakdown);
        }
        self.seen += 1;
        if !(self.seen - 1).is_multiple_of(self.stride) {
            return;
        }
        self.points.push((seconds, sample));
        if self.points.len() >= MAX_HISTORY {
            let mut index = 0;
            self.points.retain(|_| {
                index += 1;
                index % 2 == 1
            });
            self.stride *= 2;
        }
    }

    /// The time of the latest sample kept.
    pub fn last_seconds(&self) -> Option<f64> {
        self.points.last().map(|(t, _)| *t)
    }

    /// Records per-kind counts read at `seconds` (kept only when they
    /// changed; they carry forward to later samples).
    pub fn record_kinds(&mut self, seconds: f64, breakdown: &FdBreakdown) {
        {
            let mut counts = [0u32; FdKind::ALL.len()];
            for (slot, kind) in FdKind::ALL.iter().enumerate() {
                counts[slot] = breakdown.kinds.get(kind.name()).copied().unwrap_or(0) as u32;
            }
            if self.kinds.last().is_none_or(|(_, last)| *last != counts) {
                self.kinds.push((seconds, counts));
                // A leak changes the counts at every sample: thin them as the
                // samples are thinned, keeping the first and the latest.
                if self.kinds.len() >= MAX_HISTORY {
                    let last = self.kinds.len() - 1;
                    let mut index = 0;
                    self.kinds.retain(|_| {
                        index += 1;
                        index % 2 == 1 || index - 1 == last
                    });
                }
            }
        }
    }

    /// Samples kept.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no sample was kept.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The kept samples.
    pub fn samples(&self) -> &[(f64, Sample)] {
        &self.points
    }

    /// The last sample.
    pub fn last(&self) -> Option<&Sample> {
        self.points.last().map(|(_, s)| s)
    }

    /// Kinds that ever had an fd.
    pub fn kinds_seen(&self) -> Vec<FdKind> {
        FdKind::ALL
            .iter()
            .enumerate()
            .filter(|(slot, _)| self.kinds.iter().any(|(_, counts)| counts[*slot] > 0))
            .map(|(_, kind)| *kind)
            .collect()
    }

    /// The `(seconds, value)` series of a metric.
    pub fn series(&self, metric: Metric) -> Vec<(f64, f64)> {
        match metric {
            Metric::FdsOfKind(kind) => {
                let slot = FdKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                let mut change = 0;
                self.points
                    .iter()
                    .filter_map(|(t, sample)| {
                        while change + 1 < self.kinds.len() && self.kinds[change + 1].0 <= *t {
                            change += 1;
                        }
                        let (at, counts) = self.kinds.get(change)?;
                        if *at > *t {
                            return None;
                        }
                        let previous = change.checked_sub(1).map(|c| &self.kinds[c].1);
                        Some((
                            *t,
                            kind_between_reads(counts, previous, sample.value(Metric::Fds), slot),
                        ))
                    })
                    .collect()
            }
            _ => self
                .points
                .iter()
                .filter(|(_, s)| s.read_now(metric))
                .filter_map(|(t, s)| metric.of(s).map(|v| (*t, v as f64)))
                .collect(),
        }
    }

    /// The whole-process metrics that could be read (PSS and swap are
    /// missing where `smaps_rollup` is refused), in display order.
    pub fn measured(&self) -> Vec<Metric> {
        Metric::BASE
            .iter()
            .copied()
            .filter(|m| self.points.iter().any(|(_, s)| m.of(s).is_some()) || self.points.is_empty())
            .collect()
    }

    /// The verdicts on every metric, per-kind fd metrics included for kinds
    /// that had fds.
    pub fn verdicts(&self, limits: &Limits) -> Vec<MetricVerdict> {
        let mut metrics: Vec<Metric> = self.measured();
        metrics.extend(self.kinds_seen().into_iter().map(Metric::FdsOfKind));
        metrics.into_iter().map(|m| self.verdict(m, limits)).collect()
    }

    /// The verdict on one metric.
    pub fn verdict(&self, metric: Metric, limits: &Limits) -> MetricVerdict {
        let mut series = self.series(metric);
        let until = self.judged_until.unwrap_or(f64::INFINITY);
        let judged = series
            .iter()
            .filter(|p| p.0 >= self.settled_from && p.0 < until)
            .count();
        if judged >= trend::MIN_POINTS && judged < series.len() {
            series.retain(|p| p.0 >= self.settled_from && p.0 < until);
        }
        let judgement = trend::judge(&series, metric.margin());
        let fitted = judgement.trend;
        let verdict = judgement.verdict;
        let slope = fitted.map_or(0.0, |t| t.slope_per_second);
        let last = series.last().map(|p| p.1);
        // The room left: fds against RLIMIT_NOFILE; anonymous memory and
        // swap against what the memory limit still allows (the whole
        // cgroup's usage counts towards memory.max).
        let (limit, room) = match metric {
            Metric::Fds | Metric::Handles => (
                limits.max_fds,
                limits.max_fds.map(|max| max as f64 - last.unwrap_or(0.0)),
            ),
            Metric::RssAnon | Metric::Swap | Metric::PrivateBytes => match &limits.memory {
                Some(m) => (
                    Some(m.bytes),
                    Some(m.bytes as f64 - m.used_bytes.map_or(last.unwrap_or(0.0), |used| used as f64)),
                ),
                None => (None, None),
            },
            _ => (None, None),
        };
        let time_to_limit_seconds = match (verdict, room) {
            (Verdict::Leaking, Some(room)) => trend::time_to_limit(0.0, slope, room),
            _ => None,
        };
        MetricVerdict {
            metric: metric.name(),
            kind: match metric {
                Metric::FdsOfKind(kind) => Some(kind),
                _ => None,
            },
            verdict,
            judged: metric.judged() && !series.is_empty(),
            rise: judgement.rise,
            rise_ended_at: judgement.at,
            slope_per_second: slope,
            growth_per_minute: slope * 60.0,
            confidence: trend::confidence(fitted.as_ref(), verdict),
            first: series.first().map(|p| p.1),
            last,
            samples: series.len(),
            limit,
            time_to_limit_seconds,
            siblings: None,
            trend: fitted,
        }
    }
}

impl MetricVerdict {
    /// The metric judged.
    pub fn of(&self) -> Option<Metric> {
        match self.kind {
            Some(kind) => Some(Metric::FdsOfKind(kind)),
            None => Metric::BASE.iter().copied().find(|m| m.name() == self.metric),
        }
    }

    /// Whether this metric makes its process leak.
    pub fn leaks(&self) -> bool {
        self.judged && self.verdict == Verdict::Leaking
    }

    /// A value of this metric for people: `41.2 MiB`, `130`.
    pub fn human(&self, value: f64) -> String {
        human_value(&self.metric, value)
    }

    /// The verdict in words, with what supports it: `leaking +60/min
    /// (confidence 100.0%)`, `levelled off after +134.0 MiB at 00:40`,
    /// `step +64.0 MiB at 00:03`, `shrinking -2/min (confidence 99.9%)`.
    /// A rising metric that is not judged for leaks says `rising`. Pure.
    pub fn shape_text(&self) -> String {
        let rate = |v: &MetricVerdict| {
            let sign = if v.growth_per_minute >= 0.0 { "+" } else { "-" };
            format!(
                "{sign}{}/min (confidence {:.1}%)",
                v.human(v.growth_per_minute.abs()),
                v.confidence * 100.0
            )
        };
        let rise = || {
            format!(
                "+{} at {}",
                self.human(self.rise.unwrap_or(0.0)),
                clock(self.rise_ended_at.unwrap_or(0.0))
            )
        };
        match self.verdict {
            Verdict::Leaking if self.judged => format!("leaking {}", rate(self)),
            Verdict::Leaking => format!("rising {}", rate(self)),
            Verdict::Shrinking => format!("shrinking {}", rate(self)),
            Verdict::WarmingUp => "warming up (still rising, ever more slowly)".to_string(),
            Verdict::LevelledOff => format!("levelled off after {}", rise()),
            Verdict::Step => format!("step {}", rise()),
            Verdict::Growing => "up and down (its floor did not rise)".to_string(),
            Verdict::Shifting => format!(
                "shifting between {} siblings (rising {}/min here; their total does not leak)",
                self.siblings.unwrap_or(2),
                self.human(self.growth_per_minute.abs())
            ),
            Verdict::Steady | Verdict::TooFewSamples => self.verdict.name().to_string(),
        }
    }
}

/// `41.2 MiB` for the memory metrics (`12.0 KiB` below a tenth of a MiB,
/// so that a slow rate never reads `+0.0 MiB`), `130` (or `2.5`, `0.02`)
/// for counts.
pub fn human_value(metric: &str, value: f64) -> String {
    if matches!(
        metric,
        "rss" | "rss_anon" | "rss_file" | "rss_shmem" | "pss" | "swap" | "private_bytes" | "working_set"
    ) {
        if value != 0.0 && value.abs() < 0.1 * 1_048_576.0 {
            return format!("{:.1} KiB", value / 1024.0);
        }
        format!("{:.1} MiB", value / 1_048_576.0)
    } else if value != 0.0 && value.abs() < 0.1 {
        format!("{value:.2}")
    } else if (value - value.round()).abs() < 0.05 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Seconds as `mm:ss` (`hh:mm:ss` past an hour).
pub fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A kind's count at a sample between two reads of the per-kind counts
/// (which are rationed: listing every fd is the dearest read of a watch).
/// The total count is known at every sample; what it moved since the last
/// read is given to the kinds that grew between the last two reads, in the
/// shares they grew by. With no such growth the last count carries on.
/// Pure.
pub fn kind_between_reads(
    last: &[u32],
    previous: Option<&[u32; FdKind::ALL.len()]>,
    total: Option<u64>,
    slot: usize,
) -> f64 {
    let base = f64::from(last[slot]);
    let (Some(previous), Some(total)) = (previous, total) else {
        return base;
    };
    let grew = |i: usize| f64::from(last[i].saturating_sub(previous[i]));
    let growth: f64 = (0..last.len()).map(grew).sum();
    if growth == 0.0 {
        return base;
    }
    let read_total: f64 = last.iter().map(|c| f64::from(*c)).sum();
    (base + grew(slot) / growth * (total as f64 - read_total)).max(0.0)
}

/// The kinds whose fds leak, from a process's verdicts.
pub fn leaking_kinds(verdicts: &[MetricVerdict]) -> Vec<FdKind> {
    verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Leaking && v.judged)
        .filter_map(|v| v.kind)
        .collect()
}

/// Per-kind counts of a breakdown, by kind.
pub fn kind_counts(breakdown: &FdBreakdown) -> BTreeMap<FdKind, u64> {
    FdKind::ALL
        .iter()
        .filter_map(|k| breakdown.kinds.get(k.name()).map(|c| (*k, *c)))
        .collect()
}

/// A sample with `fds` open fds and small steady memory, for tests.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn test_sample(fds: u64) -> Sample {
    Sample {
        fds: Some(fds),
        rss_bytes: 10 << 20,
        rss_anon_bytes: 4 << 20,
        rss_file_bytes: 6 << 20,
        rss_shmem_bytes: 0,
        pss_bytes: Some(5 << 20),
        swap_bytes: Some(0),
        threads: 1,
        children: 0,
        pss_read: true,
        swap_read: true,
    }
}

// The Linux samples; the Windows ones are tested beside their sampler.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn sample(fds: u64) -> Sample {
        test_sample(fds)
    }

    fn breakdown(sockets: u64) -> FdBreakdown {
        let mut b = FdBreakdown::default();
        b.kinds.insert("char_device", 3);
        b.kinds.insert("socket", sockets);
        b
    }

    #[test]
    fn metrics_that_could_not_be_read_get_no_verdict() {
        let mut history = History::new();
        for i in 0..20u64 {
            let s = Sample {
                pss_bytes: None,
                swap_bytes: None,
                ..sample(3)
            };
            history.push(i as f64, s, None);
        }
        assert_eq!(
            history.measured(),
            vec![
                Metric::Fds,
                Metric::Rss,
                Metric::RssAnon,
                Metric::RssFile,
                Metric::RssShmem,
                Metric::Threads,
                Metric::Children
            ]
        );
        assert!(history.series(Metric::Pss).is_empty());
        let names: Vec<String> = history
            .verdicts(&Limits {
                max_fds: None,
                memory: None,
            })
            .into_iter()
            .map(|v| v.metric)
            .collect();
        assert!(!names.contains(&"pss".to_string()) && !names.contains(&"swap".to_string()));
        assert!(names.contains(&"rss".to_string()));
    }

    #[test]
    fn a_socket_leak_names_the_kind() {
        let mut history = History::new();
        for i in 0..60u64 {
            let sockets = i / 3;
            history.push(i as f64 * 0.05, sample(3 + sockets), Some(&breakdown(sockets)));
        }
        let limits = Limits {
            max_fds: Some(1024),
            memory: None,
        };
        let verdicts = history.verdicts(&limits);
        let fds = verdicts.iter().find(|v| v.metric == "fds").unwrap();
        assert_eq!(fds.verdict, Verdict::Leaking);
        assert!(fds.time_to_limit_seconds.is_some());
        assert_eq!(leaking_kinds(&verdicts), vec![FdKind::Socket]);
        let rss = verdicts.iter().find(|v| v.metric == "rss").unwrap();
        assert_eq!(rss.verdict, Verdict::Steady);
    }

    #[test]
    fn slow_rates_do_not_read_as_zero() {
        assert_eq!(human_value("rss_anon", 1024.0 * 60.0), "60.0 KiB");
        assert_eq!(human_value("rss_anon", 5.0 * 1_048_576.0), "5.0 MiB");
        assert_eq!(human_value("rss_anon", 0.0), "0.0 MiB");
        assert_eq!(human_value("fds", 0.02), "0.02");
        assert_eq!(human_value("fds", 130.0), "130");
    }

    #[test]
    fn kind_counts_between_reads_follow_the_total() {
        let mut previous = [0u32; FdKind::ALL.len()];
        let mut last = [0u32; FdKind::ALL.len()];
        let (pipe, file) = (
            FdKind::ALL.iter().position(|k| *k == FdKind::Pipe).unwrap(),
            FdKind::ALL.iter().position(|k| *k == FdKind::File).unwrap(),
        );
        previous[pipe] = 10;
        previous[file] = 5;
        last[pipe] = 20;
        last[file] = 5;
        // 25 at the last read; 31 now: the 6 new fds are pipes, which grew.
        assert_eq!(kind_between_reads(&last, Some(&previous), Some(31), pipe), 26.0);
        assert_eq!(kind_between_reads(&last, Some(&previous), Some(31), file), 5.0);
        // No earlier read, or no growth: the last count carries on.
        assert_eq!(kind_between_reads(&last, None, Some(31), pipe), 20.0);
        assert_eq!(kind_between_reads(&last, Some(&last), Some(31), pipe), 20.0);
    }

    #[test]
    fn kind_series_carry_forward_between_changes() {
        let mut history = History::new();
        history.push(0.0, sample(4), Some(&breakdown(1)));
        history.push(1.0, sample(4), None);
        history.push(2.0, sample(5), Some(&breakdown(2)));
        assert_eq!(
            history.series(Metric::FdsOfKind(FdKind::Socket)),
            vec![(0.0, 1.0), (1.0, 1.0), (2.0, 2.0)]
        );
    }

    #[test]
    fn settling_samples_are_left_out_of_verdicts() {
        let mut history = History::settling_until(1.0);
        // Loading for the first second, then steady.
        for i in 0..40u64 {
            let mut s = sample(5);
            s.rss_anon_bytes = if i < 10 { i * (4 << 20) } else { 40 << 20 };
            history.push(i as f64 * 0.1, s, None);
        }
        let limits = Limits {
            max_fds: None,
            memory: None,
        };
        assert_eq!(history.verdict(Metric::RssAnon, &limits).verdict, Verdict::Steady);
        assert_eq!(history.verdict(Metric::RssAnon, &limits).samples, 30);
        let mut eager = History::new();
        for (t, s) in history.samples() {
            eager.push(*t, *s, None);
        }
        let judged = eager.verdict(Metric::RssAnon, &limits);
        assert_eq!(judged.samples, 40);
        assert!(judged.confidence > 0.99, "the loading ramp alone looks like growth");
    }

    #[test]
    fn freeing_at_exit_does_not_hide_a_leak() {
        let mut history = History::new();
        for i in 0..40u64 {
            history.push(i as f64 * 0.05, sample(5 + i), None);
        }
        // Shutdown closed everything just before the end.
        history.push(2.0, sample(5), None);
        let limits = Limits {
            max_fds: None,
            memory: None,
        };
        assert_eq!(history.verdict(Metric::Fds, &limits).verdict, Verdict::Growing);
        history.stop_judging_at(2.0 - 0.1);
        assert_eq!(history.verdict(Metric::Fds, &limits).verdict, Verdict::Leaking);
    }

    #[test]
    fn only_anonymous_memory_leaks() {
        // A server touching its shared buffers: RSS and shared memory climb
        // with every sample, anonymous memory does not move; PSS climbs too.
        let mut history = History::new();
        for i in 0..40u64 {
            let mut s = sample(5);
            s.rss_shmem_bytes = i * (2 << 20);
            s.rss_bytes = s.rss_anon_bytes + s.rss_file_bytes + s.rss_shmem_bytes;
            s.pss_bytes = Some((5 << 20) + i * (256 << 10));
            history.push(i as f64 * 0.1, s, None);
        }
        let limits = Limits {
            max_fds: None,
            memory: None,
        };
        let verdicts = history.verdicts(&limits);
        let of = |name: &str| verdicts.iter().find(|v| v.metric == name).unwrap();
        for rising in ["rss", "rss_shmem", "pss"] {
            assert_eq!(of(rising).verdict, Verdict::Leaking, "{rising}");
            assert!(!of(rising).leaks(), "{rising}");
            assert!(
                of(rising).shape_text().starts_with("rising +"),
                "{}",
                of(rising).shape_text()
            );
        }
        assert_eq!(of("rss_anon").verdict, Verdict::Steady);
        assert!(!verdicts.iter().any(MetricVerdict::leaks));
    }

    #[test]
    fn carried_values_are_not_read_as_a_plateau() {
        // PSS and swap climb steadily but are read every 30th sample only
        // (as with many processes watched); in between the last read
        // carries on. Judged on every sample, the 29 carried values after
        // each read look like a plateau.
        let limits = Limits {
            max_fds: None,
            memory: None,
        };
        let history = |samples: u64| {
            let mut history = History::new();
            for i in 0..samples {
                let mut s = sample(5);
                let read_at = i - i % 30;
                s.pss_bytes = Some((5 << 20) + read_at * (1 << 20));
                s.pss_read = i == read_at;
                s.swap_bytes = Some(read_at * (1 << 20));
                s.swap_read = i == read_at;
                history.push(i as f64, s, None);
            }
            history
        };
        // A minute: two reads are too few to tell a shape.
        let short = history(60);
        for metric in [Metric::Pss, Metric::Swap] {
            let verdict = short.verdict(metric, &limits);
            assert_eq!(verdict.verdict, Verdict::TooFewSamples, "{}", verdict.shape_text());
            assert_eq!(verdict.samples, 2);
        }
        // Six minutes: twelve reads, rising all along.
        let long = history(360);
        for metric in [Metric::Pss, Metric::Swap] {
            let verdict = long.verdict(metric, &limits);
            assert_eq!(verdict.verdict, Verdict::Leaking, "{}", verdict.shape_text());
            assert_eq!(verdict.samples, 12);
        }
    }

    #[test]
    fn time_to_limit_counts_the_whole_cgroup() {
        let mut history = History::new();
        for i in 0..40u64 {
            let mut s = sample(5);
            s.rss_anon_bytes = (4 << 20) + i * (1 << 20);
            history.push(i as f64, s, None);
        }
        let limits = Limits {
            max_fds: Some(1024),
            memory: Some(crate::watch::MemoryLimit {
                bytes: 1 << 30,
                source: "cgroup_v2",
                cgroup: None,
                used_bytes: Some((1 << 30) - (60 << 20)),
            }),
        };
        let anon = history.verdict(Metric::RssAnon, &limits);
        assert_eq!(anon.verdict, Verdict::Leaking);
        // 60 MiB of room at 1 MiB a second.
        let seconds = anon.time_to_limit_seconds.unwrap();
        assert!((seconds - 60.0).abs() < 1.0, "{seconds}");
        // Steady fds get no time to the limit.
        assert_eq!(history.verdict(Metric::Fds, &limits).time_to_limit_seconds, None);
    }

    #[test]
    fn shapes_read_as_what_they_are() {
        let mut history = History::new();
        for i in 0..60u64 {
            let mut s = sample(5);
            // 64 MiB allocated at once at 00:03, then held.
            s.rss_anon_bytes = if i < 3 { 4 << 20 } else { 68 << 20 };
            // A pool filling up to 20 over the first 20 s, then held.
            s.fds = Some(5 + i.min(20));
            history.push(i as f64, s, None);
        }
        let limits = Limits {
            max_fds: Some(1024),
            memory: None,
        };
        let anon = history.verdict(Metric::RssAnon, &limits);
        assert_eq!(anon.verdict, Verdict::Step);
        assert_eq!(anon.shape_text(), "step +64.0 MiB at 00:03");
        let fds = history.verdict(Metric::Fds, &limits);
        assert_eq!(fds.verdict, Verdict::LevelledOff);
        assert_eq!(fds.shape_text(), "levelled off after +20 at 00:18");
        assert_eq!(fds.time_to_limit_seconds, None);
        // Shrinking says how sure it is of shrinking.
        let mut down = History::new();
        for i in 0..40u64 {
            down.push(i as f64, sample(100 - i), None);
        }
        let fds = down.verdict(Metric::Fds, &limits);
        assert_eq!(fds.verdict, Verdict::Shrinking);
        assert!(fds.confidence > 0.99, "{}", fds.confidence);
        assert!(
            fds.shape_text().starts_with("shrinking -60/min (confidence 100.0%)"),
            "{}",
            fds.shape_text()
        );
    }

    #[test]
    fn history_thins_when_full() {
        let mut history = History::new();
        for i in 0..(MAX_HISTORY * 3) {
            history.push(i as f64, sample(1), None);
        }
        assert!(history.len() < MAX_HISTORY);
        assert_eq!(history.samples()[0].0, 0.0);
        // Kind counts that change at every sample are thinned too.
        let mut leaking = History::new();
        for i in 0..(MAX_HISTORY * 3) as u64 {
            leaking.push(i as f64, sample(3 + i), Some(&breakdown(i)));
        }
        assert!(leaking.kinds.len() < MAX_HISTORY);
        let sockets = leaking.series(Metric::FdsOfKind(FdKind::Socket));
        // At the last kept sample, the count then (the test leaks one a second).
        let (t, value) = *sockets.last().unwrap();
        assert_eq!(value, t);
        assert!(history.samples().last().unwrap().0 > (MAX_HISTORY * 2) as f64);
    }
}
