//! Promotions and shop events for the per-series models.
//!
//! The pooled `global_ridge` model reads the promotion calendar as features. The per-series
//! models (SES, Croston, ADIDA, …) see demand only: a history full of promotion weeks lifts
//! their level, and they forecast that lift onto ordinary days, while a planned promotion
//! gets no lift at all. So each series' promotion days are divided by what its promotions
//! added before these models see them, and their forecasts are multiplied by a lift on
//! promotion days (in the CV horizons too, so the choice compares what will be forecast).
//!
//! Two ratios of a series' mean demand on promotion days to that on other days (usable days
//! of its last year) do the two jobs. The history is divided by the plain ratio: it says
//! what the promotions of that history added, so the divided history's level is the
//! ordinary days' level. Dividing by a shrunk ratio left part of every promotion in the
//! level (Dominick's orange juice, 43 % promotion weeks: ordinary weeks forecast 22 % high).
//! Planned promotions are forecast with the ratio shrunk toward 1 by `PSEUDO_DAYS`
//! promotion days without lift: a series with two promotion days says little about its
//! next one, and a past promotion that did unusually well tends not to repeat. Both are
//! taken from the history the forecast sees (a backtest's cut), not from each CV origin's.
//!
//! Shop events (`calendar.events`: Black Friday, a holiday the shop is open on) go the same
//! way, with one lift per kind for the whole shop ([`pooled_event_lifts`]) instead of each
//! series' own: a series sees a handful of event days.

use super::{Forecaster, ModelError};
use crate::panel::{Panel, SeriesView};

/// Promotion days at no lift that every forecast lift starts from.
const PSEUDO_DAYS: f64 = 14.0;
/// Days of history the lift is estimated from.
const LIFT_DAYS: usize = 364;
/// Days of history event days are read from: two years, so that a yearly event is seen.
pub(crate) const EVENT_DAYS: usize = 728;
/// Event days at no lift that each kind's shop-wide lift starts from.
const EVENT_PSEUDO_DAYS: f64 = 1.0;
/// Promotion days with rivals a shop-wide rival slope needs.
const MIN_RIVAL_DAYS: usize = 100;
/// Days either side of a promotion day whose ordinary days give its level (rival slope).
const RIVAL_BASE_DAYS: usize = 91;
/// The squared t-value at which a rival slope keeps half its size.
const RIVAL_T2: f64 = 4.0;
/// Bounds of a lift: a calendar that marks nearly every day, or none that sold, is not
/// allowed to blow a level up or down by more.
const LIFT_RANGE: (f64, f64) = (0.25, 10.0);

/// What one kind of flagged day (promotion, shop event) does to a series' demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lift {
    /// What planned flagged days are multiplied by (shrunk toward 1).
    pub lift: f64,
    /// What the history's flagged days were divided by (the plain ratio).
    pub history_lift: f64,
}

impl Lift {
    /// From the sums of flagged and ordinary usable days; None without flagged days.
    fn of(flag_sum: f64, flag_n: f64, base: f64) -> Option<Lift> {
        (flag_n > 0.0).then(|| Lift {
            lift: ((flag_sum + PSEUDO_DAYS * base) / ((flag_n + PSEUDO_DAYS) * base))
                .clamp(LIFT_RANGE.0, LIFT_RANGE.1),
            history_lift: (flag_sum / (flag_n * base)).clamp(LIFT_RANGE.0, LIFT_RANGE.1),
        })
    }
}

/// A series' promotion and event lifts and its history with flagged days divided by their
/// plain ratios to the ordinary days.
pub struct Lifted {
    /// None without a promotion day in the last year.
    pub promo: Option<Lift>,
    /// Per event kind (`calendar.events`): None without a lift for it; the `lift` is the
    /// shop-wide one where the pooled model measured it.
    pub event: Vec<Option<Lift>>,
    /// The shop's rival slope ([`pooled_rival_slope`]; 0 without) and the mean share of
    /// rivals on promotion over the series' promotion days the lift was measured on.
    rival: (f64, f64),
    y: Vec<f64>,
}

