//! Demand classes (Syntetos–Boylan–Croston): the average inter-demand interval (ADI) and
//! the squared coefficient of variation of the non-zero sizes (CV²) split items into
//! smooth, erratic, intermittent and lumpy; items too young to judge are "new", items that
//! stopped selling are "dead". Classes pick the candidate models and are reported.

use serde::Serialize;

use super::models::trading_values;
use crate::panel::SeriesView;

/// Cut-offs from Syntetos, Boylan & Croston (2005).
pub const ADI_CUT: f64 = 1.32;
pub const CV2_CUT: f64 = 0.49;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DemandClass {
    Smooth,
    Erratic,
    Intermittent,
    Lumpy,
    New,
    Dead,
}

impl DemandClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            DemandClass::Smooth => "smooth",
            DemandClass::Erratic => "erratic",
            DemandClass::Intermittent => "intermittent",
            DemandClass::Lumpy => "lumpy",
            DemandClass::New => "new",
            DemandClass::Dead => "dead",
        }
    }
    pub const ALL: [DemandClass; 6] = [
        DemandClass::Smooth,
        DemandClass::Erratic,
        DemandClass::Intermittent,
        DemandClass::Lumpy,
        DemandClass::New,
        DemandClass::Dead,
    ];
    /// Count-type demand, where a fitted count distribution beats residual quantiles.
    pub fn is_intermittent(&self) -> bool {
        matches!(self, DemandClass::Intermittent | DemandClass::Lumpy)
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClassInfo {
    pub class: DemandClass,
    /// Trading days per non-zero demand (NaN without demand).
    pub adi: f64,
    pub cv2: f64,
    pub trading_days: usize,
}

/// Classifies on the last `window` trading days (all history if shorter).
pub fn classify(s: &SeriesView, window: usize, new_days: usize, dead_days: usize) -> ClassInfo {
    let y = trading_values(s);
    let n = y.len();
    let recent = &y[n.saturating_sub(window)..];
    let sizes: Vec<f64> = recent.iter().copied().filter(|v| *v > 0.0).collect();
    let adi = if sizes.is_empty() {
        f64::NAN
    } else {
        recent.len() as f64 / sizes.len() as f64
    };
    let cv2 = if sizes.len() >= 2 {
        let m = sizes.iter().sum::<f64>() / sizes.len() as f64;
        let var = sizes.iter().map(|v| (v - m).powi(2)).sum::<f64>() / sizes.len() as f64;
        var / (m * m)
    } else {
        0.0
    };
    // Days since the last sale, on the calendar (a closed week is still time passing).
    let since_last = s.y.iter().rev().take_while(|v| **v <= 0.0).count();
    let class = if s.y.len() < new_days {
        DemandClass::New
    } else if since_last >= dead_days || sizes.is_empty() {
        DemandClass::Dead
    } else {
        match (adi >= ADI_CUT, cv2 >= CV2_CUT) {
            (false, false) => DemandClass::Smooth,
            (false, true) => DemandClass::Erratic,
            (true, false) => DemandClass::Intermittent,
            (true, true) => DemandClass::Lumpy,
        }
    };
    ClassInfo {
        class,
        adi,
        cv2,
        trading_days: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::{from_date, TradingCalendar};
    use chrono::NaiveDate;

    fn run(y: &[f64]) -> ClassInfo {
        let start = from_date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let cal = TradingCalendar::with_weekdays(start, start + y.len() as i32 - 1, vec![]);
        let c = vec![false; y.len()];
        let s = SeriesView {
            start,
            y,
            censored: &c,
            calendar: &cal,
            prices: None,
            promos: &[],
            rivals: None,
        };
        classify(&s, 365, 56, 182)
    }

    #[test]
    fn four_quadrants_new_and_dead() {
        let smooth: Vec<f64> = (0..100).map(|i| 5.0 + (i % 3) as f64).collect();
        assert_eq!(run(&smooth).class, DemandClass::Smooth);
        let erratic: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 1.0 } else { 20.0 })
            .collect();
        assert_eq!(run(&erratic).class, DemandClass::Erratic);
        let inter: Vec<f64> = (0..100)
            .map(|i| if i % 4 == 0 { 2.0 } else { 0.0 })
            .collect();
        let ci = run(&inter);
        assert_eq!(ci.class, DemandClass::Intermittent);
        assert!((ci.adi - 4.0).abs() < 1e-12);
        let lumpy: Vec<f64> = (0..100)
            .map(|i| match i % 8 {
                0 => 1.0,
                4 => 30.0,
                _ => 0.0,
            })
            .collect();
        assert_eq!(run(&lumpy).class, DemandClass::Lumpy);
        assert_eq!(run(&smooth[..30]).class, DemandClass::New);
        let mut dead = smooth.clone();
        dead.extend(std::iter::repeat_n(0.0, 200));
        assert_eq!(run(&dead).class, DemandClass::Dead);
    }
}
