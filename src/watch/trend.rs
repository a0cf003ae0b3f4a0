//! Is a series growing for real? Robust trend statistics and the leak
//! verdict, as pure functions over `(seconds, value)` points.
//!
//! - The slope is the Theil–Sen estimator (the median of all pairwise
//!   slopes): one outlier, or a burst of samples at a spike, cannot move it.
//! - Its significance is the Mann–Kendall test with the tie correction of
//!   the variance (counts of fds and threads repeat values all the time), as
//!   a one-sided p-value for growth.
//! - A series that grows and frees in cycles (a sawtooth: caches, batches,
//!   connection pools) has a positive Mann–Kendall statistic over a few
//!   cycles, so significance alone would call it a leak. The verdict
//!   therefore also asks for a rising floor: the lowest value of the second
//!   half of the window must be above the lowest value of the first half by
//!   a metric-specific margin. A leak raises the floor; a sawtooth returns to
//!   it.
//!
//! Long series are thinned to at most [`MAX_POINTS`] evenly spaced points
//! first, which keeps both statistics (quadratic in the number of points)
//! cheap enough to run every few seconds for a thousand processes.

use serde::Serialize;

/// Series longer than this are thinned evenly before the statistics run.
pub const MAX_POINTS: usize = 400;

/// Fewest points for a verdict; below it the verdict is `too_few_samples`.
pub const MIN_POINTS: usize = 8;

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
    /// Grows significantly, with a rising floor: a leak.
    Leaking,
    /// Grows, but not enough to call it a leak (not significant, or it
    /// returns to its floor, as a sawtooth does).
    Growing,
    /// Neither grows nor shrinks.
    Steady,
    /// Shrinks significantly.
    Shrinking,
    /// Too few samples to say.
    TooFewSamples,
}

impl Verdict {
    /// The verdict as one word.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Leaking => "leaking",
            Verdict::Growing => "growing",
            Verdict::Steady => "steady",
            Verdict::Shrinking => "shrinking",
            Verdict::TooFewSamples => "too few samples",
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
    fn of(self, floor: f64) -> f64 {
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

/// Standard normal upper tail `P(Z > z)`, via `erfc` (W. J. Cody's rational
/// approximation as in Numerical Recipes' `erfcc`, relative error < 1.2e-7).
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 { value } else { 2.0 - value }
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
    let floor = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    Some(Trend {
        points: points.len(),
        slope_per_second: slope,
        intercept,
        mann_kendall_s: s,
        tau,
        p_growth,
        floor_first_half: floor(&values[..half]),
        floor_second_half: floor(&values[half..]),
    })
}

/// The verdict on a trend. Pure: the rules are in the module docs.
pub fn verdict(trend: Option<&Trend>, margin: Margin) -> Verdict {
    let Some(t) = trend else {
        return Verdict::TooFewSamples;
    };
    if t.points < MIN_POINTS {
        return Verdict::TooFewSamples;
    }
    let p_shrink = 1.0 - t.p_growth;
    if t.p_growth < ALPHA && t.slope_per_second > 0.0 {
        let rise = t.floor_second_half - t.floor_first_half;
        if rise >= margin.of(t.floor_first_half) {
            return Verdict::Leaking;
        }
        return Verdict::Growing;
    }
    if p_shrink < ALPHA && t.slope_per_second < 0.0 {
        return Verdict::Shrinking;
    }
    Verdict::Steady
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