impl Lifted {
    /// None without promotion days in the last year and without event lifts, or without
    /// ordinary days that sold. Ordinary days are neither; each ratio is read off the days
    /// with only its own flag, and a day with both is divided by both. `event_prior`: the
    /// shop-wide lift of each event kind ([`pooled_event_lifts`]).
    /// `rival_slope`: how the promotion excess moves with the rivals' share on promotion.
    pub fn of(
        s: &SeriesView,
        event_prior: Option<&[Option<f64>]>,
        rival_slope: Option<f64>,
    ) -> Option<Lifted> {
        if s.promos.is_empty() && !s.calendar.has_events() {
            return None;
        }
        let n = s.y.len();
        let (mut p_sum, mut p_n, mut o_sum, mut o_n) = (0.0, 0.0, 0.0, 0.0);
        let mut r_sum = 0.0;
        let slope = rival_slope.unwrap_or(0.0);
        for i in n.saturating_sub(LIFT_DAYS)..n {
            if !s.usable(i) || s.event(i) {
                continue;
            }
            if s.promo(i) {
                p_sum += s.y[i];
                p_n += 1.0;
                if slope != 0.0 {
                    r_sum += s.rival_promo(i);
                }
            } else {
                o_sum += s.y[i];
                o_n += 1.0;
            }
        }
        if o_n == 0.0 || o_sum <= 0.0 {
            return None;
        }
        let base = o_sum / o_n;
        let promo = Lift::of(p_sum, p_n, base);
        let event = event_lifts(s, base, event_prior);
        if promo.is_none() && event.iter().all(Option::is_none) {
            return None;
        }
        let rival = (slope, if p_n > 0.0 { r_sum / p_n } else { 0.0 });
        let y = (0..n)
            .map(|i| s.y[i] / Self::factor(s, i, promo, &event, rival, |l| l.history_lift))
            .collect();
        Some(Lifted {
            promo,
            event,
            rival,
            y,
        })
    }

    /// The product of the lifts (`pick`ed from each `Lift`) of the flags day `i` has.
    fn factor(
        s: &SeriesView,
        i: usize,
        promo: Option<Lift>,
        event: &[Option<Lift>],
        (slope, mean_share): (f64, f64),
        pick: impl Fn(Lift) -> f64,
    ) -> f64 {
        let mut f = 1.0;
        if let Some(l) = promo.filter(|_| s.promo(i)) {
            // A promotion among more rivals' promotions than the series' usual lifts less.
            let excess = if slope == 0.0 {
                1.0
            } else {
                (1.0 + slope * (s.rival_promo(i) - mean_share)).clamp(0.0, 2.0)
            };
            f *= 1.0 + (pick(l) - 1.0) * excess;
        }
        if let Some(l) = s
            .event_kind(i)
            .and_then(|k| event.get(k).copied().flatten())
        {
            f *= pick(l);
        }
        f
    }

    /// The lift on the first event day with one in the `h` days after the series' end
    /// (None: no such day ahead).
    pub fn next_event_lift(&self, s: &SeriesView, h: usize) -> Option<f64> {
        let n = s.y.len();
        (n..n + h).find_map(|i| {
            let k = s.event_kind(i)?;
            self.event.get(k).copied().flatten().map(|l| l.lift)
        })
    }

    fn view<'a>(&'a self, s: &SeriesView<'a>) -> SeriesView<'a> {
        SeriesView { y: &self.y, ..*s }
    }

    /// Puts the lifts back on the flagged days of a path that starts at day `origin`.
    fn relift(&self, s: &SeriesView, origin: usize, path: &mut [f64]) {
        for (j, v) in path.iter_mut().enumerate() {
            *v *= Self::factor(s, origin + j, self.promo, &self.event, self.rival, |l| {
                l.lift
            });
        }
    }
}

/// Each event kind's lift for one series whose ordinary days sell `base` a day: the
/// shop-wide one where the pooled model measured it, both for planned event days and to
/// divide past ones by. A series has a handful of event days a year, too few for its own
/// (M5-shaped panel, 12 origins: its own lift, shrunk toward 1 or toward the shop's, did
/// worse on RMSSE, MASE and pinball; Dominick's: dividing a past holiday week by the
/// series' own ratio set a recent week to the year's ordinary mean and cost up to 2.2 %
/// RMSSE; benches/README "Shop events"). Without the pooled model: the series' own ratio,
/// shrunk toward 1 for the forecast as for promotions.
fn event_lifts(s: &SeriesView, base: f64, prior: Option<&[Option<f64>]>) -> Vec<Option<Lift>> {
    let kinds = s.calendar.event_kinds();
    if kinds == 0 {
        return vec![];
    }
    match prior {
        // A kind the shop has not seen (only planned so far) gets no lift.
        Some(p) => (0..kinds)
            .map(|k| {
                p.get(k).copied().flatten().map(|l| Lift {
                    lift: l,
                    history_lift: l,
                })
            })
            .collect(),
        None => {
            let (mut sum, mut count) = (vec![0.0; kinds], vec![0.0; kinds]);
            for (k, i) in event_days(s) {
                sum[k] += s.y[i];
                count[k] += 1.0;
            }
            (0..kinds)
                .map(|k| Lift::of(sum[k], count[k], base))
                .collect()
        }
    }
}

