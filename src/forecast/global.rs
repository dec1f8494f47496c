//! A global model pooled across series: ridge regression of demand relative to the series' recent level on features known at the forecast
//! origin — rolling means, same-weekday means, the target day's weekday and month, the
//! horizon; where the input has prices, the recent paid price against the longer-run
//! one; where a promotion calendar is given, the target day's promotion flag and the share of the series' rivals on promotion; where the calendar lists events, the shop-wide lift of the target day's kind. One model learns the weekly shape and the mean reversion of all items at once,
//! so a series with a few weeks of history (a new SKU) still gets a shaped forecast.
//!
//! The ridge is solved in closed form, (XᵀX + λI) w = Xᵀy by Cholesky on a 39 × 39 system:
//! linfa-elasticnet's coordinate descent (l1_ratio 0) took 9 minutes on the 400,000 pooled
//! rows of online-retail, the normal equations take well under a second.
//!
//! Two fits per run: one on targets before the earliest cross-validation origin (so CV
//! scores are honest), one on all data (for the forecast). Both are deterministic: training
//! rows are taken at fixed origins, in panel order.

use std::sync::Arc;

use super::{Forecaster, ModelError};
use crate::panel::{Panel, SeriesView};

const NF: usize = 7 + 12 + 7 + 5 + 2 + 2 + 2 + 2;
/// Training origins per series go back this far, every 14 days.
const TRAIN_ORIGINS: usize = 12;
const TRAIN_STEP: usize = 14;
const MAX_ROWS: usize = 400_000;
/// Days from the first to the last training target in a calendar month before its own
/// effect is learnt.
const MIN_MONTH_SPAN: i32 = 14;

/// Indices of the last `days` open, uncensored days before `n`, latest first.
fn recent_usable<'a>(s: &'a SeriesView, n: usize, days: usize) -> impl Iterator<Item = usize> + 'a {
    (0..n).rev().filter(|&i| s.usable(i)).take(days)
}

/// Level of a series at origin `n`: mean over the last `days` open, uncensored days.
fn level(s: &SeriesView, n: usize, days: usize) -> Option<(f64, usize)> {
    let (mut sum, mut k) = (0.0, 0usize);
    for i in recent_usable(s, n, days) {
        sum += s.y[i];
        k += 1;
    }
    (k > 0).then(|| (sum / k as f64, k))
}

/// Mean of the usable days in `lo..hi` (clipped to the history `..n`).
fn window_mean(s: &SeriesView, lo: usize, hi: usize, n: usize) -> Option<f64> {
    let (mut sum, mut k) = (0.0, 0usize);
    for i in lo..hi.min(n) {
        if s.usable(i) {
            sum += s.y[i];
            k += 1;
        }
    }
    (k > 0).then(|| sum / k as f64)
}

/// What the features of origin `n` share across target days (computed once per origin).
struct Origin {
    scale: f64,
    m7: f64,
    m91: f64,
    m182: f64,
    m364: f64,
    last: f64,
    /// Mean of the last 4 and 13 usable days with the same weekday, by `t % 7`.
    wd4: [f64; 7],
    wd13: [f64; 7],
    /// The level of the 28 days before the origin, one year earlier (None: too short).
    year_ago: Option<f64>,
    /// ln of the mean paid price of the last 28 usable days over that of the last 364, and
    /// of the last 7 over the last 28 (0: no prices). A cheap recent month is mostly a few
    /// discounted bulk orders, whose volume does not repeat (online-retail: the month's
    /// price ratio adds 0.03 to the R² of next month's demand change; benches/README).
    price_long: f64,
    price_short: f64,
    /// Share of the last 28 usable days in a promotion: the level they set is inflated.
    promo_recent: f64,
    /// The same for the shop's event days.
    event_recent: f64,
    /// Mean share of the series' rivals on promotion over the last 28 usable days.
    rival_recent: f64,
}

/// The shop-wide lift of the kind of event on day `t` of `s`, less 1 (0: no event, or a
/// kind without a measured lift): one feature carries every kind's own effect.
fn event_excess(s: &SeriesView, t: usize, lifts: &[Option<f64>]) -> f64 {
    s.event_kind(t)
        .and_then(|k| lifts.get(k).copied().flatten())
        .map_or(0.0, |l| l - 1.0)
}

