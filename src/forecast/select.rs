//! Model choice with a class prior: empirical-Bayes shrinkage of per-series CV scores.
//!
//! Picking the lowest CV score among a dozen candidates over overlapping windows partly
//! picks noise (statsforecast's own per-series choice scores worse than its best single
//! model on the M5-shaped panel). So the choice uses, per series and candidate m,
//!
//! `w · ln(score_m) + (1 − w) · b_m`
//!
//! where `b_m` is how much better or worse than the series' average candidate m scores
//! across the series of the same demand class, and `w` is the reliability of a series'
//! own score differences: the split-half correlation of those differences (interleaved
//! blocks of CV origins, Spearman–Brown corrected to the full set). Homogeneous panels get
//! a low `w` and lean on what wins in the class; heterogeneous ones keep per-series choice.
//! Both are learnt on a fixed, evenly spread sample of series (one at a seeded offset in
//! each of up to 800 blocks of the panel), so the prior (and every forecast) is the same
//! for any thread count or shard split.

use rayon::prelude::*;
use serde::{Serialize, Serializer};

use super::{class, cross_validate, Candidates, DemandClass, Forecaster};
use crate::config::ForecastCfg;
use crate::panel::Panel;

/// Series cross-validated to learn the prior (evenly spread over the panel).
const SAMPLE: usize = 800;
/// Seed of the offsets within the sample's blocks (fixed: the sample is part of the output).
const SEED: u64 = 0x005e_1ec7;
/// A class needs this many sampled series with two or more scored candidates.
const MIN_SERIES: usize = 30;
/// Scores are floored here before the log (a perfect forecast of an all-zero window).
const FLOOR: f64 = 1e-9;

/// What one demand class learnt. Written to the run manifest and the backtest summary,
/// so a planner can see why a class leans towards a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassPrior {
    pub class: DemandClass,
    pub series: usize,
    /// Weight of the series' own (log) scores, 0..=1.
    #[serde(serialize_with = "round4")]
    pub reliability: f64,
    /// Mean log-score of each candidate relative to the series' average candidate. Written
    /// as `relative_score`, exp(effect): 0.9 is a CV score 10 % below a typical candidate's.
    #[serde(rename = "relative_score", serialize_with = "relative_scores")]
    pub effects: Vec<(&'static str, f64)>,
}

/// Effects as a `{model: exp(effect)}` map, in the order the sample met the models.
fn relative_scores<S: Serializer>(
    effects: &[(&'static str, f64)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(effects.iter().map(|(m, e)| (*m, r4(e.exp()))))
}

fn r4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

fn round4<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(r4(*v))
}

/// The prior of every class that had enough sampled series.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Prior {
    pub classes: Vec<ClassPrior>,
    /// Protection-window recalibration per demand class (empty: off, or too few windows).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowRecal>,
}

/// One sampled series' CV windows, checked block by block as if out of sample
/// ([`super::cross_validate`]): every candidate's score and window dispersion without the
/// block, and (actual, forecast) totals of the block's windows.
#[derive(Debug, Clone)]
pub struct Pseudo {
    /// Per CV block, latest first, every candidate scored without it (empty where too few
    /// other origins were left to score on).
    pub blocks: Vec<Vec<BlockCandidate>>,
}

/// One candidate for one left-out CV block.
#[derive(Debug, Clone)]
pub struct BlockCandidate {
    pub model: &'static str,
    /// CV score on the origins that do not touch the block.
    pub score: f64,
    /// Their window dispersion (None: no count window, as in the forecast's fallbacks).
    pub disp: Option<f64>,
    /// (actual, forecast) totals of the block's windows.
    pub late: Vec<(f64, f64)>,
}

/// Older CV windows a check needs (the real window's dispersion has all of them, 26 by
/// default; fewer make the check's dispersion noisier than the real one's).
pub const MIN_EARLY_WINDOWS: usize = 12;
/// Highest level a recalibrated central interval reaches: windows far beyond any count
/// distribution around their mean (single wholesale orders) are not chased into the tail.
const MAX_FOLDED: f64 = 0.99;

/// Windows a class needs before its window levels are recalibrated.
const MIN_WINDOWS: usize = 200;
/// Knots of a recalibration map: levels 0, 1/K, …, 1.
pub const RECAL_KNOTS: usize = 100;