/// (kind, day index) of the usable, promotion-free event days in the last `EVENT_DAYS`:
/// the days an event lift is read from.
fn event_days<'a>(s: &'a SeriesView) -> impl Iterator<Item = (usize, usize)> + 'a {
    let n = s.y.len();
    (n.saturating_sub(EVENT_DAYS)..n)
        .filter_map(|i| Some((s.event_kind(i)?, i)))
        .filter(|&(_, i)| s.usable(i) && !s.promo(i))
}

/// The shop-wide lift of each event kind: over every series' days before `cut(i)`, its
/// event-day demand over what its ordinary days (last year, no promotion, no event) would
/// have sold on them. Event days are read over two years, so that a yearly event (Black
/// Friday moves by up to a week) is seen once. A kind seen on m distinct days keeps
/// m / (m + `EVENT_PSEUDO_DAYS`) of its measured effect: many series measure one Black
/// Friday precisely, but one Black Friday says only so much about the next (Dominick's US
/// holiday weeks did not repeat theirs). None without events; None for a kind without such
/// days.
pub fn pooled_event_lifts(panel: &Panel, cut: &dyn Fn(usize) -> usize) -> Option<Vec<Option<f64>>> {
    if !panel.calendar.has_events() {
        return None;
    }
    let kinds = panel.calendar.event_kinds();
    let (mut num, mut den) = (vec![0.0; kinds], vec![0.0; kinds]);
    let mut seen = vec![std::collections::BTreeSet::new(); kinds];
    for i in 0..panel.series.len() {
        let v = panel.view(i);
        let s = v.truncate(cut(i).min(v.y.len()));
        let n = s.y.len();
        let (mut o_sum, mut o_n) = (0.0, 0.0);
        for i in n.saturating_sub(LIFT_DAYS)..n {
            if s.usable(i) && !s.promo(i) && !s.event(i) {
                o_sum += s.y[i];
                o_n += 1.0;
            }
        }
        if o_sum <= 0.0 {
            continue;
        }
        let base = o_sum / o_n;
        let (mut sum, mut count) = (vec![0.0; kinds], vec![0.0; kinds]);
        for (k, i) in event_days(&s) {
            sum[k] += s.y[i];
            count[k] += 1.0;
            seen[k].insert(s.start + i as crate::ingest::Day);
        }
        for k in 0..kinds {
            num[k] += sum[k];
            den[k] += count[k] * base;
        }
    }
    Some(
        num.iter()
            .zip(&den)
            .zip(&seen)
            .map(|((a, b), m)| {
                (*b > 0.0).then(|| {
                    let l = (a / b).clamp(LIFT_RANGE.0, LIFT_RANGE.1);
                    let m = m.len() as f64;
                    1.0 + (l - 1.0) * m / (m + EVENT_PSEUDO_DAYS)
                })
            })
            .collect(),
    )
}

