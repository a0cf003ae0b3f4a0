//! Is a series growing for real, and does the growth go on? Robust trend
//! statistics and the leak verdict, as pure functions over
//! `(seconds, value)` points.
//!
//! - The slope is the Theil–Sen estimator (the median of all pairwise
//!   slopes): one outlier, or a burst of samples at a spike, cannot move it.
//! - Its significance is the Mann–Kendall test with the tie correction of
//!   the variance (counts of fds and threads repeat values all the time), as
//!   a one-sided p-value for growth.
//!
//! Significant growth is not yet a leak. Servers grow for reasons that end:
//! they warm up (touch their shared buffers, fill a cache or a connection
//! pool), or step up once (load a data set) and then hold. Over a window
//! that contains such a rise, Mann–Kendall is dominated by the pairs on
//! either side of it. A leak is growth that **goes on into the latest part
//! of the window**. The rule, in order:
//!
//! 1. Fewer than [`MIN_POINTS`] points: `too_few_samples`.
//! 2. No significant growth (p ≥ [`ALPHA`] or slope ≤ 0): `shrinking` if
//!    the series shrinks significantly, else `steady`.
//! 3. The floor does not rise: the lowest value of the second half of the
//!    window is not above the lowest of the first half by the metric's
//!    margin. The series returns to where it was, as a sawtooth (batches,
//!    caches that free, pools that shrink) does: `growing` (up and down).
//! 4. Still rising at the end: the window is cut into thirds by time; the
//!    latest third must rise by itself (its Theil–Sen slope times its
//!    length at least half the margin) *and* its floor must be above the
//!    middle third's floor. Then the series is `leaking`, unless every
//!    third rises at less than half the rate of the one before (a curve
//!    that flattens towards a plateau, as a cache filling up does):
//!    `warming_up`.
//! 5. Otherwise the rise has stopped: `step` if it happened at once (within
//!    a few samples, or 5% of the window), `levelled_off` if it took
//!    longer. Both report the rise and when it happened.
//!
//! Long series are thinned to at most [`MAX_POINTS`] evenly spaced points
//! first, which keeps both statistics (quadratic in the number of points)
//! cheap enough to run every few seconds for a thousand processes.

use serde::Serialize;

/// Series longer than this are thinned evenly before the statistics run.
pub const MAX_POINTS: usize = 400;

/// Fewest points for a verdict; below it the verdict is `too_few_samples`.
/// Each third of the window needs a few points of its own.
pub const MIN_POINTS: usize = 10;

/// The one-sided significance level for growth.
pub const ALPHA: f64 = 0.01;

/// The statistics of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trend {
    /// Number of points used (after thinning).
    pub points: usize,
    /// Theil–Sen slope, in value units per second.
    pub slope_per_second: f64,
    /// Theil–Sen intercept: the median of `value - slope * seconds`.
    pub intercept: f64,
    /// Mann–Kendall S statistic.
    pub mann_kendall_s: i64,
    /// Kendall's tau-b (−1 … 1): how consistently the series moves one way.
    pub tau: f64,
    /// One-sided p-value of "the series grows" (small: growth is real).
    pub p_growth: f64,
    /// Lowest value in the first half of the window.
    pub floor_first_half: f64,
    /// Lowest value in the second half of the window.
    pub floor_second_half: f64,
    /// Theil–Sen slope of each third of the window (by time), per second.
    pub third_slopes: [f64; 3],
    /// Lowest value of each third of the window.
    pub third_floors: [f64; 3],
    /// Median of the latest third.
    pub late_median: f64,
    /// Seconds the latest third spans.
    pub late_span: f64,
}

impl Trend {
    /// The fitted value at `seconds`.
    pub fn fitted(&self, seconds: f64) -> f64 {
        self.intercept + self.slope_per_second * seconds
    }
}