/// Probabilistic recalibration of protection-window quantiles (Kuleshov et al. 2018): the
/// level `p` is read at `levels(p)`, the level below which a share `p` of the checked
/// windows' PITs fell. A class whose windows came in above their p90 18 % of the time reads
/// its p90 higher up the same distribution; a calibrated class keeps about the identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowRecal {
    pub class: DemandClass,
    /// Windows the map was learnt from.
    pub windows: usize,
    /// Share of the learnt move from the identity that is applied (the carry-over check).
    #[serde(serialize_with = "round4")]
    pub carried: f64,
    /// The level read for p = k / RECAL_KNOTS, k = 0..=RECAL_KNOTS.
    #[serde(rename = "level_read", serialize_with = "knot_levels")]
    pub levels: std::sync::Arc<Vec<f64>>,
}

/// The map at the levels a planner knows, as `{nominal: read}`.
fn knot_levels<S: Serializer>(levels: &std::sync::Arc<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
    const SHOWN: [f64; 9] = [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975];
    s.collect_map(
        SHOWN
            .iter()
            .map(|&p| (format!("{p}"), r4(recal_level(levels, p)))),
    )
}

/// The level read for nominal `p` under a recalibration map (linear between knots).
pub fn recal_level(levels: &[f64], p: f64) -> f64 {
    let k = levels.len().saturating_sub(1);
    if k == 0 {
        return p;
    }
    let x = p.clamp(0.0, 1.0) * k as f64;
    let i = (x.floor() as usize).min(k - 1);
    let w = x - i as f64;
    levels[i] * (1.0 - w) + levels[i + 1] * w
}

/// Inverse of [`recal_level`]: the nominal level whose read level is `c` (for the PIT).
pub fn recal_inverse(levels: &[f64], c: f64) -> f64 {
    let k = levels.len().saturating_sub(1);
    if k == 0 {
        return c;
    }
    let c = c.clamp(0.0, 1.0);
    // First knot at or above c; the map is non-decreasing.
    let j = levels.partition_point(|&v| v < c);
    if j == 0 {
        return 0.0;
    }
    if j > k {
        return 1.0;
    }
    let (a, b) = (levels[j - 1], levels[j]);
    let w = if b > a { (c - a) / (b - a) } else { 1.0 };
    ((j - 1) as f64 + w) / k as f64
}

/// Fits the map from the checked windows' PIT ranges [F(y − 1), F(y)] (a count's PIT is
/// uniform on that range). Central intervals only: V = |2·PIT − 1| is the smallest central
/// level that covers a window, G(v) the share of windows it covers at level v, and the
/// central interval of nominal level L is read at a(L) = G⁻¹(L), by bisection (G is
/// continuous and non-decreasing). The median stays where it is: the sign of a class's miss
/// moves with the season of the CV span (a ramp under-forecasts, a fall over-forecasts)
/// and does not carry over to the coming window; the size of the miss does.
fn fit_recal(ranges: &[(f64, f64)]) -> Vec<f64> {
    // Knots k and K − k ask for the same central level: one search serves both.
    let half: Vec<f64> = (0..=RECAL_KNOTS / 2)
        .map(|k| folded_level(ranges, (1.0 - 2.0 * k as f64 / RECAL_KNOTS as f64).abs()))
        .collect();
    (0..=RECAL_KNOTS)
        .map(|k| {
            let p = k as f64 / RECAL_KNOTS as f64;
            if k == 0 || k == RECAL_KNOTS {
                return p;
            }
            let a = half[k.min(RECAL_KNOTS - k)];
            0.5 + (p - 0.5).signum() * a / 2.0
        })
        .collect()
}