/// How a promotion's lift moves with the share of the series' rivals on promotion, for the
/// whole shop: over every series with rivals, its promotion days before `cut(i)` (last year,
/// no event), the least-squares slope of the day's excess over the ordinary days within
/// `RIVAL_BASE_DAYS` of it,
/// relative to the series' mean excess, on the rivals' share less its mean over those days.
/// A store's other brands on deal cut a brand's deal lift (Dominick's: +3.15 alone, 2.38
/// less with every rival on deal). None without rivals, or with fewer than
/// `MIN_RIVAL_DAYS` such days; within ±2.
pub fn pooled_rival_slope(panel: &Panel, cut: &dyn Fn(usize) -> usize) -> Option<f64> {
    if !panel.has_promotions() {
        return None;
    }
    let (mut num, mut den, mut uu, mut days) = (0.0, 0.0, 0.0, 0usize);
    // (excess over the local ordinary level, rivals' share, that level) per promotion day.
    let mut pts: Vec<(f64, f64, f64)> = Vec::new();
    let mut sums: Vec<(f64, f64)> = Vec::new();
    for i in 0..panel.series.len() {
        let v = panel.view(i);
        if v.rivals.is_none_or(|g| g.size < 2) {
            continue;
        }
        let s = v.truncate(cut(i).min(v.y.len()));
        let n = s.y.len();
        let lo = n.saturating_sub(LIFT_DAYS + RIVAL_BASE_DAYS);
        // Running sums of the ordinary days (usable, no promotion, no event) from `lo`.
        sums.clear();
        sums.push((0.0, 0.0));
        for t in lo..n {
            let (a, k) = sums[sums.len() - 1];
            let ordinary = s.usable(t) && !s.promo(t) && !s.event(t);
            sums.push(if ordinary {
                (a + s.y[t], k + 1.0)
            } else {
                (a, k)
            });
        }
        pts.clear();
        for t in n.saturating_sub(LIFT_DAYS)..n {
            if !s.usable(t) || s.event(t) || !s.promo(t) {
                continue;
            }
            // The ordinary days around the promotion, not the year's: a season or a trend
            // would otherwise pass for a rival effect wherever rivals' promotions cluster
            // in time (the sample's generated shop: +1.07 from its yearly season alone).
            let (a, b) = (
                t.saturating_sub(RIVAL_BASE_DAYS).max(lo) - lo,
                (t + RIVAL_BASE_DAYS + 1).min(n) - lo,
            );
            let (sum, k) = (sums[b].0 - sums[a].0, sums[b].1 - sums[a].1);
            if k < 3.0 || sum <= 0.0 {
                continue;
            }
            let base = sum / k;
            pts.push((s.y[t] / base - 1.0, s.rival_promo(t), base));
        }
        if pts.len() < 2 {
            continue;
        }
        let k = pts.len() as f64;
        let e_mean = pts.iter().map(|p| p.0).sum::<f64>() / k;
        let r_mean = pts.iter().map(|p| p.1).sum::<f64>() / k;
        for &(e, r, base) in &pts {
            // Counts: a day's variance grows with its level, base · (1 + ē), so a slow
            // mover's relative excess is noisier; each day weighs base / (1 + ē) (Poisson).
            let w = base / (1.0 + e_mean).max(0.1);
            let x = e_mean * (r - r_mean);
            let u = e - e_mean;
            num += w * x * u;
            den += w * x * x;
            uu += w * u * u;
        }
        days += pts.len();
    }
    if days < MIN_RIVAL_DAYS || den <= 0.0 {
        return None;
    }
    // Shrunk by its own precision, t² / (t² + RIVAL_T2): rivals whose promotions barely
    // vary (a few random promotions on a long shelf) say little, and an effect that is not
    // there must not come out of noise (the sample's generated shop has none).
    let slope = num / den;
    let var = ((uu - slope * num) / (days - 1) as f64).max(0.0) / den;
    let t2 = if var > 0.0 {
        slope * slope / var
    } else {
        f64::INFINITY
    };
    let keep = if t2.is_finite() {
        t2 / (t2 + RIVAL_T2)
    } else {
        1.0
    };
    Some((slope * keep).clamp(-2.0, 2.0))
}

/// The shop's rival slope the models carry (the pooled model computes it).
pub fn rival_prior(models: &[Box<dyn Forecaster>]) -> Option<f64> {
    models.iter().find_map(|m| m.rival_slope())
}

/// The shop-wide event lifts the models carry (the pooled model computes them).
pub fn event_prior(models: &[Box<dyn Forecaster>]) -> Option<&[Option<f64>]> {
    models.iter().find_map(|m| m.event_lifts())
}

/// The pooled model reads promotions itself; every other model gets the lifted history.
pub(crate) fn local(m: &dyn Forecaster) -> bool {
    m.name() != "global_ridge"
}

/// `m.predict`, through the lift where the series has one.
pub fn predict(
    m: &dyn Forecaster,
    s: &SeriesView,
    lifted: Option<&Lifted>,
    h: usize,
) -> Result<Vec<f64>, ModelError> {
    match lifted.filter(|_| local(m)) {
        Some(l) => {
            let mut p = m.predict(&l.view(s), h)?;
            l.relift(s, s.y.len(), &mut p);
            Ok(p)
        }
        None => m.predict(s, h),
    }
}