/// The verdict on one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Grows significantly, with a rising floor, and still rises in the
    /// latest third of the window: a leak.
    Leaking,
    /// Still rises, but ever more slowly (each third at less than half the
    /// rate of the one before): a cache or pool filling up.
    WarmingUp,
    /// Rose, then held: the latest third no longer rises.
    LevelledOff,
    /// Rose at once (within a few samples), then held.
    Step,
    /// Grows significantly, but returns to its floor (a sawtooth), or its
    /// floor rose by less than the margin.
    Growing,
    /// Neither grows nor shrinks.
    Steady,
    /// Shrinks significantly.
    Shrinking,
    /// Too few samples to say.
    TooFewSamples,
    /// Would be `leaking` on its own, but the load moves between it and its
    /// siblings (workers of one parent with one name and title), and their
    /// total does not leak: connections that land on either worker.
    Shifting,
}

impl Verdict {
    /// The verdict as one word.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Leaking => "leaking",
            Verdict::WarmingUp => "warming up",
            Verdict::LevelledOff => "levelled off",
            Verdict::Step => "step",
            Verdict::Growing => "up and down",
            Verdict::Steady => "steady",
            Verdict::Shrinking => "shrinking",
            Verdict::TooFewSamples => "too few samples",
            Verdict::Shifting => "shifting between siblings",
        }
    }
}

/// How much a metric's floor must rise before a leak is called: an
/// absolute amount, or a fraction of the first floor, whichever is larger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Margin {
    /// In the metric's units.
    pub absolute: f64,
    /// Of the first half's floor.
    pub relative: f64,
}

impl Margin {
    /// The rise needed above `floor`.
    pub fn of(self, floor: f64) -> f64 {
        self.absolute.max(self.relative * floor.abs())
    }
}

/// Thins `points` to at most `max` evenly spaced ones (keeping both ends).
pub fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..max).map(|i| points[i * last / (max - 1)]).collect()
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The Theil–Sen slope and intercept of `points`; `None` with fewer than two
/// distinct times.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, &(x1, y1)) in points.iter().enumerate() {
        for &(x2, y2) in &points[i + 1..] {
            if x2 != x1 {
                slopes.push((y2 - y1) / (x2 - x1));
            }
        }
    }
    let slope = median(&mut slopes)?;
    let mut residuals: Vec<f64> = points.iter().map(|&(x, y)| y - slope * x).collect();
    let intercept = median(&mut residuals)?;
    Some((slope, intercept))
}

/// Standard normal upper tail `P(Z > z)`, via `erfc` from `libm` (a port
/// of FreeBSD's msun, accurate to the last bit or so).
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The Mann–Kendall test: `(S, tau_b, one-sided p for growth)`. The
/// variance of S is corrected for ties:
/// `Var(S) = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18` over groups of `t` equal
/// values; the continuity-corrected `Z = (S−1)/√Var` for `S > 0`.
pub fn mann_kendall(values: &[f64]) -> (i64, f64, f64) {
    let n = values.len();
    if n < 2 {
        return (0, 0.0, 1.0);
    }
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += match values[j].total_cmp(&values[i]) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut tie_term = 0.0;
    let mut tie_pairs = 0.0;
    let mut run = 1usize;
    for i in 1..=n {
        if i < n && sorted[i] == sorted[i - 1] {
            run += 1;
            continue;
        }
        let t = run as f64;
        tie_term += t * (t - 1.0) * (2.0 * t + 5.0);
        tie_pairs += t * (t - 1.0) / 2.0;
        run = 1;
    }
    let nf = n as f64;
    let variance = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_term) / 18.0;
    let pairs = nf * (nf - 1.0) / 2.0;
    let tau = if pairs > tie_pairs {
        s as f64 / (pairs * (pairs - tie_pairs)).sqrt()
    } else {
        0.0
    };
    if variance <= 0.0 {
        // Every value equal: no evidence of growth at all.
        return (s, tau, 1.0);
    }
    let z = if s > 0 {
        (s as f64 - 1.0) / variance.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / variance.sqrt()
    } else {
        0.0
    };
    (s, tau, normal_upper_tail(z))
}