/// Unit-weighted mean paid price over the last 7, 28 and 364 usable days before `n`, in one
/// walk (None: no prices, or no priced sale in them).
fn mean_prices(s: &SeriesView, n: usize) -> [Option<f64>; 3] {
    const SPANS: [usize; 3] = [7, 28, 364];
    let mut out = [None; 3];
    let Some(p) = s.prices else {
        return out;
    };
    let (mut rev, mut units) = (0.0, 0.0);
    let mut k = 0usize;
    let mean = |rev: f64, units: f64| (units > 0.0).then(|| rev / units);
    for i in recent_usable(s, n, SPANS[2]) {
        let (y, pi) = (s.y[i], f64::from(p[i]));
        if y > 0.0 && pi.is_finite() && pi > 0.0 {
            rev += y * pi;
            units += y;
        }
        k += 1;
        for (o, &d) in out.iter_mut().zip(&SPANS) {
            if k == d {
                *o = mean(rev, units);
            }
        }
    }
    // A history shorter than a span: that span's mean is over all of it.
    for (o, &d) in out.iter_mut().zip(&SPANS) {
        if k < d {
            *o = mean(rev, units);
        }
    }
    out
}

/// Share of the last `days` usable days before `n` that are `flagged`.
fn flag_share(s: &SeriesView, n: usize, days: usize, flagged: impl Fn(usize) -> bool) -> f64 {
    let (mut k, mut p) = (0usize, 0usize);
    for i in recent_usable(s, n, days) {
        k += 1;
        p += usize::from(flagged(i));
    }
    if k == 0 {
        0.0
    } else {
        p as f64 / k as f64
    }
}

/// Mean share of rivals on promotion over the last `days` usable days before `n`.
fn rival_share(s: &SeriesView, n: usize, days: usize) -> f64 {
    if s.rivals.is_none_or(|g| g.size < 2) {
        return 0.0;
    }
    let (mut k, mut sum) = (0usize, 0.0);
    for i in recent_usable(s, n, days) {
        k += 1;
        sum += s.rival_promo(i);
    }
    if k == 0 {
        0.0
    } else {
        sum / k as f64
    }
}

/// ln(a / b), clamped; 0 when either is missing.
fn log_ratio(a: Option<f64>, b: Option<f64>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => (a / b).ln().clamp(-1.0, 1.0),
        _ => 0.0,
    }
}

impl Origin {
    fn new(s: &SeriesView, n: usize, scale: f64) -> Origin {
        let lv = |d| level(s, n, d).map(|v: (f64, usize)| v.0).unwrap_or(scale);
        let mut wd4 = [scale; 7];
        let mut wd13 = [scale; 7];
        for r in 0..7 {
            // Latest day before n with t % 7 == r, walking back a week at a time.
            let mut i = n as isize - 1 - ((n + 6 - r) % 7) as isize;
            let (mut sum, mut k) = (0.0, 0usize);
            while i >= 0 && k < 13 {
                let iu = i as usize;
                if s.usable(iu) {
                    sum += s.y[iu];
                    k += 1;
                    if k == 4 {
                        wd4[r] = sum / 4.0;
                    }
                }
                i -= 7;
            }
            if k > 0 {
                if k < 4 {
                    wd4[r] = sum / k as f64;
                }
                wd13[r] = sum / k as f64;
            }
        }
        let year_ago = (n >= 364 + 28)
            .then(|| window_mean(s, n - 364 - 28, n - 364, n))
            .flatten();
        let [p7, p28, p364] = mean_prices(s, n);
        Origin {
            scale,
            m7: lv(7),
            m91: lv(91),
            m182: lv(182),
            m364: lv(364),
            last: (0..n)
                .rev()
                .find(|&i| s.usable(i))
                .map(|i| s.y[i])
                .unwrap_or(scale),
            wd4,
            wd13,
            year_ago,
            price_long: log_ratio(p28, p364),
            price_short: log_ratio(p7, p28),
            promo_recent: if s.promos.is_empty() {
                0.0
            } else {
                flag_share(s, n, 28, |i| s.promo(i))
            },
            event_recent: if s.calendar.has_events() {
                flag_share(s, n, 28, |i| s.event(i))
            } else {
                0.0
            },
            rival_recent: rival_share(s, n, 28),
        }
    }

