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
            let lifted = super::promo::Lifted::of(&s);
            let cand = cross_validate(models, &s, lifted.as_ref(), cfg, c, h, window(i));
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
    for (i, cand, row) in done.into_iter().flatten() {
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
    (Prior { classes }, cache)
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
}