/// The trend statistics of a series of `(seconds, value)` points, thinned to
/// [`MAX_POINTS`]; `None` with fewer than two points.
pub fn trend(points: &[(f64, f64)]) -> Option<Trend> {
    let points = thin(points, MAX_POINTS);
    if points.len() < 2 {
        return None;
    }
    let (slope, intercept) = theil_sen(&points)?;
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let (s, tau, p_growth) = mann_kendall(&values);
    let half = values.len() / 2;
    let thirds = thirds(&points);
    let mut third_slopes = [0.0; 3];
    let mut third_floors = [0.0; 3];
    for (slot, third) in thirds.iter().enumerate() {
        third_slopes[slot] = theil_sen(third).map_or(0.0, |(slope, _)| slope);
        third_floors[slot] = floor(third.iter().map(|p| p.1));
    }
    let late = thirds[2];
    let late_span = match (late.first(), late.last()) {
        (Some(first), Some(last)) => last.0 - first.0,
        _ => 0.0,
    };
    Some(Trend {
        points: points.len(),
        slope_per_second: slope,
        intercept,
        mann_kendall_s: s,
        tau,
        p_growth,
        floor_first_half: floor(values[..half].iter().copied()),
        floor_second_half: floor(values[half..].iter().copied()),
        third_slopes,
        third_floors,
        late_median: median(&mut late.iter().map(|p| p.1).collect::<Vec<_>>()).unwrap_or(0.0),
        late_span,
    })
}

fn floor(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(f64::INFINITY, f64::min)
}

/// The points cut into three thirds of the window's time span.
fn thirds(points: &[(f64, f64)]) -> [&[(f64, f64)]; 3] {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return [points, points, points];
    };
    let span = last.0 - first.0;
    let cut = |fraction: f64| points.partition_point(|p| p.0 < first.0 + span * fraction);
    let (one, two) = (cut(1.0 / 3.0), cut(2.0 / 3.0));
    [&points[..one], &points[one..two], &points[two..]]
}

/// The verdict on a series, with what it rose by and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The statistics, `None` with fewer than two points.
    pub trend: Option<Trend>,
    /// The verdict.
    pub verdict: Verdict,
    /// For `levelled_off` and `step`: how much it rose (from the first
    /// half's floor to the latest third's median).
    pub rise: Option<f64>,
    /// For `levelled_off` and `step`: when (seconds, on the series' clock)
    /// the rise ended.
    pub at: Option<f64>,
}

/// Judges a series of `(seconds, value)` points. Pure: the rules are in the
/// module docs.
pub fn judge(points: &[(f64, f64)], margin: Margin) -> Judgement {
    let thinned = thin(points, MAX_POINTS);
    let fitted = trend(&thinned);
    let mut judgement = Judgement {
        trend: fitted,
        verdict: verdict(fitted.as_ref(), margin),
        rise: None,
        at: None,
    };
    if let (Verdict::Steady, Some(t)) = (judgement.verdict, fitted)
        && early_step(&thinned, &t, margin)
    {
        judgement.verdict = Verdict::LevelledOff;
    }
    if let (Verdict::LevelledOff | Verdict::Step, Some(t)) = (judgement.verdict, fitted) {
        let rise = t.late_median - t.floor_first_half;
        let (started, ended) = rise_times(&thinned, t.floor_first_half, t.late_median);
        let interval = typical_interval(&thinned);
        let span = thinned.last().map_or(0.0, |p| p.0) - thinned.first().map_or(0.0, |p| p.0);
        let sudden = ended - started <= (2.5 * interval).max(0.05 * span);
        judgement.verdict = if sudden { Verdict::Step } else { Verdict::LevelledOff };
        judgement.rise = Some(rise);
        judgement.at = Some(ended);
    }
    judgement
}

/// Whether a series too flat for Mann–Kendall rose once, early, and held:
/// a few low samples at the start (at least two, so that one dip is not
/// taken for a step), then a floor above them by the margin.
fn early_step(points: &[(f64, f64)], t: &Trend, margin: Margin) -> bool {
    let needed = margin.of(t.floor_first_half);
    let rise = t.late_median - t.floor_first_half;
    if t.floor_second_half - t.floor_first_half < needed || rise < needed {
        return false;
    }
    let low = |p: &&(f64, f64)| p.1 <= t.floor_first_half + rise / 4.0;
    let lows = points.iter().filter(low).count();
    let last_low = points.iter().rposition(|p| low(&p)).unwrap_or(0);
    lows >= 2 && lows == last_low + 1
}