    /// Features for target day `n + j`, relative to the 28-day level; `lifts`: the shop-wide
    /// lift of each event kind.
    fn features(&self, s: &SeriesView, n: usize, j: usize, lifts: &[Option<f64>]) -> [f64; NF] {
        let mut f = [0.0; NF];
        let scale = self.scale;
        let t = n + j;
        let same_wd = self.wd4[t % 7];
        f[0] = self.m7 / scale;
        f[1] = self.m91 / scale;
        f[2] = same_wd / scale;
        f[3] = self.last / scale;
        f[4] = (j as f64 + 1.0) / 28.0;
        f[5] = (n as f64).min(365.0) / 365.0; // history length: young items behave differently
        f[6] = 1.0 - (same_wd / scale - 1.0).abs().min(3.0) / 3.0;
        let date = crate::panel::to_date(s.start + t as i32);
        use chrono::Datelike;
        f[7 + date.month0() as usize] = 1.0;
        f[19 + date.weekday().num_days_from_monday() as usize] = 1.0;
        // Longer levels (the 28-day level alone is noisy for slow movers), the series' own
        // weekday shape over a quarter, and last year's move from now to the target day.
        f[26] = self.m182 / scale;
        f[27] = self.m364 / scale;
        f[28] = if self.m91 > 0.0 {
            self.wd13[t % 7] / self.m91
        } else {
            1.0
        };
        if let Some(b) = self.year_ago {
            let a = window_mean(s, t - 364 - 14, t - 364 + 14, n).unwrap_or(b);
            f[29] = ((a - b) / scale).clamp(-2.0, 2.0);
            f[30] = 1.0;
        }
        // Last, so that without prices, promotions or events (all zero) the fit is the
        // same as without these features.
        f[31] = self.price_long;
        f[32] = self.price_short;
        // Promotions: the target day's (planned promotions are known ahead) and the
        // recent level's share of promotion days.
        f[33] = f64::from(u8::from(s.promo(t)));
        f[34] = self.promo_recent;
        // The shop's event days: the target day's kind's lift, and the recent share.
        f[35] = event_excess(s, t, lifts);
        f[36] = self.event_recent;
        // Rivals' promotions (same location and category): the target day's share of them
        // on promotion, and the recent level's.
        f[37] = s.rival_promo(t);
        f[38] = self.rival_recent;
        f
    }
}

/// The fitted pooled regression.
#[derive(Debug, Clone)]
pub struct Ridge {
    coef: Vec<f64>,
    intercept: f64,
    /// The shop-wide event lifts the features were built with (empty without events).
    event_lifts: Vec<Option<f64>>,
}

impl Ridge {
    fn predict_one(&self, x: &[f64; NF]) -> f64 {
        self.intercept + self.coef.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
    }
}

/// Trains on every series' history up to (and including) day index `cut(i)` of series `i`.
/// `event_lifts`: the shop-wide lift of each event kind, measured before the same cut.
pub fn train(
    panel: &Panel,
    h: usize,
    cut: &dyn Fn(usize) -> usize,
    penalty: f64,
    event_lifts: Option<&[Option<f64>]>,
) -> Option<Ridge> {
    train_with(panel, h, cut, penalty, MIN_MONTH_SPAN, event_lifts)
}