/// The central level a(l) = G⁻¹(l) that covers a share `l` of the windows' PIT ranges, by
/// bisection (G is continuous and non-decreasing), capped at `MAX_FOLDED`.
fn folded_level(ranges: &[(f64, f64)], l: f64) -> f64 {
    let g = |v: f64| {
        ranges
            .iter()
            .map(|&(lo, hi)| super::quantile::pit_cover(lo, hi, v))
            .sum::<f64>()
            / ranges.len() as f64
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..50 {
        let m = 0.5 * (lo + hi);
        if g(m) < l {
            lo = m;
        } else {
            hi = m;
        }
    }
    hi.min(MAX_FOLDED)
}

/// The recalibration of one class from its sampled series' checked windows: per block,
/// the candidate the forecast's own rule would pick without the block (the prior-adjusted
/// score), read at that candidate's dispersion. The map is applied only as far as such a
/// map carried over in time inside the CV span: learnt on the blocks before each block and
/// tried on it, a share λ of its move from the identity covered best. A class whose CV span
/// held a burst that has since calmed down (Dominick's price wars) learns a wide map that
/// did not carry, and keeps nearer its plain windows.
fn window_recal(class: DemandClass, checks: &[&Pseudo], prior: &Prior) -> Option<WindowRecal> {
    // The checked windows by block, latest first (block k of every sampled series).
    let mut by_block: Vec<Vec<(f64, f64)>> = Vec::new();
    for check in checks {
        for (k, block) in check.blocks.iter().enumerate() {
            if by_block.len() <= k {
                by_block.resize_with(k + 1, Vec::new);
            }
            block_ranges(class, block, prior, &mut by_block[k]);
        }
    }
    let all: Vec<(f64, f64)> = by_block.iter().flatten().copied().collect();
    if all.len() < MIN_WINDOWS {
        return None;
    }
    // Rolling check in time: the levels learnt on the blocks before block k, tried on block k.
    let mut tests: Vec<CarryTest> = Vec::new();
    for k in 0..by_block.len() {
        let before: Vec<(f64, f64)> = by_block[k + 1..].iter().flatten().copied().collect();
        if before.len() < MIN_WINDOWS {
            break;
        }
        if by_block[k].is_empty() {
            continue;
        }
        tests.push((CHECKED.map(|l| folded_level(&before, l)), &by_block[k]));
    }
    let tested: usize = tests.iter().map(|t| t.1.len()).sum();
    let carried = if tested >= MIN_TESTED {
        carried_share(&tests)
    } else {
        1.0
    };
    let levels = fit_recal(&all)
        .iter()
        .enumerate()
        .map(|(k, &a)| {
            let p = k as f64 / RECAL_KNOTS as f64;
            p + carried * (a - p)
        })
        .collect();
    Some(WindowRecal {
        class,
        windows: all.len(),
        carried,
        levels: std::sync::Arc::new(levels),
    })
}

/// Windows the carry-over check needs before it counts (else the whole map is applied).
const MIN_TESTED: usize = 100;
/// Central levels the carry-over check scores.
const CHECKED: [f64; 4] = [0.5, 0.8, 0.9, 0.95];
/// One step of the carry-over check: the levels read for [`CHECKED`] as learnt on the
/// blocks before a block, and that block's PIT ranges.
type CarryTest<'a> = ([f64; 4], &'a [(f64, f64)]);

/// The PIT ranges of one left-out block: the candidate the forecast's own rule would pick
/// without the block (the prior-adjusted score), read at that candidate's dispersion.
fn block_ranges(
    class: DemandClass,
    block: &[BlockCandidate],
    prior: &Prior,
    out: &mut Vec<(f64, f64)>,
) {
    // The first of equals, as the forecast's choice keeps the candidate order.
    let picked = block
        .iter()
        .map(|c| (prior.adjusted(class, c.model, c.score), c))
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map(|b| b.1);
    let Some(c) = picked else { return };
    let Some(disp) = c.disp else { return };
    for &(y, f) in &c.late {
        let var = super::quantile::cv_dispersion_var(f, disp);
        let hi = super::quantile::count_cdf(f, var, y);
        let lo = if y >= 1.0 {
            super::quantile::count_cdf(f, var, y - 1.0)
        } else {
            0.0
        };
        out.push((lo, hi));
    }
}

/// How much of a map learnt on older windows carries over to newer ones: the share λ (in
/// tenths) of its move from the identity whose central intervals at 50, 80, 90 and 95 %
/// cover the tested windows closest to nominal (pooled over the tests, least squares).
fn carried_share(tests: &[CarryTest]) -> f64 {
    let n: usize = tests.iter().map(|t| t.1.len()).sum();
    let miss = |lambda: f64| -> f64 {
        CHECKED
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                let cover = tests
                    .iter()
                    .map(|(read, windows)| {
                        let a = l + lambda * (read[i] - l);
                        windows
                            .iter()
                            .map(|&(lo, hi)| super::quantile::pit_cover(lo, hi, a))
                            .sum::<f64>()
                    })
                    .sum::<f64>()
                    / n as f64;
                (cover - l).powi(2)
            })
            .sum()
    };
    (0..=10)
        .map(|k| k as f64 / 10.0)
        .map(|lambda| (miss(lambda), lambda))
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map_or(1.0, |b| b.1)
}