/// When a rise from `base` to `top` started (the last time the series was
/// in the lowest quarter of the rise before it ended) and ended (the first
/// time it came within a tenth of the rise of the top).
fn rise_times(points: &[(f64, f64)], base: f64, top: f64) -> (f64, f64) {
    let rise = top - base;
    let reached = points.iter().position(|p| p.1 >= top - rise / 10.0).unwrap_or(0);
    let started = points[..reached]
        .iter()
        .rposition(|p| p.1 <= base + rise / 4.0)
        .unwrap_or(reached);
    (points[started].0, points[reached].0)
}

/// The median time between points.
fn typical_interval(points: &[(f64, f64)]) -> f64 {
    let mut gaps: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    median(&mut gaps).unwrap_or(0.0)
}

/// The verdict on a trend, before a stopped rise is told apart as a step
/// or a levelling off ([`judge`] does that). Pure: the rules are in the
/// module docs.
pub fn verdict(trend: Option<&Trend>, margin: Margin) -> Verdict {
    let Some(t) = trend else {
        return Verdict::TooFewSamples;
    };
    if t.points < MIN_POINTS {
        return Verdict::TooFewSamples;
    }
    if !(t.p_growth < ALPHA && t.slope_per_second > 0.0) {
        let p_shrink = 1.0 - t.p_growth;
        if p_shrink < ALPHA && t.slope_per_second < 0.0 {
            return Verdict::Shrinking;
        }
        return Verdict::Steady;
    }
    let needed = margin.of(t.floor_first_half);
    let [early, middle, late] = t.third_slopes;
    let still_rising = late * t.late_span >= needed / 2.0 && t.third_floors[2] > t.third_floors[1];
    if t.floor_second_half - t.floor_first_half < needed {
        // A rise late in the window that has stopped is a step, not a
        // sawtooth; one that goes on may be either, and is not called yet.
        if !still_rising && t.third_floors[2] - t.third_floors[0] >= needed {
            return Verdict::LevelledOff;
        }
        return Verdict::Growing;
    }
    if !still_rising {
        return Verdict::LevelledOff;
    }
    if early > 2.0 * middle && middle > 2.0 * late {
        return Verdict::WarmingUp;
    }
    Verdict::Leaking
}

/// The confidence of the verdict's direction: `1 − p` of the Mann–Kendall
/// test for shrinking for a shrinking series, for growth otherwise.
pub fn confidence(trend: Option<&Trend>, verdict: Verdict) -> f64 {
    match (trend, verdict) {
        (None, _) => 0.0,
        (Some(t), Verdict::Shrinking) => t.p_growth,
        (Some(t), _) => 1.0 - t.p_growth,
    }
}