/// [`train`] with the latest month's indicator kept only from `min_month_span` days on.
fn train_with(
    panel: &Panel,
    h: usize,
    cut: &dyn Fn(usize) -> usize,
    penalty: f64,
    min_month_span: i32,
    event_lifts: Option<&[Option<f64>]>,
) -> Option<Ridge> {
    let lifts = event_lifts.unwrap_or_default();
    let mut xs: Vec<[f64; NF]> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    // First and last target day seen in each calendar month.
    let mut months: [(i32, i32); 12] = [(i32::MAX, i32::MIN); 12];
    // Spread the row budget over the whole panel (panel order is often by category, so
    // the first series alone would not be a fair sample): fewer origins per series first,
    // then every `stride`-th series.
    let rows_per_origin = panel.series.len().max(1) * h.max(1);
    let per = (MAX_ROWS / rows_per_origin).clamp(4, TRAIN_ORIGINS);
    let stride = (rows_per_origin * per).div_ceil(MAX_ROWS).max(1);
    'outer: for i in (0..panel.series.len()).step_by(stride) {
        let s = panel.view(i);
        let end = cut(i).min(s.y.len());
        for k in 0..per {
            let Some(n) = end.checked_sub(h + k * TRAIN_STEP) else {
                break;
            };
            if n < 28 {
                break;
            }
            let Some((scale, _)) = level(&s, n, 28) else {
                continue;
            };
            if scale <= 0.0 {
                continue;
            }
            let o = Origin::new(&s, n, scale);
            for j in 0..h {
                let t = n + j;
                if !s.usable(t) {
                    continue;
                }
                let x = o.features(&s, n, j, lifts);
                if let Some(m) = x[7..19].iter().position(|&v| v > 0.0) {
                    let d = s.start + t as i32;
                    months[m] = (months[m].0.min(d), months[m].1.max(d));
                }
                xs.push(x);
                // Relative demand, capped so one spike does not steer the pooled fit.
                ys.push((s.y[t] / scale).min(20.0));
                if ys.len() >= MAX_ROWS {
                    break 'outer;
                }
            }
        }
    }
    // Ten rows per feature in use (the price pair is all zero without prices, the
    // promotion and rival pairs without a promotion calendar, the event pair without events).
    let used = NF
        - 2 * usize::from(!panel.has_prices())
        - 4 * usize::from(!panel.has_promotions())
        - 2 * usize::from(!panel.calendar.has_events());
    if ys.len() < 10 * used {
        return None;
    }
    // A month the training targets only touch (a forecast on the 3rd trains on the month's
    // first 3 days) would get an effect from those few days and carry it over the whole
    // month ahead: its indicator is left out, so it takes the average month, as an unseen
    // month does (sample, December origin: −17 % on every day of the window).
    let latest = months
        .iter()
        .enumerate()
        .filter(|(_, r)| r.0 <= r.1)
        .max_by_key(|(_, r)| r.1);
    if let Some((m, &(first, last))) = latest {
        if last - first + 1 < min_month_span {
            for x in &mut xs {
                x[7 + m] = 0.0;
            }
        }
    }
    ridge(&xs, &ys, penalty).map(|r| Ridge {
        event_lifts: lifts.to_vec(),
        ..r
    })
}

