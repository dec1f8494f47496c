//! Last year's move for the per-series models. They carry the level of the recent weeks
//! into the horizon; a seasonal item's demand moves with the year (garden goods fall in
//! autumn, gifts rise before Christmas), and a year of history or two cannot teach any of
//! them a 364-day season. So each local candidate is cross-validated twice, as it is and
//! times the move from the recent weeks to the horizon as it was one year earlier; the
//! moved variant is the candidate where it scores better by a margin. The pooled
//! `global_ridge` gets the same choice: it has last year's move among its features, but
//! learns their weight from a few recent months of the whole panel; letting it take the
//! move too lowered the sample's RMSSE by another 0.7 % (benches/README).

use crate::panel::SeriesView;

/// One year back, in days: 52 weeks keep the weekday.
pub const YEAR: usize = 364;
/// The recent weeks whose level a local model carries forward.
pub const RECENT: usize = 28;
/// Pseudo-units on both sides of the ratio: thin evidence (a slow item, a few sales last
/// year) pulls the move toward 1 instead of swinging it.
const PSEUDO_UNITS: f64 = 10.0;
/// Counted days each side needs: a shop open one day a week (Dominick's) has four in 28
/// days, too few for a ratio, and keeps its models as they are.
const MIN_DAYS: usize = 14;
/// How much better the moved variant must score to be taken: with a choice of two, the
/// better CV score alone would take the move on noise about half the time (on the
/// M5-shaped panel, whose seasons are weak against its noise, that cost accuracy).
pub const MARGIN: f64 = 0.02;

/// The factor from the mean of the `RECENT` days before origin `o` to the mean of the
/// `len` days from `o` on, both one year earlier. Only open, uncensored days without a
/// promotion count (promotions are lifted separately). None without a year of history
/// before the recent weeks or without such days on either side.
pub fn move_at(s: &SeriesView, o: usize, len: usize) -> Option<f64> {
    let ly = o.checked_sub(YEAR + RECENT)? + RECENT;
    let mean = |a: usize, b: usize| {
        let (mut sum, mut k) = (0.0, 0usize);
        for t in a..b.min(s.y.len()) {
            if s.usable(t) && !s.promo(t) {
                sum += s.y[t];
                k += 1;
            }
        }
        (k >= MIN_DAYS).then(|| sum / k as f64)
    };
    let before = mean(ly - RECENT, ly)?;
    let after = mean(ly, ly + len.min(YEAR))?;
    let days = RECENT as f64;
    Some((after * days + PSEUDO_UNITS) / (before * days + PSEUDO_UNITS))
}

/// `pred` times the move at its origin, where there is one.
pub fn apply(pred: &mut [f64], factor: Option<f64>) {
    if let Some(f) = factor {
        for v in pred {
            *v *= f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::{from_date, TradingCalendar};
    use chrono::NaiveDate;

    fn with(y: &[f64], f: impl FnOnce(&SeriesView)) {
        let start = from_date(NaiveDate::from_ymd_opt(2023, 1, 2).unwrap());
        let cal = TradingCalendar::with_weekdays(start, start + y.len() as i32 - 1, vec![]);
        let c = vec![false; y.len()];
        f(&SeriesView {
            start,
            y,
            censored: &c,
            calendar: &cal,
            prices: None,
            promos: &[],
            rivals: None,
        })
    }

    #[test]
    fn move_is_last_years_ratio_shrunk_by_pseudo_units() {
        // Last year: 20 a day in the 28 days before the origin's date, 10 a day after.
        let n = YEAR + 100;
        let o = YEAR + 50;
        let y: Vec<f64> = (0..n)
            .map(|t| if t + YEAR < o { 20.0 } else { 10.0 })
            .collect();
        with(&y, |s| {
            let m = move_at(s, o, 28).unwrap();
            let want = (10.0 * 28.0 + PSEUDO_UNITS) / (20.0 * 28.0 + PSEUDO_UNITS);
            assert!((m - want).abs() < 1e-12, "{m} vs {want}");
            // Too little history: no move.
            assert_eq!(move_at(s, YEAR + RECENT - 1, 28), None);
        });
    }

    #[test]
    fn slow_items_move_little() {
        // One sale last year before the origin's date, none after: 1/28 a day vs 0.
        let n = YEAR + 100;
        let o = YEAR + 60;
        let mut y = vec![0.0; n];
        y[o - YEAR - 5] = 1.0;
        with(&y, |s| {
            let m = move_at(s, o, 28).unwrap();
            assert!(
                (m - PSEUDO_UNITS / (1.0 + PSEUDO_UNITS)).abs() < 1e-12,
                "{m}"
            );
        });
    }
}