/// `m.predict_origins`, through the lift where the series has one.
pub fn predict_origins(
    m: &dyn Forecaster,
    s: &SeriesView,
    lifted: Option<&Lifted>,
    origins: &[usize],
    h: usize,
) -> Vec<Result<Vec<f64>, ModelError>> {
    match lifted.filter(|_| local(m)) {
        Some(l) => {
            let mut out = m.predict_origins(&l.view(s), origins, h);
            for (r, &o) in out.iter_mut().zip(origins) {
                if let Ok(p) = r {
                    l.relift(s, o, p);
                }
            }
            out
        }
        None => m.predict_origins(s, origins, h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::baseline::MovingAverage;
    use crate::ingest::Day;
    use crate::panel::{from_date, Panel, TradingCalendar};
    use chrono::NaiveDate;

    /// 70 open days at 10 a day, promotion weeks (days 14–20 and 42–48) at 30, and a
    /// planned promotion on days 72–74 (2 and 4 days ahead).
    /// Runs `f` on that series.
    fn with_series(f: impl FnOnce(&SeriesView)) {
        let (y, c, cal, promos) = series();
        f(&SeriesView {
            start: cal.start,
            y: &y,
            censored: &c,
            calendar: &cal,
            prices: None,
            promos: &promos,
            rivals: None,
        })
    }

    type Fixture = (Vec<f64>, Vec<bool>, TradingCalendar, Vec<(Day, Day)>);

    fn series() -> Fixture {
        let start = from_date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let promos = vec![
            (start + 14, start + 20),
            (start + 42, start + 48),
            (start + 72, start + 74),
        ];
        let y = (0..70)
            .map(|i| {
                if (14..=20).contains(&i) || (42..=48).contains(&i) {
                    30.0
                } else {
                    10.0
                }
            })
            .collect();
        let cal = TradingCalendar::with_weekdays(start, start + 69, vec![]);
        (y, vec![false; 70], cal, promos)
    }

    #[test]
    fn history_loses_its_whole_lift_and_planned_promotions_get_a_shrunk_one() {
        with_series(|s| {
            let l = Lifted::of(s, None, None).unwrap();
            assert!(l.event.is_empty());
            let p = l.promo.unwrap();
            // 14 promotion days at 3× the ordinary 10: the history is divided by 3, so its
            // promotion days are ordinary days again.
            assert!((p.history_lift - 3.0).abs() < 1e-12, "{}", p.history_lift);
            assert!((l.y[15] - 10.0).abs() < 1e-12, "{}", l.y[15]);
            assert_eq!(l.y[30], 10.0);
            // Forecast lift: plus 14 pseudo-days at 1×, (420 + 140) / (28 · 10) = 2.
            assert!((p.lift - 2.0).abs() < 1e-12, "{}", p.lift);
            // Without a calendar, nothing changes.
            assert!(Lifted::of(&SeriesView { promos: &[], ..*s }, None, None).is_none());
        })
    }

    /// Two series, 800 open days: A sells 10 a day, B 2. Kind "sale" on days 100 and 465:
    /// A sells 30 on them, B 2. Kind "gala" is only planned (day 805); "sale" is planned
    /// on day 802.
    fn event_panel() -> Panel {
        let y = |base: f64, on: f64| -> Vec<f64> {
            (0..800)
                .map(|t| if t == 100 || t == 465 { on } else { base })
                .collect()
        };
        let mut p = Panel::from_plain(vec![
            (0, y(10.0, 30.0), vec![false; 800], vec![false; 800]),
            (0, y(2.0, 2.0), vec![false; 800], vec![false; 800]),
        ]);
        let d = |t: i32| crate::panel::to_date(t);
        p.calendar.set_events(&[
            ("gala".to_string(), vec![d(805)]),
            ("sale".to_string(), vec![d(100), d(465), d(802)]),
        ]);
        p
    }

    #[test]
    fn shop_wide_event_lift_keeps_what_its_occurrences_support() {
        let p = event_panel();
        // Sale days sold 30 + 30 + 2 + 2 = 64 where ordinary days would have sold 24:
        // 8/3, of which two occurrences keep 2/3 of the effect: 1 + (5/3)(2/3) = 19/9.
        let all = pooled_event_lifts(&p, &|i| p.series[i].len).unwrap();
        assert_eq!(all[0], None, "gala was never seen");
        assert!((all[1].unwrap() - 19.0 / 9.0).abs() < 1e-12, "{all:?}");
        // Cut at day 300: only day 100 is seen, so half the effect: 1 + (5/3)/2 = 11/6.
        let early = pooled_event_lifts(&p, &|_| 300).unwrap();
        assert!((early[1].unwrap() - 11.0 / 6.0).abs() < 1e-12, "{early:?}");
        // No events: nothing to measure.
        let plain = Panel::from_plain(vec![(0, vec![1.0; 30], vec![false; 30], vec![false; 30])]);
        assert!(pooled_event_lifts(&plain, &|_| 30).is_none());
    }

    #[test]
    fn local_models_take_past_events_out_and_put_the_shop_wide_lift_on_planned_ones() {
        let p = event_panel();
        let s = p.view(0);
        let lifts = pooled_event_lifts(&p, &|i| p.series[i].len).unwrap();
        let l = Lifted::of(&s, Some(&lifts), None).unwrap();
        let sale = 19.0 / 9.0;
        assert!(l.promo.is_none() && l.event[0].is_none());
        // Past sale days are divided by the shop-wide lift; planned ones multiplied by it.
        assert!((l.y[465] - 30.0 / sale).abs() < 1e-9, "{}", l.y[465]);
        assert_eq!(l.y[464], 10.0);
        let ma = MovingAverage::new(28);
        let f = predict(&ma, &s, Some(&l), 3).unwrap();
        assert!(
            (f[0] - 10.0).abs() < 1e-9 && (f[2] - 10.0 * sale).abs() < 1e-9,
            "{f:?}"
        );
        assert!((l.next_event_lift(&s, 28).unwrap() - sale).abs() < 1e-12);
        assert_eq!(
            l.next_event_lift(&s, 2),
            None,
            "no event in the first 2 days"
        );
        // Without the pooled model: the series' own ratio (3) takes the history back to 10,
        // and the forecast lift is shrunk toward 1 like a promotion's: (60 + 140) / 160.
        let own = Lifted::of(&s, None, None).unwrap();
        let e = own.event[1].unwrap();
        assert!(
            (e.history_lift - 3.0).abs() < 1e-12 && (e.lift - 1.25).abs() < 1e-12,
            "{e:?}"
        );
        assert!((own.y[100] - 10.0).abs() < 1e-9);
    }

    #[test]
    fn local_models_forecast_the_ordinary_level_and_lift_planned_promotions() {
        with_series(|s| {
            let l = Lifted::of(s, None, None);
            let ma = MovingAverage::new(28);
            // Plain: the last 28 days hold one promotion week, so every day gets 15.
            let plain = ma.predict(s, 6).unwrap();
            assert!(plain.iter().all(|v| (v - 15.0).abs() < 1e-9), "{plain:?}");
            // Lifted: the promotion week in the window is back at the ordinary 10, so the
            // level is 10, times the forecast lift 2 on the planned promotion days 72–74.
            let p = predict(&ma, s, l.as_ref(), 6).unwrap();
            let want = [10.0, 10.0, 20.0, 20.0, 20.0, 10.0];
            for (a, b) in p.iter().zip(want) {
                assert!((a - b).abs() < 1e-9, "{p:?}");
            }
            // CV paths get the lift on their own promotion days (origin 42: days 42–48).
            let o = predict_origins(&ma, s, l.as_ref(), &[42], 7);
            let path = o[0].as_ref().unwrap();
            let base = ma
                .predict(&l.as_ref().unwrap().view(s).truncate(42), 1)
                .unwrap()[0];
            assert!(
                path.iter().all(|v| (v - 2.0 * base).abs() < 1e-9),
                "{path:?}"
            );
        })
    }

    /// 30 series on one shelf, each with a promotion week every 60 days at its own phase
    /// (planned ones too). `excess(r)`: what a promotion day adds over the ordinary 10 units
    /// when a share r of the rivals is on promotion.
    fn shelf(excess: impl Fn(f64) -> f64) -> Panel {
        let days = 600usize;
        let promos: Vec<Vec<(i32, i32)>> = (0..30)
            .map(|k| {
                (0..11)
                    .map(|w| {
                        let a = w * 60 + (k * 7) % 60 + (k / 10) * 3;
                        (a, a + 6)
                    })
                    .collect()
            })
            .collect();
        let blank: Vec<crate::panel::PlainSeries> = (0..30)
            .map(|_| (0, vec![0.0; days], vec![false; days], vec![false; days]))
            .collect();
        let layout = Panel::from_plain(blank.clone())
            .with_promotions(promos.clone())
            .unwrap();
        let plain = (0..30)
            .map(|k| {
                let v = layout.view(k);
                let y = (0..days)
                    .map(|t| {
                        if v.promo(t) {
                            10.0 * (1.0 + excess(v.rival_promo(t)))
                        } else {
                            10.0
                        }
                    })
                    .collect();
                (0, y, vec![false; days], vec![false; days])
            })
            .collect();
        Panel::from_plain(plain).with_promotions(promos).unwrap()
    }

    /// The shop's rival slope: the least-squares slope of a promotion day's excess on the
    /// rivals' share, relative to the series' mean excess; none where rivals do nothing.
    #[test]
    fn rival_slope_measures_how_rivals_cut_a_promotion() {
        let all = |p: &Panel| -> Box<dyn Fn(usize) -> usize> {
            let lens: Vec<usize> = p.series.iter().map(|m| m.len).collect();
            Box::new(move |i| lens[i])
        };
        // Excess 3 alone, 2.4 less with every rival on promotion.
        let cut = shelf(|r| 3.0 - 2.4 * r);
        let slope = pooled_rival_slope(&cut, &*all(&cut)).unwrap();
        // −2.4 over each series' mean excess (3 − 2.4 × its mean share).
        let v = cut.view(0);
        let r_mean = (0..600)
            .filter(|&t| v.promo(t))
            .map(|t| v.rival_promo(t))
            .sum::<f64>()
            / (0..600).filter(|&t| v.promo(t)).count() as f64;
        let expected = -2.4 / (3.0 - 2.4 * r_mean);
        assert!(
            r_mean > 0.05 && (slope - expected).abs() < 0.05,
            "{slope} vs {expected}"
        );
        let flat = shelf(|_| 2.0);
        assert_eq!(pooled_rival_slope(&flat, &*all(&flat)), Some(0.0));
        let alone = Panel::from_plain(vec![(0, vec![1.0; 50], vec![false; 50], vec![false; 50])]);
        assert_eq!(pooled_rival_slope(&alone, &|_| 50), None);
        // The per-series lift follows it: of two planned promotion days, the one with more
        // rivals on promotion is forecast lower, by the measured amount.
        let spread = |s: &SeriesView| {
            let planned: Vec<usize> = (600..700).filter(|&t| s.promo(t)).collect();
            let (lo, hi) = planned.iter().fold((f64::MAX, f64::MIN), |(a, b), &t| {
                (a.min(s.rival_promo(t)), b.max(s.rival_promo(t)))
            });
            (planned, lo, hi)
        };
        let k = (0..30)
            .max_by(|&a, &b| {
                let (sa, sb) = (spread(&cut.view(a)), spread(&cut.view(b)));
                (sa.2 - sa.1).total_cmp(&(sb.2 - sb.1)).then(b.cmp(&a))
            })
            .unwrap();
        let s = cut.view(k);
        let l = Lifted::of(&s, None, Some(slope)).unwrap();
        let (planned, lo, hi) = spread(&s);
        assert!(hi > lo, "planned days with different rival shares");
        let at = |share: f64| {
            let t = *planned
                .iter()
                .find(|&&t| s.rival_promo(t) == share)
                .unwrap();
            Lifted::factor(&s, t, l.promo, &l.event, l.rival, |x| x.lift)
        };
        let (f_lo, f_hi) = (at(lo), at(hi));
        assert!(f_hi < f_lo, "{f_hi} vs {f_lo}");
        let plain = Lifted::of(&s, None, None).unwrap();
        let t = planned[0];
        let f_plain = Lifted::factor(&s, t, plain.promo, &plain.event, plain.rival, |x| x.lift);
        let excess = (f_plain - 1.0) * (1.0 + slope * (s.rival_promo(t) - l.rival.1));
        let f_t = Lifted::factor(&s, t, l.promo, &l.event, l.rival, |x| x.lift);
        assert!((f_t - 1.0 - excess).abs() < 1e-12);
    }
}