/// Ridge with an unpenalised intercept: centre, solve the normal equations by Cholesky.
fn ridge(xs: &[[f64; NF]], ys: &[f64], penalty: f64) -> Option<Ridge> {
    let n = ys.len() as f64;
    let mut mx = [0.0; NF];
    for x in xs {
        for k in 0..NF {
            mx[k] += x[k] / n;
        }
    }
    let my = ys.iter().sum::<f64>() / n;
    let mut a = vec![[0.0; NF]; NF];
    let mut b = [0.0; NF];
    for (x, y) in xs.iter().zip(ys) {
        let mut c = [0.0; NF];
        for k in 0..NF {
            c[k] = x[k] - mx[k];
        }
        for i in 0..NF {
            b[i] += c[i] * (y - my);
            for j in 0..=i {
                a[i][j] += c[i] * c[j];
            }
        }
    }
    // Penalty per row (as glmnet/linfa scale it), plus a tiny ridge for the one-hot
    // groups, which are collinear with the intercept after centring.
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += penalty * n + 1e-9 * n;
    }
    // Cholesky: a = L Lᵀ (lower triangle used).
    let mut l = vec![[0.0; NF]; NF];
    for i in 0..NF {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut z = [0.0; NF];
    for i in 0..NF {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut w = [0.0; NF];
    for i in (0..NF).rev() {
        w[i] = (z[i] - (i + 1..NF).map(|k| l[k][i] * w[k]).sum::<f64>()) / l[i][i];
    }
    let intercept = my - (0..NF).map(|k| w[k] * mx[k]).sum::<f64>();
    (intercept.is_finite() && w.iter().all(|v| v.is_finite())).then(|| Ridge {
        coef: w.to_vec(),
        intercept,
        event_lifts: vec![],
    })
}

/// The pooled model as a per-series candidate.
pub struct Global {
    /// Fitted before the earliest CV origin (scores) and on all data (forecast).
    pub cv: Option<Arc<Ridge>>,
    pub full: Option<Arc<Ridge>>,
    /// The shop-wide lift of each event kind ([`super::promo::pooled_event_lifts`]) at the
    /// forecast's cut (each `Ridge` carries those it was trained with); None without events.
    pub event_lifts: Option<Vec<Option<f64>>>,
    /// The shop's rival slope ([`super::promo::pooled_rival_slope`]) at the forecast's cut.
    pub rival_slope: Option<f64>,
}

fn forecast_with(m: &Ridge, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
    let n = s.y.len();
    let (scale, k) = level(s, n, 28).ok_or(ModelError::TooShort { needed: 7, got: 0 })?;
    if k < 7 {
        return Err(ModelError::TooShort { needed: 7, got: k });
    }
    let o = (scale > 0.0).then(|| Origin::new(s, n, scale));
    Ok((0..h)
        .map(|j| match &o {
            Some(o) if !s.closed(n + j) => {
                (scale * m.predict_one(&o.features(s, n, j, &m.event_lifts))).max(0.0)
            }
            _ => 0.0,
        })
        .collect())
}

impl Forecaster for Global {
    fn name(&self) -> &'static str {
        "global_ridge"
    }
    fn event_lifts(&self) -> Option<&[Option<f64>]> {
        self.event_lifts.as_deref()
    }
    fn rival_slope(&self) -> Option<f64> {
        self.rival_slope
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let m = self.full.as_ref().ok_or_else(|| {
            ModelError::NoUsableHistory(
                "global model not trained (too little pooled history)".into(),
            )
        })?;
        forecast_with(m, s, h)
    }
    fn predict_origins(
        &self,
        s: &SeriesView,
        origins: &[usize],
        h: usize,
    ) -> Vec<Result<Vec<f64>, ModelError>> {
        match &self.cv {
            Some(m) => origins
                .iter()
                .map(|&o| forecast_with(m, &s.truncate(o), h))
                .collect(),
            None => origins
                .iter()
                .map(|_| {
                    Err(ModelError::NoUsableHistory(
                        "global model not trained (too little pooled history)".into(),
                    ))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 established series share a weekly shape (Saturday triple); a new series with
    /// three weeks of flat history gets that shape from the pooled model (cold start).
    /// The pooled model trained on all of `panel` (no events), as a candidate.
    fn fitted(panel: &Panel) -> Global {
        let m = train(panel, 28, &|i| panel.series[i].len, 0.001, None).unwrap();
        Global {
            cv: None,
            full: Some(Arc::new(m)),
            event_lifts: None,
            rival_slope: None,
        }
    }

    #[test]
    fn ridge_recovers_a_linear_relation() {
        let xs: Vec<[f64; NF]> = (0..500)
            .map(|i| {
                let mut x = [0.0; NF];
                x[0] = (i % 17) as f64;
                x[1] = (i % 5) as f64;
                x
            })
            .collect();
        let ys: Vec<f64> = xs.iter().map(|x| 1.5 + 2.0 * x[0] - 0.5 * x[1]).collect();
        let r = ridge(&xs, &ys, 0.0).unwrap();
        assert!(
            (r.coef[0] - 2.0).abs() < 1e-4 && (r.coef[1] + 0.5).abs() < 1e-4,
            "{:?}",
            r.coef
        );
        assert!((r.intercept - 1.5).abs() < 1e-3);
    }

    /// Every series has a four-week season at its own time of year (so no month dummy can
    /// learn it): last year's move carries it. Right before the season the forecast rises
    /// well above the flat 28-day level.
    #[test]
    fn last_years_move_carries_a_season_no_calendar_feature_knows() {
        let plain: Vec<crate::panel::PlainSeries> = (0..60)
            .map(|k| {
                let peak = k * 6; // day of the "year" (364 days) the season starts
                let y: Vec<f64> = (0..1092)
                    .map(|t| {
                        if (t + 364 - peak) % 364 < 28 {
                            30.0
                        } else {
                            10.0
                        }
                    })
                    .collect();
                (0, y, vec![false; 1092], vec![false; 1092])
            })
            .collect();
        let panel = Panel::from_plain(plain);
        let g = fitted(&panel);
        // Series 0's season starts on day 1092, the first forecast day.
        let f = g.predict(&panel.view(0), 28).unwrap();
        let mean = f.iter().sum::<f64>() / 28.0;
        assert!(mean > 15.0, "level 10, season 30: forecast mean {mean}");
    }

    /// A forecast on the 3rd of a month trains on that month's first 3 days only. Here they
    /// were a dip (half the level); the month's indicator must not carry it over the whole
    /// month ahead (it did on the sample's December origin: −17 % on every day).
    #[test]
    fn a_month_the_training_only_touches_lends_no_effect_to_the_month_ahead() {
        use crate::panel::from_date;
        let day = |y, m, d| from_date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap());
        let (start, end) = (day(2024, 3, 1), day(2024, 12, 4));
        let dip = day(2024, 12, 1);
        let len = (end - start) as usize;
        let mut rng = crate::sample::Rng::new(3);
        let plain: Vec<crate::panel::PlainSeries> = (0..60)
            .map(|k| {
                let level = 5.0 + k as f64;
                let y: Vec<f64> = (0..len)
                    .map(|t| {
                        let wd = [1.2, 1.0, 1.0, 1.0, 1.1, 0.8, 0.9][t % 7];
                        let d = start + t as i32;
                        rng.poisson(level * wd * if d >= dip { 0.5 } else { 1.0 }) as f64
                    })
                    .collect();
                (start, y, vec![false; len], vec![false; len])
            })
            .collect();
        let panel = Panel::from_plain(plain);
        let cut = |i: usize| panel.series[i].len;
        let forecast = |m: Ridge| {
            let g = Global {
                cv: None,
                full: Some(Arc::new(m)),
                event_lifts: None,
                rival_slope: None,
            };
            let f = g.predict(&panel.view(20), 28).unwrap();
            f.iter().sum::<f64>() / 28.0
        };
        let m = train(&panel, 28, &cut, 0.001, None).unwrap();
        assert_eq!(m.coef[7 + 11], 0.0);
        let with_rule = forecast(m);
        // The same fit with December's indicator kept: it learns the dip as December's.
        let m = train_with(&panel, 28, &cut, 0.001, 0, None).unwrap();
        assert!(m.coef[7 + 11] < -0.2, "{}", m.coef[7 + 11]);
        let without = forecast(m);
        // Level 25 ahead. The 3 low days still pull the recent levels down (measured 16.8
        // against 13.6): the rule takes away the month's share of that, not the rest.
        assert!(
            with_rule > without + 2.0,
            "with the rule {with_rule}, without {without}"
        );
    }

    /// Half the series have discounted bulk months: the volume doubles at half the price and
    /// falls back the month after. The other half have real rises: the volume doubles (or
    /// halves) at the list price and stays. The demand history alone cannot tell the two
    /// apart at the month's end; the paid price can.
    #[test]
    fn price_features_tell_a_discounted_bulk_month_from_a_real_rise() {
        let days = 28 * 20;
        let mut plain: Vec<crate::panel::PlainSeries> = Vec::new();
        let mut prices: Vec<Vec<f32>> = Vec::new();
        for k in 0..80usize {
            let bulk = k % 2 == 0;
            let (mut y, mut p) = (Vec::with_capacity(days), Vec::with_capacity(days));
            let mut level = 10.0;
            let mut last_block = usize::MAX;
            for t in 0..days {
                let b = t / 28;
                let special = (b + k) % 3 == 0;
                if !bulk && special && b != last_block {
                    level = if level == 10.0 { 20.0 } else { 10.0 };
                }
                last_block = b;
                let (v, price) = match (bulk, special) {
                    (true, true) => (20.0, 5.0),
                    (true, false) => (10.0, 10.0),
                    (false, _) => (level, 10.0),
                };
                y.push(v);
                p.push(price);
            }
            plain.push((0, y, vec![false; days], vec![false; days]));
            prices.push(p);
        }
        let fit = |panel: &Panel, i: usize| {
            let m = train(panel, 28, &|i| panel.series[i].len, 0.001, None).unwrap();
            let g = Global {
                cv: None,
                full: Some(Arc::new(m)),
                event_lifts: None,
                rival_slope: None,
            };
            let f = g.predict(&panel.view(i), 28).unwrap();
            f.iter().sum::<f64>() / 28.0
        };
        // Series 2 (bulk) and 5 (rise) both end on a doubled month after a base one.
        let without = Panel::from_plain(plain.clone());
        assert!(!without.has_prices());
        let with = Panel::from_plain(plain).with_prices(prices).unwrap();
        let (bulk_without, rise_without) = (fit(&without, 2), fit(&without, 5));
        let (bulk_with, rise_with) = (fit(&with, 2), fit(&with, 5));
        // Truth: 10 after the bulk month, 20 after the rise. Without prices both land in
        // between (measured 13.8 / 17.4); with them each moves at least 3 units its way and
        // ends nearer its truth than the other's (measured 8.1 / 21.6: linear, it overshoots).
        let msg = format!(
            "with prices {bulk_with:.2} / {rise_with:.2}, without {bulk_without:.2} / {rise_without:.2}"
        );
        assert!(
            bulk_with < bulk_without - 3.0 && rise_with > rise_without + 3.0,
            "{msg}"
        );
        assert!(bulk_with < 15.0 && rise_with > 15.0, "{msg}");
    }

    /// Promotion weeks double demand. With the calendar the pooled model learns the lift
    /// from past weeks and forecasts it for a planned week; the 28-day level after a
    /// promotion is not taken for the new normal either.
    #[test]
    fn promotion_calendar_lifts_a_planned_week() {
        let days = 700usize;
        let mut plain: Vec<crate::panel::PlainSeries> = Vec::new();
        let mut promos: Vec<Vec<(i32, i32)>> = Vec::new();
        for k in 0..60usize {
            // A week every 70 days, at a phase of the series' own.
            let weeks: Vec<(i32, i32)> = (0..12)
                .map(|w| {
                    let a = (w * 70 + (k * 11) % 70) as i32;
                    (a, a + 6)
                })
                .collect();
            let y: Vec<f64> = (0..days as i32)
                .map(|t| {
                    if weeks.iter().any(|(a, b)| t >= *a && t <= *b) {
                        20.0
                    } else {
                        10.0
                    }
                })
                .collect();
            plain.push((0, y, vec![false; days], vec![false; days]));
            promos.push(weeks);
        }
        let without = Panel::from_plain(plain.clone());
        let with = Panel::from_plain(plain).with_promotions(promos).unwrap();
        assert!(with.has_promotions() && !without.has_promotions());
        let fit = |panel: &Panel, i: usize| {
            let m = train(panel, 28, &|i| panel.series[i].len, 0.001, None).unwrap();
            let g = Global {
                cv: None,
                full: Some(Arc::new(m)),
                event_lifts: None,
                rival_slope: None,
            };
            g.predict(&panel.view(i), 28).unwrap()
        };
        // Find a series whose next week is planned, i.e. starts inside the horizon.
        let (i, a) = (0..60usize)
            .find_map(|k| {
                let a = (days / 70 * 70 + (k * 11) % 70) as i32;
                (a >= days as i32 + 7 && a + 6 < days as i32 + 28).then_some((k, a))
            })
            .unwrap();
        let j = (a - days as i32) as usize;
        let (fw, fo) = (fit(&with, i), fit(&without, i));
        let week = |f: &[f64]| f[j..j + 7].iter().sum::<f64>() / 7.0;
        let before = |f: &[f64]| f[..7].iter().sum::<f64>() / 7.0;
        assert!(
            week(&fw) > 17.0 && (before(&fw) - 10.0).abs() < 2.0,
            "with the calendar: planned week {:.1}, first week {:.1}",
            week(&fw),
            before(&fw)
        );
        assert!(week(&fo) < 14.0, "without: planned week {:.1}", week(&fo));
    }

    /// Half the series run promotion weeks together (every 70 days, one planned 10 days
    /// ahead); the other half, on the same shelf, sell 40 % less in those weeks. The pooled
    /// model reads the rivals' share on promotion and forecasts the dip for the planned week.
    #[test]
    fn rivals_promotions_dip_a_bystanders_planned_week() {
        let days = 700usize;
        let weeks: Vec<(i32, i32)> = (0..11).map(|w| (w * 70 + 10, w * 70 + 16)).collect();
        assert_eq!(weeks[10], (days as i32 + 10, days as i32 + 16));
        let on = |t: usize| weeks.iter().any(|&(a, b)| (a..=b).contains(&(t as i32)));
        let mut plain: Vec<crate::panel::PlainSeries> = Vec::new();
        let mut promos: Vec<Vec<(i32, i32)>> = Vec::new();
        for k in 0..40usize {
            let promoter = k % 2 == 0;
            let y = (0..days)
                .map(|t| match (promoter, on(t)) {
                    (true, true) => 20.0,
                    (false, true) => 6.0,
                    _ => 10.0,
                })
                .collect();
            plain.push((0, y, vec![false; days], vec![false; days]));
            promos.push(if promoter { weeks.clone() } else { Vec::new() });
        }
        let panel = Panel::from_plain(plain).with_promotions(promos).unwrap();
        let bystander = panel.view(1);
        assert!((bystander.rival_promo(days + 12) - 20.0 / 39.0).abs() < 1e-12);
        let g = fitted(&panel);
        let f = g.predict(&bystander, 28).unwrap();
        let mean = |r: std::ops::Range<usize>| f[r.clone()].iter().sum::<f64>() / r.len() as f64;
        let (before, week) = (mean(0..7), mean(10..17));
        assert!(
            week < 7.5 && (before - 10.0).abs() < 1.0,
            "planned rival week {week:.2}, first week {before:.2}"
        );
    }

    /// Shop event days (every 9th day, and one planned 10 days ahead) lift every series'
    /// demand 2.5-fold. With the calendar's events the pooled model reads the shop-wide lift
    /// as a feature and forecasts it for the planned day; without, it cannot.
    #[test]
    fn shop_events_lift_a_planned_event_day() {
        let days = 400usize;
        let start = crate::panel::from_date(chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let event = |t: usize| t % 9 == 4 && t < days || t == days + 9;
        let plain: Vec<crate::panel::PlainSeries> = (0..40)
            .map(|k| {
                let lvl = 3.0 + k as f64;
                let y = (0..days)
                    .map(|t| if event(t) { 2.5 * lvl } else { lvl })
                    .collect();
                (start, y, vec![false; days], vec![false; days])
            })
            .collect();
        let dates: Vec<chrono::NaiveDate> = (0..days + 28)
            .filter(|&t| event(t))
            .map(|t| crate::panel::to_date(start + t as i32))
            .collect();
        let without = Panel::from_plain(plain.clone());
        let mut with = Panel::from_plain(plain);
        with.calendar.set_events(&[("sale".to_string(), dates)]);
        let fit = |panel: &Panel| {
            let all = |i: usize| panel.series[i].len;
            let lifts = crate::forecast::promo::pooled_event_lifts(panel, &all);
            let m = train(panel, 28, &all, 0.001, lifts.as_deref()).unwrap();
            let g = Global {
                cv: None,
                full: Some(Arc::new(m)),
                event_lifts: lifts,
                rival_slope: None,
            };
            (
                g.event_lifts().map(<[_]>::to_vec),
                g.predict(&panel.view(10), 28).unwrap(),
            )
        };
        let (lifts, fw) = fit(&with);
        // 44 event days in the two years seen: the measured 2.5 keeps 44/45 of its effect.
        let l = lifts.unwrap()[0].unwrap();
        assert!((l - (1.0 + 1.5 * 44.0 / 45.0)).abs() < 1e-9, "{l}");
        // Series 10 sells 13 a day, 32.5 on event days. Day 9 of the horizon (day 409) is
        // the planned event; the last past one was day 391.
        assert!(
            fw[9] > 28.0 && fw[9] < 37.0,
            "planned event day {:.1}",
            fw[9]
        );
        let ordinary = fw[..9].iter().sum::<f64>() / 9.0;
        assert!((ordinary - 13.0).abs() < 1.5, "ordinary days {ordinary:.1}");
        let (none, fo) = fit(&without);
        assert!(none.is_none());
        assert!(fo[9] < 18.0, "without events: {:.1}", fo[9]);
    }

    #[test]
    fn pooled_model_learns_the_weekly_shape_and_serves_a_new_series() {
        let shape = [1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0]; // 2024-01-01 is a Monday
        let start = crate::panel::from_date(chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let mut plain: Vec<crate::panel::PlainSeries> = (0..40)
            .map(|k| {
                let lvl = 2.0 + k as f64;
                let y: Vec<f64> = (0..364).map(|t| lvl * shape[t % 7]).collect();
                (start, y, vec![false; 364], vec![false; 364])
            })
            .collect();
        // The new item: 21 days at a flat 5 units, starting three weeks before the end.
        plain.push((start + 343, vec![5.0; 21], vec![false; 21], vec![false; 21]));
        let panel = Panel::from_plain(plain);
        let m = train(&panel, 14, &|i| panel.series[i].len, 0.001, None).unwrap();
        let g = Global {
            cv: None,
            full: Some(Arc::new(m)),
            event_lifts: None,
            rival_slope: None,
        };
        let established = g.predict(&panel.view(0), 7).unwrap();
        // Day 364 is a Monday; Saturday is index 5.
        assert!(established[5] > 2.0 * established[0], "{established:?}");
        let fresh = g.predict(&panel.view(40), 7).unwrap();
        assert!(fresh.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!(
            fresh[5] > fresh[0],
            "the new item inherits the Saturday peak: {fresh:?}"
        );
    }
}