impl Prior {
    /// The weight of a series' own scores in `class` (None: the class has no prior).
    pub fn reliability(&self, class: DemandClass) -> Option<f64> {
        self.class(class).map(|c| c.reliability)
    }

    /// What `class` learnt (None: too few sampled series).
    pub fn class(&self, class: DemandClass) -> Option<&ClassPrior> {
        self.classes.iter().find(|c| c.class == class)
    }

    /// The window recalibration of `class` (None: off or too few checked windows).
    pub fn window_levels(&self, class: DemandClass) -> Option<std::sync::Arc<Vec<f64>>> {
        self.windows
            .iter()
            .find(|w| w.class == class)
            .map(|w| w.levels.clone())
    }

    /// The score the choice ranks by (lower is better). Raw log-score where the class has
    /// no prior; a candidate the sample never scored gets the class average (0).
    pub fn adjusted(&self, class: DemandClass, model: &str, score: f64) -> f64 {
        let l = score.max(FLOOR).ln();
        match self.class(class) {
            Some(c) => c.reliability * l + (1.0 - c.reliability) * effect(&c.effects, model),
            None => l,
        }
    }
}

/// A candidate's effect in a table of effects; 0 (the class average) if it is not there.
fn effect(tab: &[(&'static str, f64)], model: &str) -> f64 {
    tab.iter()
        .find(|t| t.0 == model)
        .map(|t| t.1)
        .unwrap_or(0.0)
}

/// One candidate of a sampled series: name, ln score, ln score of each half.
type Entry = (&'static str, f64, [f64; 2]);
/// The class and candidates of one sampled series.
type Row = (DemandClass, Vec<Entry>);

/// Learns the prior from the sample, with every series cut at `n_obs(i)` days (a
/// backtest origin) and cross-validated for its protection window `window(i)`, exactly as
/// the forecast will see it — so the sampled series' candidates are handed back for the
/// forecast to reuse (on a small panel every series is in the sample).
pub fn learn(
    models: &[Box<dyn Forecaster>],
    panel: &Panel,
    cfg: &ForecastCfg,
    h: usize,
    n_obs: &(dyn Fn(usize) -> usize + Sync),
    window: &(dyn Fn(usize) -> usize + Sync),
) -> (Prior, Vec<(usize, Candidates)>) {
    let idx = sample(panel.series.len());
    let done: Vec<Option<(usize, Candidates, Option<Row>)>> = idx
        .par_iter()
        .map(|&i| {
            let len = n_obs(i).min(panel.series[i].len);
            if len == 0 {
                return None;
            }
            let view = panel.view(i);
            let s = view.truncate(len);
            let c = class::classify(&s, cfg.class_window_days, cfg.new_days, cfg.dead_days).class;
            if c == DemandClass::Dead {
                return None;
            }
            let lifted = super::promo::Lifted::of(
                &s,
                super::promo::event_prior(models),
                super::promo::rival_prior(models),
            );
            let cand = cross_validate(
                models,
                &s,
                lifted.as_ref(),
                cfg,
                c,
                h,
                window(i),
                cfg.window_recalibration,
            );
            let mut out: Vec<Entry> = Vec::new();
            let named = cand
                .cvs
                .iter()
                .map(|(m, cv)| (models[*m].name(), cv))
                .chain(cand.ensemble.as_ref().map(|(_, cv)| ("ensemble", cv)));
            for (name, cv) in named {
                if let (Some(v), [Some(a), Some(b)]) = (cv.score, cv.halves) {
                    if v > FLOOR && a > FLOOR && b > FLOOR {
                        out.push((name, v.ln(), [a.ln(), b.ln()]));
                    }
                }
            }
            let row = (out.len() >= 2).then_some((c, out));
            Some((i, cand, row))
        })
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    let mut cache = Vec::new();
    let mut checks: Vec<(DemandClass, Pseudo)> = Vec::new();
    for (i, mut cand, row) in done.into_iter().flatten() {
        if let (Some(p), Some(r)) = (cand.pseudo.take(), row.as_ref()) {
            checks.push((r.0, p));
        }
        rows.extend(row);
        cache.push((i, cand));
    }
    let classes = DemandClass::ALL
        .iter()
        .filter_map(|&c| {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.0 == c).collect();
            (mine.len() >= MIN_SERIES).then(|| class_prior(c, &mine))
        })
        .collect();
    let mut prior = Prior {
        classes,
        windows: Vec::new(),
    };
    // New items have too few CV windows for a dispersion (negative-binomial windows), dead
    // ones are forecast at zero: neither is checked.
    let windows = DemandClass::ALL
        .iter()
        .filter_map(|&c| {
            let mine: Vec<&Pseudo> = checks.iter().filter(|k| k.0 == c).map(|k| &k.1).collect();
            window_recal(c, &mine, &prior)
        })
        .collect();
    prior.windows = windows;
    (prior, cache)
}

/// The series that learn the prior: all of a small panel; else one series in each of
/// `SAMPLE` equal blocks of the panel, at a seeded pseudo-random offset. Spread like a
/// fixed stride, but never in step with a period of the panel's order (with two locations
/// per SKU, an even stride would sample one location only).
fn sample(n: usize) -> Vec<usize> {
    if n <= SAMPLE {
        return (0..n).collect();
    }
    let mut rng = crate::sample::Rng::new(SEED);
    (0..SAMPLE)
        .map(|b| {
            let (lo, hi) = (b * n / SAMPLE, (b + 1) * n / SAMPLE);
            lo + (rng.next_u64() % (hi - lo) as u64) as usize
        })
        .collect()
}

/// Per-candidate effects and split-half reliability of one class.
fn class_prior(class: DemandClass, rows: &[&Row]) -> ClassPrior {
    // Scores centred on each series' mean candidate: the series' own difficulty cancels.
    let centred = |r: &Row, pick: &dyn Fn(&Entry) -> f64| {
        let m = r.1.iter().map(pick).sum::<f64>() / r.1.len() as f64;
        r.1.iter()
            .map(move |e| (e.0, pick(e) - m))
            .collect::<Vec<_>>()
    };
    let mean_by_model = |pick: &dyn Fn(&Entry) -> f64| {
        let mut acc: Vec<(&'static str, f64, usize)> = Vec::new();
        for r in rows {
            for (name, d) in centred(r, pick) {
                match acc.iter_mut().find(|a| a.0 == name) {
                    Some(a) => {
                        a.1 += d;
                        a.2 += 1;
                    }
                    None => acc.push((name, d, 1)),
                }
            }
        }
        acc.into_iter()
            .map(|(n, s, k)| (n, s / k as f64))
            .collect::<Vec<_>>()
    };
    let effects = mean_by_model(&|e| e.1);
    let halves = [mean_by_model(&|e| e.2[0]), mean_by_model(&|e| e.2[1])];
    // Residual differences of each half, paired per (series, candidate).
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for r in rows {
        let a = centred(r, &|e| e.2[0]);
        let b = centred(r, &|e| e.2[1]);
        for ((name, da), (_, db)) in a.into_iter().zip(b) {
            xs.push(da - effect(&halves[0], name));
            ys.push(db - effect(&halves[1], name));
        }
    }
    let rho = correlation(&xs, &ys).max(0.0);
    ClassPrior {
        class,
        series: rows.len(),
        reliability: (2.0 * rho / (1.0 + rho)).clamp(0.0, 1.0),
        effects,
    }
}

fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 3 {
        return 1.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return 1.0;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::PlainSeries;
    use crate::sample::Rng;

    fn models(names: &[&str], cfg: &ForecastCfg) -> Vec<Box<dyn Forecaster>> {
        names
            .iter()
            .filter_map(|n| super::super::build(n, cfg))
            .collect()
    }

    fn panel(series: impl Fn(usize, &mut Rng) -> Vec<f64>, n: usize) -> Panel {
        let mut rng = Rng::new(7);
        let plain: Vec<PlainSeries> = (0..n)
            .map(|i| {
                let y = series(i, &mut rng);
                let len = y.len();
                (0, y, vec![false; len], vec![false; len])
            })
            .collect();
        Panel::from_plain(plain)
    }

    /// The prior of the smooth class, learnt on every series' whole history.
    fn smooth_prior(
        m: &[Box<dyn Forecaster>],
        p: &Panel,
        cfg: &ForecastCfg,
    ) -> (Prior, ClassPrior) {
        let prior = learn(m, p, cfg, 28, &|i| p.series[i].len, &|_| 28).0;
        let c = prior
            .class(DemandClass::Smooth)
            .expect("smooth class learnt")
            .clone();
        (prior, c)
    }

    fn cfg() -> ForecastCfg {
        ForecastCfg {
            ensemble_k: 0,
            ..ForecastCfg::default()
        }
    }

    /// Every series is the same stationary Poisson process: which of two level models wins
    /// a series is noise, so the prior trusts per-series scores little and ranks naive
    /// (the noisiest level) last for the whole class.
    #[test]
    fn homogeneous_panel_leans_on_the_class() {
        let cfg = cfg();
        let m = models(&["naive", "moving_average", "ses"], &cfg);
        let p = panel(
            |_, r| (0..400).map(|_| r.poisson(25.0) as f64).collect(),
            120,
        );
        let (prior, c) = smooth_prior(&m, &p, &cfg);
        assert_eq!(c.series, 120);
        assert!(c.reliability < 0.5, "reliability {}", c.reliability);
        let eff = |n: &str| c.effects.iter().find(|e| e.0 == n).unwrap().1;
        assert!(
            eff("naive") > eff("moving_average") + 0.1,
            "{:?}",
            c.effects
        );
        // The choice follows the class when the series' own scores are close.
        let (ma, naive) = (
            prior.adjusted(c.class, "moving_average", 1.0),
            prior.adjusted(c.class, "naive", 0.98),
        );
        assert!(ma < naive, "{ma} {naive}");
        // The same prior from one thread as from several.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| smooth_prior(&m, &p, &cfg).0);
        assert_eq!(format!("{one:?}"), format!("{prior:?}"));
    }

    /// Half the series have a strong weekly shape, half none: a series' own scores tell
    /// which model suits it, in both halves of its origins, so they are trusted.
    #[test]
    fn heterogeneous_panel_keeps_per_series_choice() {
        let cfg = cfg();
        let m = models(&["seasonal_naive", "moving_average"], &cfg);
        let p = panel(
            |i, r| {
                (0..400)
                    .map(|t| {
                        let mean = if i % 2 == 0 {
                            [20.0, 20.0, 20.0, 20.0, 20.0, 45.0, 45.0][t % 7]
                        } else {
                            27.0
                        };
                        r.poisson(mean) as f64
                    })
                    .collect()
            },
            120,
        );
        let (_, c) = smooth_prior(&m, &p, &cfg);
        assert!(c.reliability > 0.8, "reliability {}", c.reliability);
    }

    /// A panel ordered SKU by SKU with two locations alternates location with index
    /// parity. A stride of 2 (1,600 series) would sample one location only; the block
    /// sample takes both, about equally, still one per block and in panel order.
    #[test]
    fn sample_is_spread_and_not_in_step_with_the_panel_order() {
        assert_eq!(sample(5), vec![0, 1, 2, 3, 4]);
        for n in [1_600usize, 2_400, 30_490] {
            let idx = sample(n);
            assert_eq!(idx.len(), SAMPLE);
            for (b, &i) in idx.iter().enumerate() {
                assert!(
                    (b * n / SAMPLE..(b + 1) * n / SAMPLE).contains(&i),
                    "{n} {b} {i}"
                );
            }
            let odd = idx.iter().filter(|&&i| i % 2 == 1).count();
            assert!((320..480).contains(&odd), "n {n}: {odd} of {SAMPLE} odd");
        }
        assert_eq!(sample(30_490), sample(30_490));
    }

    #[test]
    fn classes_without_enough_series_keep_the_raw_score() {
        let prior = Prior::default();
        assert_eq!(prior.adjusted(DemandClass::Lumpy, "sba", 0.5), 0.5f64.ln());
    }

    /// Uniform PITs (a calibrated class) keep about the identity; PITs squeezed towards
    /// the tails (intervals too narrow) read every central interval wider, the median
    /// stays, and the map inverts back to its nominal levels.
    #[test]
    fn recalibration_keeps_calibrated_and_widens_narrow_intervals() {
        let mut rng = Rng::new(11);
        let uniform: Vec<(f64, f64)> = (0..4_000)
            .map(|_| {
                let u = rng.uniform();
                (u, u)
            })
            .collect();
        let id = fit_recal(&uniform);
        for p in [0.05, 0.1, 0.5, 0.8, 0.9, 0.95] {
            assert!(
                (recal_level(&id, p) - p).abs() < 0.03,
                "{p}: {}",
                recal_level(&id, p)
            );
        }
        // A "too narrow" class: a fifth of the windows fall below PIT 0.05 and a fifth above
        // 0.95, half of them beyond 0.025 / 0.975: the central 80 % reads at the 95 %.
        let narrow: Vec<(f64, f64)> = (0..4_000)
            .map(|_| {
                let v = narrow_pit(rng.uniform());
                (v, v)
            })
            .collect();
        let wide = fit_recal(&narrow);
        assert!((recal_level(&wide, 0.5) - 0.5).abs() < 1e-9);
        let (lo, hi) = (recal_level(&wide, 0.1), recal_level(&wide, 0.9));
        assert!(
            (hi - 0.975).abs() < 0.01 && (lo - 0.025).abs() < 0.01,
            "{lo} {hi}"
        );
        assert!(
            recal_level(&wide, 0.999) <= 1.0
                && recal_level(&wide, 0.975) <= MAX_FOLDED / 2.0 + 0.5 + 1e-9
        );
        for p in [0.02, 0.1, 0.33, 0.5, 0.77, 0.9, 0.97] {
            let back = recal_inverse(&wide, recal_level(&wide, p));
            assert!((back - p).abs() < 1e-6, "{p} -> {back}");
        }
        // Monotone, ends fixed: quantiles read through it never cross.
        assert!(wide.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((wide[0], wide[RECAL_KNOTS]), (0.0, 1.0));
    }

    /// One checked block of a sampled series: a single candidate whose windows came in at
    /// PIT `u` of a near-continuous count distribution (mean 500, variance 2,000).
    fn block_at(us: &[f64]) -> Vec<BlockCandidate> {
        let (f, disp) = (500.0, 4.0);
        let var = super::super::quantile::cv_dispersion_var(f, disp);
        vec![BlockCandidate {
            model: "ses",
            score: 1.0,
            disp: Some(disp),
            late: us
                .iter()
                .map(|&u| (super::super::quantile::count_quantile(f, var, u), f))
                .collect(),
        }]
    }

    /// PITs of a "too narrow" class: a fifth below 0.05, a fifth above 0.95.
    fn narrow_pit(u: f64) -> f64 {
        if u < 0.2 {
            u * 0.25
        } else if u > 0.8 {
            1.0 - (1.0 - u) * 0.25
        } else {
            0.05 + (u - 0.2) * 1.5
        }
    }

    /// 40 series × 6 blocks × 10 windows; block k (0 = latest) draws its PITs narrow or
    /// calibrated as `narrow(k)` says.
    fn checks_with(narrow: impl Fn(usize) -> bool) -> Vec<Pseudo> {
        let mut rng = Rng::new(5);
        (0..40)
            .map(|_| Pseudo {
                blocks: (0..6)
                    .map(|k| {
                        let us: Vec<f64> = (0..10)
                            .map(|_| {
                                let u = rng.uniform().clamp(1e-4, 1.0 - 1e-4);
                                if narrow(k) {
                                    narrow_pit(u)
                                } else {
                                    u
                                }
                            })
                            .collect();
                        block_at(&us)
                    })
                    .collect(),
            })
            .collect()
    }

    /// A miss that holds through the CV span is applied whole; one that came from a burst
    /// in the oldest block and did not come back is not, though the map learnt on all
    /// blocks together would still widen the windows.
    #[test]
    fn recalibration_goes_only_as_far_as_it_carried_over_in_time() {
        let prior = Prior {
            classes: Vec::new(),
            windows: Vec::new(),
        };
        let steady = checks_with(|_| true);
        let refs: Vec<&Pseudo> = steady.iter().collect();
        let w = window_recal(DemandClass::Smooth, &refs, &prior).unwrap();
        assert_eq!(w.windows, 2_400);
        assert!(w.carried >= 0.8, "{}", w.carried);
        let p90 = recal_level(&w.levels, 0.9);
        assert!(p90 > 0.96, "{p90}");

        let calmed = checks_with(|k| k == 5);
        let refs: Vec<&Pseudo> = calmed.iter().collect();
        let w = window_recal(DemandClass::Smooth, &refs, &prior).unwrap();
        assert!(w.carried <= 0.2, "{}", w.carried);
        let all: Vec<(f64, f64)> = {
            let mut v = Vec::new();
            for c in &calmed {
                for b in &c.blocks {
                    block_ranges(DemandClass::Smooth, b, &prior, &mut v);
                }
            }
            v
        };
        let unchecked = recal_level(&fit_recal(&all), 0.9);
        let p90 = recal_level(&w.levels, 0.9);
        assert!(unchecked > 0.905, "{unchecked}");
        assert!(
            p90 < 0.9 + 0.2 * (unchecked - 0.9) + 1e-9,
            "{p90} vs {unchecked}"
        );
        // Still a map: monotone, ends fixed.
        assert!(w.levels.windows(2).all(|x| x[0] <= x[1]));
        assert_eq!((w.levels[0], w.levels[RECAL_KNOTS]), (0.0, 1.0));
    }

    /// Too few windows to check against: the learnt map is applied whole.
    #[test]
    fn recalibration_without_a_check_applies_the_map() {
        let prior = Prior {
            classes: Vec::new(),
            windows: Vec::new(),
        };
        // 40 series × 1 block: nothing before block 0 to learn from.
        let one: Vec<Pseudo> = checks_with(|_| true)
            .into_iter()
            .map(|mut p| {
                p.blocks.truncate(1);
                let late = p.blocks[0][0].late.clone();
                p.blocks[0][0].late.extend(late);
                p
            })
            .collect();
        let refs: Vec<&Pseudo> = one.iter().collect();
        let w = window_recal(DemandClass::Smooth, &refs, &prior).unwrap();
        assert_eq!((w.windows, w.carried), (800, 1.0));
    }

    /// A count's PIT is a range, not a point: all-zero windows forecast at a mean of
    /// 0.5 have PIT range [0, F(0)]; spread uniformly, they are calibrated, not a tail miss.
    #[test]
    fn count_pit_ranges_are_spread_not_pinned_to_an_end() {
        let f0 = super::super::quantile::count_cdf(0.5, 0.5, 0.0);
        let ranges: Vec<(f64, f64)> = (0..1_000)
            .map(|i| {
                // Draws of Poisson(0.5) at their exact shares: zeros, ones, twos.
                let u = (i as f64 + 0.5) / 1_000.0;
                let cdf = |k: f64| super::super::quantile::count_cdf(0.5, 0.5, k);
                let mut y = 0.0;
                while cdf(y) < u {
                    y += 1.0;
                }
                (if y >= 1.0 { cdf(y - 1.0) } else { 0.0 }, cdf(y))
            })
            .collect();
        assert!(ranges.iter().filter(|r| r.1 == f0).count() > 550);
        let m = fit_recal(&ranges);
        for p in [0.1, 0.25, 0.75, 0.9] {
            assert!(
                (recal_level(&m, p) - p).abs() < 0.03,
                "{p}: {}",
                recal_level(&m, p)
            );
        }
    }

    /// Stationary Poisson series are forecast about right, so the learnt window map of
    /// their class stays near the identity; with the switch off nothing is learnt.
    #[test]
    fn window_recalibration_is_learnt_per_class_and_can_be_switched_off() {
        let m = models(&["naive", "moving_average", "ses"], &cfg());
        let p = panel(|_, r| (0..400).map(|_| r.poisson(6.0) as f64).collect(), 60);
        let on = learn(&m, &p, &cfg(), 28, &|i| p.series[i].len, &|_| 28).0;
        let w = on.windows.iter().find(|w| w.class == DemandClass::Smooth);
        let w = w.expect("smooth windows checked");
        assert!(w.windows >= MIN_WINDOWS, "{}", w.windows);
        for q in [0.1, 0.9] {
            let read = recal_level(&w.levels, q);
            assert!((read - q).abs() < 0.06, "{q} read at {read}");
        }
        let off_cfg = ForecastCfg {
            window_recalibration: false,
            ..cfg()
        };
        let off = learn(&m, &p, &off_cfg, 28, &|i| p.series[i].len, &|_| 28).0;
        assert!(off.windows.is_empty());
        assert!(off.window_levels(DemandClass::Smooth).is_none());
        // The class priors do not depend on the switch.
        assert_eq!(off.classes.len(), on.classes.len());
    }
}
