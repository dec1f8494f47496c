//! Promotions for the per-series models.
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

use super::{Forecaster, ModelError};
use crate::panel::SeriesView;

/// Promotion days at no lift that every forecast lift starts from.
const PSEUDO_DAYS: f64 = 14.0;
/// Days of history the lift is estimated from.
const LIFT_DAYS: usize = 364;
/// Bounds of a lift: a calendar that marks nearly every day, or none that sold, is not
/// allowed to blow a level up or down by more.
const LIFT_RANGE: (f64, f64) = (0.25, 10.0);

/// A series' promotion lift and its history with promotion days divided by their plain
/// ratio to the ordinary days.
pub struct Lifted {
    /// What planned promotion days are multiplied by (shrunk toward 1).
    pub lift: f64,
    /// What the history's promotion days were divided by (the plain ratio).
    pub history_lift: f64,
    y: Vec<f64>,
}

impl Lifted {
    /// None without a promotion day in the last year, or without ordinary days that sold.
    pub fn of(s: &SeriesView) -> Option<Lifted> {
        if s.promos.is_empty() {
            return None;
        }
        let n = s.y.len();
        let (mut p_sum, mut p_n, mut o_sum, mut o_n) = (0.0, 0.0, 0.0, 0.0);
        for i in n.saturating_sub(LIFT_DAYS)..n {
            if !s.usable(i) {
                continue;
            }
            if s.promo(i) {
                p_sum += s.y[i];
                p_n += 1.0;
            } else {
                o_sum += s.y[i];
                o_n += 1.0;
            }
        }
        if p_n == 0.0 || o_n == 0.0 || o_sum <= 0.0 {
            return None;
        }
        let base = o_sum / o_n;
        let lift = ((p_sum + PSEUDO_DAYS * base) / ((p_n + PSEUDO_DAYS) * base))
            .clamp(LIFT_RANGE.0, LIFT_RANGE.1);
        let history_lift = (p_sum / (p_n * base)).clamp(LIFT_RANGE.0, LIFT_RANGE.1);
        let y = (0..n)
            .map(|i| {
                if s.promo(i) {
                    s.y[i] / history_lift
                } else {
                    s.y[i]
                }
            })
            .collect();
        Some(Lifted {
            lift,
            history_lift,
            y,
        })
    }

    fn view<'a>(&'a self, s: &SeriesView<'a>) -> SeriesView<'a> {
        SeriesView { y: &self.y, ..*s }
    }

    /// Puts the lift back on the promotion days of a path that starts at day `origin`.
    fn relift(&self, s: &SeriesView, origin: usize, path: &mut [f64]) {
        for (j, v) in path.iter_mut().enumerate() {
            if s.promo(origin + j) {
                *v *= self.lift;
            }
        }
    }
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
    use crate::panel::{from_date, TradingCalendar};
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
            let l = Lifted::of(s).unwrap();
            // 14 promotion days at 3× the ordinary 10: the history is divided by 3, so its
            // promotion days are ordinary days again.
            assert!((l.history_lift - 3.0).abs() < 1e-12, "{}", l.history_lift);
            assert!((l.y[15] - 10.0).abs() < 1e-12, "{}", l.y[15]);
            assert_eq!(l.y[30], 10.0);
            // Forecast lift: plus 14 pseudo-days at 1×, (420 + 140) / (28 · 10) = 2.
            assert!((l.lift - 2.0).abs() < 1e-12, "{}", l.lift);
            // Without a calendar, nothing changes.
            assert!(Lifted::of(&SeriesView { promos: &[], ..*s }).is_none());
        })
    }

    #[test]
    fn local_models_forecast_the_ordinary_level_and_lift_planned_promotions() {
        with_series(|s| {
            let l = Lifted::of(s);
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
}