/// Seconds until `current` growing at `slope_per_second` reaches `limit`;
/// `None` if it does not grow, or is already there.
pub fn time_to_limit(current: f64, slope_per_second: f64, limit: f64) -> Option<f64> {
    if slope_per_second <= 0.0 || !slope_per_second.is_finite() || current >= limit {
        return None;
    }
    Some((limit - current) / slope_per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FDS: Margin = Margin {
        absolute: 3.0,
        relative: 0.0,
    };

    /// A small deterministic generator (xorshift64*), so the synthetic
    /// series are the same on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn noise(&mut self, amplitude: f64) -> f64 {
            (self.next() - 0.5) * 2.0 * amplitude
        }
    }

    fn series(n: usize, step: f64, mut f: impl FnMut(usize) -> f64) -> Vec<(f64, f64)> {
        (0..n).map(|i| (i as f64 * step, f(i))).collect()
    }

    #[test]
    fn theil_sen_recovers_a_line_despite_outliers() {
        let mut points = series(50, 1.0, |i| 10.0 + 2.0 * i as f64);
        points[10].1 = 10_000.0;
        points[30].1 = -500.0;
        let (slope, intercept) = theil_sen(&points).unwrap();
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
        assert!((intercept - 10.0).abs() < 1e-9, "{intercept}");
    }

    #[test]
    fn mann_kendall_matches_the_textbook_values() {
        // Strictly increasing, n = 10: S = 45, Var = 10*9*25/18 = 125.
        let (s, tau, p) = mann_kendall(&(0..10).map(f64::from).collect::<Vec<_>>());
        assert_eq!(s, 45);
        assert!((tau - 1.0).abs() < 1e-12);
        let z = 44.0 / 125f64.sqrt();
        assert!((p - normal_upper_tail(z)).abs() < 1e-12);
        assert!(p < 1e-4);
        // Ties shrink the variance: [1,1,2,2,3,3] has S = 12, ties 3×t=2
        // Var = (6*5*17 - 3*2*1*9)/18 = (510 - 54)/18 = 25.333...
        let (s, _, p) = mann_kendall(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
        assert_eq!(s, 12);
        let z = 11.0 / (456.0f64 / 18.0).sqrt();
        assert!((p - normal_upper_tail(z)).abs() < 1e-12);
        // All equal: no evidence.
        assert_eq!(mann_kendall(&[5.0; 20]), (0, 0.0, 1.0));
    }

    #[test]
    fn normal_tail_is_accurate() {
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_upper_tail(1.959_963_985) - 0.025).abs() < 1e-7);
        assert!((normal_upper_tail(2.326_347_874) - 0.01).abs() < 1e-7);
        assert!((normal_upper_tail(-1.644_853_627) - 0.95).abs() < 1e-7);
    }

    #[test]
    fn a_steady_leak_is_leaking() {
        // One fd every 5 samples, with the odd transient fd.
        let mut rng = Rng(7);
        let points = series(100, 0.05, |i| {
            10.0 + (i / 5) as f64 + if rng.next() < 0.1 { 1.0 } else { 0.0 }
        });
        let t = trend(&points).unwrap();
        assert_eq!(verdict(Some(&t), FDS), Verdict::Leaking);
        assert!((t.slope_per_second - 4.0).abs() < 0.5, "{}", t.slope_per_second);
    }

    #[test]
    fn flat_and_sawtooth_series_are_not_leaks() {
        let flat = series(100, 0.05, |_| 12.0);
        assert_eq!(verdict(trend(&flat).as_ref(), FDS), Verdict::Steady);
        // Three cycles of growing to +20 and freeing everything.
        let saw = series(120, 0.05, |i| 10.0 + (i % 40) as f64 / 2.0);
        let t = trend(&saw).unwrap();
        assert!(t.p_growth < ALPHA, "the sawtooth fools Mann–Kendall alone");
        assert_eq!(verdict(Some(&t), FDS), Verdict::Growing);
    }

    #[test]
    fn a_leak_under_a_sawtooth_is_caught() {
        let points = series(160, 0.05, |i| 10.0 + (i % 40) as f64 / 4.0 + (i / 8) as f64);
        assert_eq!(verdict(trend(&points).as_ref(), FDS), Verdict::Leaking);
    }

    #[test]
    fn shrinking_and_short_series() {
        let down = series(50, 1.0, |i| 100.0 - i as f64);
        assert_eq!(verdict(trend(&down).as_ref(), FDS), Verdict::Shrinking);
        let short = series(5, 1.0, |i| i as f64 * 10.0);
        assert_eq!(verdict(trend(&short).as_ref(), FDS), Verdict::TooFewSamples);
        assert_eq!(verdict(None, FDS), Verdict::TooFewSamples);
    }

    const MIB: f64 = 1_048_576.0;
    const MEMORY: Margin = Margin {
        absolute: MIB,
        relative: 0.02,
    };

    /// Judges `n` samples a second apart of `f(second)`, with `noise`
    /// either side.
    fn judge_shape(n: usize, noise: f64, margin: Margin, mut f: impl FnMut(f64) -> f64) -> Judgement {
        let mut rng = Rng(n as u64 * 31 + 5);
        let points: Vec<(f64, f64)> = (0..n).map(|i| (i as f64, f(i as f64) + rng.noise(noise))).collect();
        judge(&points, margin)
    }

    #[test]
    fn a_step_is_a_step_wherever_it_falls() {
        // 64 MiB allocated once, then jitter; early, in the middle, late.
        for at in [3.0, 30.0, 50.0, 75.0] {
            let j = judge_shape(90, 0.2 * MIB, MEMORY, |t| if t < at { 20.0 * MIB } else { 84.0 * MIB });
            assert_ne!(j.verdict, Verdict::Leaking, "step at {at}: {j:?}");
            if at < 70.0 {
                assert_eq!(j.verdict, Verdict::Step, "step at {at}: {j:?}");
                assert!((j.at.unwrap() - at).abs() <= 1.0, "{j:?}");
                assert!((j.rise.unwrap() / MIB - 64.0).abs() < 1.0, "{j:?}");
            }
        }
        // The same with an fd count: a pool opened at once.
        let j = judge_shape(60, 0.0, FDS, |t| if t < 3.0 { 10.0 } else { 30.0 });
        assert_eq!(j.verdict, Verdict::Step);
    }

    #[test]
    fn a_pool_that_fills_and_holds_levels_off() {
        // One fd a second up to 20, then held, with a transient fd now and then.
        let mut rng = Rng(3);
        let points: Vec<(f64, f64)> = (0..60)
            .map(|i| {
                (
                    i as f64,
                    10.0 + f64::from(i.min(20)) + if rng.next() < 0.1 { 1.0 } else { 0.0 },
                )
            })
            .collect();
        let j = judge(&points, FDS);
        assert_eq!(j.verdict, Verdict::LevelledOff, "{j:?}");
        assert_eq!(j.rise, Some(20.0));
        assert!((17.0..=21.0).contains(&j.at.unwrap()), "{j:?}");
        // Watched while it fills, it is growth that goes on: a leak so far.
        let j = judge(&points[..20], FDS);
        assert_eq!(j.verdict, Verdict::Leaking, "{j:?}");
    }

    #[test]
    fn warm_up_then_flat_is_not_a_leak() {
        // Shared buffers touched for the first time: 19 → 148 MiB, flat
        // after about 40 s of a 90 s window (PostgreSQL under pgbench).
        let j = judge_shape(90, 0.3 * MIB, MEMORY, |t| {
            (19.0 + 129.0 * (1.0 - (-t / 10.0).exp())) * MIB
        });
        assert_eq!(j.verdict, Verdict::LevelledOff, "{j:?}");
        // Redis loading its keys in 3 s, then flat for 87 s.
        let j = judge_shape(90, 0.02 * MIB, MEMORY, |t| (4.0 + 3.0 * (t / 3.0).min(1.0)) * MIB);
        assert_ne!(j.verdict, Verdict::Leaking, "{j:?}");
        // A curve still flattening at the end of the window: warming up.
        let j = judge_shape(60, 0.0, MEMORY, |t| (20.0 + 200.0 * (1.0 - (-t / 12.0).exp())) * MIB);
        assert_eq!(j.verdict, Verdict::WarmingUp, "{j:?}");
    }

    #[test]
    fn sawtooths_are_not_leaks() {
        for (period, height) in [(10usize, 20.0), (30, 50.0), (45, 50.0)] {
            let j = judge_shape(90, 0.0, FDS, |t| {
                10.0 + height * ((t as usize % period) as f64 / period as f64)
            });
            assert_ne!(j.verdict, Verdict::Leaking, "period {period}: {j:?}");
        }
    }

    #[test]
    fn leaks_are_leaks() {
        // A slow anonymous-memory leak: 1 MiB every 4 s, under 0.3 MiB of jitter.
        let j = judge_shape(90, 0.3 * MIB, MEMORY, |t| (30.0 + (t / 4.0).floor()) * MIB);
        assert_eq!(j.verdict, Verdict::Leaking, "{j:?}");
        // An fd leak of one every 2 s.
        let j = judge_shape(60, 0.0, FDS, |t| 10.0 + (t / 2.0).floor());
        assert_eq!(j.verdict, Verdict::Leaking, "{j:?}");
        // A leak that starts after a warm-up: up 50 MiB in 10 s, flat to
        // 20 s, then 1 MiB every 2 s.
        let warm_then_leak = |t: f64| (10.0 + 50.0 * (t / 10.0).min(1.0) + ((t - 20.0).max(0.0) / 2.0).floor()) * MIB;
        let j = judge_shape(60, 0.3 * MIB, MEMORY, warm_then_leak);
        assert_eq!(j.verdict, Verdict::Leaking, "{j:?}");
        // A leak under a warm-up that never stops: not taken for warming up.
        let j = judge_shape(60, 0.0, MEMORY, |t| {
            (20.0 + 100.0 * (1.0 - (-t / 5.0).exp()) + t / 2.0) * MIB
        });
        assert_eq!(j.verdict, Verdict::Leaking, "{j:?}");
    }

    #[test]
    fn thinning_keeps_the_ends() {
        let points = series(1000, 1.0, |i| i as f64);
        let thinned = thin(&points, 10);
        assert_eq!(thinned.len(), 10);
        assert_eq!(thinned[0], (0.0, 0.0));
        assert_eq!(thinned[9], (999.0, 999.0));
    }

    #[test]
    fn time_to_limit_at_the_current_rate() {
        assert_eq!(time_to_limit(24.0, 1.0 / 60.0, 1024.0), Some(60_000.0));
        assert_eq!(time_to_limit(24.0, 0.0, 1024.0), None);
        assert_eq!(time_to_limit(2000.0, 1.0, 1024.0), None);
    }

    /// The false-alarm rate on synthetic series that do not leak: steady
    /// counts with transient extra fds, noisy memory, and sawtooths of
    /// random period and phase. docs/BENCHMARKS.md quotes the figures this
    /// prints.
    #[test]
    fn false_alarm_rate_on_non_leaking_series() {
        let mut rng = Rng(0x5eed);
        let trials = 1000;
        let mut alarms = [0usize; 3];
        // What Mann–Kendall and Theil–Sen alone would call growth.
        let mut significant = [0usize; 3];
        for _ in 0..trials {
            let n = 40 + (rng.next() * 160.0) as usize;
            // Steady fd count: a base with up to 2 transient fds open at a time.
            let base = 5.0 + (rng.next() * 50.0).floor();
            let steady: Vec<(f64, f64)> = (0..n).map(|i| (i as f64, base + (rng.next() * 3.0).floor())).collect();
            // Memory: 50 MiB ± 1 MiB of noise, in bytes.
            let memory: Vec<(f64, f64)> = (0..n)
                .map(|i| (i as f64, 50.0 * 1048576.0 + rng.noise(1048576.0)))
                .collect();
            // Sawtooth: at least two full cycles in the window.
            let period = 4 + (rng.next() * (n as f64 / 2.0 - 4.0)) as usize;
            let phase = (rng.next() * period as f64) as usize;
            let height = 3.0 + (rng.next() * 100.0).floor();
            let saw: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    let k = (i + phase) % period;
                    (i as f64, base + (height * k as f64 / period as f64).floor())
                })
                .collect();
            let memory_margin = Margin {
                absolute: 1048576.0,
                relative: 0.02,
            };
            for (slot, (points, margin)) in [(&steady, FDS), (&memory, memory_margin), (&saw, FDS)]
                .into_iter()
                .enumerate()
            {
                let fitted = trend(points);
                if verdict(fitted.as_ref(), margin) == Verdict::Leaking {
                    alarms[slot] += 1;
                }
                if fitted.is_some_and(|t| t.p_growth < ALPHA && t.slope_per_second > 0.0) {
                    significant[slot] += 1;
                }
            }
        }
        println!(
            "false alarms in {trials} series each: steady {} sawtooth {} noisy memory {}",
            alarms[0], alarms[2], alarms[1]
        );
        println!(
            "significant growth by Mann-Kendall alone: steady {} sawtooth {} noisy memory {}",
            significant[0], significant[2], significant[1]
        );
        assert_eq!(alarms, [0, 0, 0]);
    }

    #[test]
    fn detection_rate_on_slow_leaks() {
        // One fd per 10 samples for 100 samples, under transient noise.
        let mut rng = Rng(42);
        let mut caught = 0;
        for _ in 0..200 {
            let points: Vec<(f64, f64)> = (0..100)
                .map(|i| (i as f64, 20.0 + (i / 10) as f64 + (rng.next() * 3.0).floor()))
                .collect();
            if verdict(trend(&points).as_ref(), FDS) == Verdict::Leaking {
                caught += 1;
            }
        }
        println!("slow leaks caught: {caught} of 200");
        assert!(caught >= 190, "{caught}");
    }
}
