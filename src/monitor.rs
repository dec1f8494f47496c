//! Run history and health: every run appends a row to `<out>/runs.parquet`, the previous
//! run's forecasts are scored against the actuals that have arrived since, and
//! `restock status` turns the history into alerts with Nagios-style exit codes.
//!
//! This module reads two files of our own making (the previous run's `forecasts.parquet`
//! and `runs.parquet`); input files are still read only by `ingest`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::OutputError;
use crate::export::table::{ColData, OutTable};
use crate::ingest::{Dataset, Table};
use crate::panel::Panel;

/// Accuracy of the previous run's forecasts on the days that have happened since.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    pub prev_run_id: Option<String>,
    pub points: usize,
    pub mae: Option<f64>,
    pub bias: Option<f64>,
    /// Share of actuals inside the previous run's p05–p95 band (nominal 0.90).
    pub coverage90: Option<f64>,
    /// MAE per demand class of the previous run (from its `forecast_models.parquet`), in
    /// the order of [`CLASSES`].
    pub mae_by_class: [Option<f64>; 6],
    pub points_by_class: [usize; 6],
}

/// Demand classes tracked in the run history (drift per class).
pub const CLASSES: [&str; 6] = ["smooth", "erratic", "intermittent", "lumpy", "new", "dead"];

/// (sku, location) → class index, from a run folder's `forecast_models.parquet`.
fn classes_of(dir: &Path) -> std::collections::HashMap<(String, String), usize> {
    let mut m = std::collections::HashMap::new();
    let Ok(t) = Table::read("previous models", &dir.join("forecast_models.parquet")) else {
        return m;
    };
    let cols = (|| {
        Some((
            t.strings("sku", "sku", true).ok()??,
            t.strings("location", "location", true).ok()??,
            t.strings("class", "class", true).ok()??,
        ))
    })();
    if let Some((s, l, c)) = cols {
        for i in 0..t.rows {
            if let (Some(s), Some(l), Some(c)) = (&s[i], &l[i], &c[i]) {
                if let Some(k) = CLASSES.iter().position(|x| x == c) {
                    m.insert((s.clone(), l.clone()), k);
                }
            }
        }
    }
    m
}

/// Scores `<out>/latest/forecasts.parquet` (the previous run) against the current panel.
pub fn score_previous(out: &Path, ds: &Dataset, panel: &Panel) -> Drift {
    let latest = out.join("latest");
    let Ok(target) = std::fs::read_link(&latest) else {
        return Drift::default();
    };
    let Ok(t) = Table::read("previous forecasts", &latest.join("forecasts.parquet")) else {
        return Drift::default();
    };
    let cols = (|| {
        Some((
            t.strings("sku", "sku", true).ok()??,
            t.strings("location", "location", true).ok()??,
            t.datetimes("date", "date", true).ok()??,
            t.f64s("mean", "mean", true).ok()??,
            t.f64s("p05", "p05", true).ok()??,
            t.f64s("p95", "p95", true).ok()??,
        ))
    })();
    let Some((sku, loc, date, mean, p05, p95)) = cols else {
        return Drift::default();
    };
    let index = panel.index();
    let classes = classes_of(&latest);
    let (mut n, mut abs, mut bias, mut inside) = (0usize, 0.0, 0.0, 0usize);
    let (mut cn, mut cabs) = ([0usize; 6], [0.0f64; 6]);
    for r in 0..t.rows {
        let (Some(s), Some(l), Some(d), Some(m)) = (&sku[r], &loc[r], date[r], mean[r]) else {
            continue;
        };
        let day = crate::ingest::day_of(d);
        if day > panel.as_of || panel.calendar.is_closed(day) {
            continue;
        }
        let key = ds.skus.get(s).zip(ds.locs.get(l));
        let actual = match key.and_then(|k| index.get(&k)) {
            Some(&i) => {
                let v = panel.view(i);
                let j = day - v.start;
                if j < 0 {
                    0.0
                } else if v.censored[j as usize] {
                    continue; // an empty shelf says nothing about demand
                } else {
                    v.y[j as usize]
                }
            }
            None => 0.0,
        };
        n += 1;
        abs += (m - actual).abs();
        if let Some(&k) = classes.get(&(s.clone(), l.clone())) {
            cn[k] += 1;
            cabs[k] += (m - actual).abs();
        }
        bias += m - actual;
        if p05[r].is_some_and(|lo| actual >= lo) && p95[r].is_some_and(|hi| actual <= hi) {
            inside += 1;
        }
    }
    let nf = n.max(1) as f64;
    Drift {
        prev_run_id: Some(target.to_string_lossy().into_owned()),
        points: n,
        mae: (n > 0).then(|| abs / nf),
        bias: (n > 0).then(|| bias / nf),
        coverage90: (n > 0).then(|| inside as f64 / nf),
        mae_by_class: std::array::from_fn(|k| (cn[k] > 0).then(|| cabs[k] / cn[k] as f64)),
        points_by_class: cn,
    }
}

/// One row of `runs.parquet`.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub as_of: i32,
    pub finished_at: String,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub series: i64,
    pub proposals: i64,
    pub held_for_review: i64,
    pub rejects: i64,
    pub reject_share: f64,
    pub fallbacks: i64,
    pub model_failures: i64,
    pub defaults_used: i64,
    pub cost: f64,
    pub drift: Drift,
}

const COLS: [&str; 19] = [
    "run_id",
    "as_of",
    "finished_at",
    "wall_seconds",
    "cpu_seconds",
    "series",
    "proposals",
    "held_for_review",
    "rejects",
    "reject_share",
    "fallbacks",
    "model_failures",
    "defaults_used",
    "cost",
    "prev_run_id",
    "prev_points",
    "prev_mae",
    "prev_bias",
    "prev_coverage90",
];

fn read_history(path: &Path) -> Vec<RunRecord> {
    let Ok(t) = Table::read("run history", path) else {
        return vec![];
    };
    let s = |c: &str| t.strings(c, "x", true).ok().flatten().unwrap_or_default();
    let f = |c: &str| t.f64s(c, "x", true).ok().flatten().unwrap_or_default();
    let d = |c: &str| t.datetimes(c, "x", true).ok().flatten().unwrap_or_default();
    let (id, asof, fin, wall, cpu) = (s(COLS[0]), d(COLS[1]), s(COLS[2]), f(COLS[3]), f(COLS[4]));
    let ints: Vec<Vec<Option<f64>>> = COLS[5..14].iter().map(|c| f(c)).collect();
    let (pid, pp, pm, pb, pc) = (
        s(COLS[14]),
        f(COLS[15]),
        f(COLS[16]),
        f(COLS[17]),
        f(COLS[18]),
    );
    // Per-class columns came later: older histories simply lack them.
    type Col = Vec<Option<f64>>;
    let by_class: Vec<(Col, Col)> = CLASSES
        .iter()
        .map(|c| (f(&format!("prev_mae_{c}")), f(&format!("prev_points_{c}"))))
        .collect();
    if id.len() != t.rows || ints.iter().any(|v| v.len() != t.rows) {
        return vec![];
    }
    (0..t.rows)
        .map(|i| {
            let g = |k: usize| ints[k][i].unwrap_or(0.0);
            RunRecord {
                run_id: id[i].clone().unwrap_or_default(),
                as_of: asof[i].map(crate::ingest::day_of).unwrap_or(0),
                finished_at: fin[i].clone().unwrap_or_default(),
                wall_seconds: wall[i].unwrap_or(0.0),
                cpu_seconds: cpu[i].unwrap_or(0.0),
                series: g(0) as i64,
                proposals: g(1) as i64,
                held_for_review: g(2) as i64,
                rejects: g(3) as i64,
                reject_share: g(4),
                fallbacks: g(5) as i64,
                model_failures: g(6) as i64,
                defaults_used: g(7) as i64,
                cost: g(8),
                drift: Drift {
                    prev_run_id: pid.get(i).cloned().flatten(),
                    points: pp.get(i).copied().flatten().unwrap_or(0.0) as usize,
                    mae: pm.get(i).copied().flatten(),
                    bias: pb.get(i).copied().flatten(),
                    coverage90: pc.get(i).copied().flatten(),
                    mae_by_class: std::array::from_fn(|k| by_class[k].0.get(i).copied().flatten()),
                    points_by_class: std::array::from_fn(|k| {
                        by_class[k].1.get(i).copied().flatten().unwrap_or(0.0) as usize
                    }),
                },
            }
        })
        .collect()
}

/// Appends `rec` to `<out>/runs.parquet` (rewritten to a temp file, then renamed).
pub fn append(out: &Path, rec: RunRecord) -> Result<(), OutputError> {
    let path = out.join("runs.parquet");
    let mut rows = read_history(&path);
    rows.push(rec);
    let mut t = OutTable::default();
    let str_col =
        |f: &dyn Fn(&RunRecord) -> Option<String>| ColData::Str(rows.iter().map(f).collect());
    let num = |f: &dyn Fn(&RunRecord) -> Option<f64>| ColData::F64(rows.iter().map(f).collect());
    let int =
        |f: &dyn Fn(&RunRecord) -> i64| ColData::I64(rows.iter().map(|r| Some(f(r))).collect());
    t.push(COLS[0], str_col(&|r| Some(r.run_id.clone())))
        .push(
            COLS[1],
            ColData::Date(rows.iter().map(|r| Some(r.as_of)).collect()),
        )
        .push(COLS[2], str_col(&|r| Some(r.finished_at.clone())))
        .push(COLS[3], num(&|r| Some(r.wall_seconds)))
        .push(COLS[4], num(&|r| Some(r.cpu_seconds)))
        .push(COLS[5], int(&|r| r.series))
        .push(COLS[6], int(&|r| r.proposals))
        .push(COLS[7], int(&|r| r.held_for_review))
        .push(COLS[8], int(&|r| r.rejects))
        .push(COLS[9], num(&|r| Some(r.reject_share)))
        .push(COLS[10], int(&|r| r.fallbacks))
        .push(COLS[11], int(&|r| r.model_failures))
        .push(COLS[12], int(&|r| r.defaults_used))
        .push(COLS[13], num(&|r| Some(r.cost)))
        .push(COLS[14], str_col(&|r| r.drift.prev_run_id.clone()))
        .push(COLS[15], int(&|r| r.drift.points as i64))
        .push(COLS[16], num(&|r| r.drift.mae))
        .push(COLS[17], num(&|r| r.drift.bias))
        .push(COLS[18], num(&|r| r.drift.coverage90));
    for (k, c) in CLASSES.iter().enumerate() {
        t.push(format!("prev_mae_{c}"), num(&|r| r.drift.mae_by_class[k]));
        t.push(
            format!("prev_points_{c}"),
            int(&|r| r.drift.points_by_class[k] as i64),
        );
    }
    let tmp = out.join(format!(".runs.parquet.tmp-{}", std::process::id()));
    t.write_parquet(&tmp)?;
    std::fs::rename(&tmp, &path).map_err(|source| OutputError::Io { path, source })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

/// Alerts from the history; the exit code is the worst level (Nagios: 0 OK, 1 WARNING,
/// 2 CRITICAL, 3 UNKNOWN).
pub fn status(out: &Path, now: DateTime<Utc>, max_age_hours: f64) -> (Level, String) {
    status_of(
        out,
        &out.join("runs.parquet").display().to_string(),
        now,
        max_age_hours,
    )
}

/// [`status`] of a history read from `out`, named `shown` in messages (the URL of a
/// remote `out` whose history was copied to `out`).
pub fn status_of(
    out: &Path,
    shown: &str,
    now: DateTime<Utc>,
    max_age_hours: f64,
) -> (Level, String) {
    let rows = read_history(&out.join("runs.parquet"));
    let Some(last) = rows.last() else {
        return (
            Level::Unknown,
            format!("UNKNOWN: no run history in {shown}\n"),
        );
    };
    let mut s = String::from("RUN ID                              AS OF       WALL s  PROPOSALS  REJECT%  FALLBACKS  PREV MAE  PREV COV90\n");
    for r in rows.iter().rev().take(10).rev() {
        s += &format!(
            "{:<35} {:<11} {:>6.1} {:>10} {:>8.2} {:>10} {:>9} {:>11}\n",
            r.run_id,
            crate::panel::to_date(r.as_of),
            r.wall_seconds,
            r.proposals,
            r.reject_share * 100.0,
            r.fallbacks,
            r.drift
                .mae
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "-".into()),
            r.drift
                .coverage90
                .map(|v| format!("{:.1}%", v * 100.0))
                .unwrap_or_else(|| "-".into()),
        );
    }
    let mut alerts: Vec<(Level, String)> = Vec::new();
    match DateTime::parse_from_rfc3339(&last.finished_at) {
        Ok(t) => {
            let age = (now - t.with_timezone(&Utc)).num_milliseconds() as f64 / 3_600_000.0;
            if age > max_age_hours {
                alerts.push((
                    Level::Critical,
                    format!("last run finished {age:.1} h ago (limit {max_age_hours} h)"),
                ));
            }
        }
        Err(_) => alerts.push((
            Level::Unknown,
            "last run has no readable finish time".into(),
        )),
    }
    let prev: Vec<&RunRecord> = rows.iter().rev().skip(1).take(14).collect();
    if let Some(p) = prev.first() {
        if last.as_of <= p.as_of {
            alerts.push((
                Level::Warning,
                format!(
                    "data stale: as-of {} did not advance since the previous run",
                    crate::panel::to_date(last.as_of)
                ),
            ));
        }
    }
    if last.series > 0 && last.model_failures as f64 > 0.05 * last.series as f64 {
        alerts.push((
            Level::Warning,
            format!(
                "{} of {} series fell back after a model failure",
                last.model_failures, last.series
            ),
        ));
    }
    let median = |mut v: Vec<f64>| -> Option<f64> {
        if v.len() < 3 {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    };
    if let Some(m) = median(prev.iter().map(|r| r.wall_seconds).collect()) {
        if last.wall_seconds > 2.0 * m {
            alerts.push((
                Level::Warning,
                format!(
                    "run took {:.1} s, more than twice the usual {m:.1} s",
                    last.wall_seconds
                ),
            ));
        }
    }
    if let (Some(mae), Some(m)) = (
        last.drift.mae,
        median(prev.iter().filter_map(|r| r.drift.mae).collect()),
    ) {
        if mae > 1.5 * m {
            alerts.push((
                Level::Warning,
                format!("accuracy dropped: previous forecasts' MAE {mae:.3} vs usual {m:.3}"),
            ));
        }
    }
    // Accuracy drift per demand class: a class can degrade while the total looks fine
    // (e.g. the intermittent tail after an assortment change).
    for (k, c) in CLASSES.iter().enumerate() {
        let usual = median(
            prev.iter()
                .filter(|r| r.drift.points_by_class[k] >= 50)
                .filter_map(|r| r.drift.mae_by_class[k])
                .collect(),
        );
        if let (Some(mae), Some(m)) = (last.drift.mae_by_class[k], usual) {
            if last.drift.points_by_class[k] >= 50 && mae > 1.5 * m && mae - m > 0.05 {
                alerts.push((
                    Level::Warning,
                    format!("accuracy dropped for {c} items: MAE {mae:.3} vs usual {m:.3}"),
                ));
            }
        }
    }
    if let Some(c) = last.drift.coverage90 {
        if last.drift.points >= 100 && c < 0.8 {
            alerts.push((
                Level::Warning,
                format!(
                    "p05–p95 band covered only {:.1} % of actuals (nominal 90 %)",
                    c * 100.0
                ),
            ));
        }
    }
    let level = alerts.iter().map(|a| a.0).max().unwrap_or(Level::Ok);
    s += "\n";
    if alerts.is_empty() {
        s += "OK: no alerts\n";
    }
    for (l, m) in &alerts {
        s += &format!("{}: {m}\n", format!("{l:?}").to_uppercase());
    }
    (level, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize, lumpy_mae: f64) -> RunRecord {
        let mut mae = [Some(1.0); 6];
        mae[3] = Some(lumpy_mae);
        RunRecord {
            run_id: format!("run{i}"),
            as_of: 20_000 + i as i32,
            finished_at: "2026-11-25T02:30:00Z".into(),
            wall_seconds: 10.0,
            cpu_seconds: 15.0,
            series: 100,
            proposals: 10,
            held_for_review: 0,
            rejects: 0,
            reject_share: 0.0,
            fallbacks: 0,
            model_failures: 0,
            defaults_used: 0,
            cost: 0.01,
            drift: Drift {
                prev_run_id: Some(format!("run{}", i.saturating_sub(1))),
                points: 600,
                mae: Some(1.0),
                bias: Some(0.0),
                coverage90: Some(0.9),
                mae_by_class: mae,
                points_by_class: [100; 6],
            },
        }
    }

    #[test]
    fn accuracy_drift_of_one_class_raises_a_warning() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..4 {
            append(d.path(), rec(i, 1.0)).unwrap();
        }
        let now = DateTime::parse_from_rfc3339("2026-11-25T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (level, text) = status(d.path(), now, 26.0);
        assert_eq!(level, Level::Ok, "{text}");
        // The lumpy class doubles its error while the total stays put.
        append(d.path(), rec(4, 2.0)).unwrap();
        let (level, text) = status(d.path(), now, 26.0);
        assert_eq!(level, Level::Warning, "{text}");
        assert!(text.contains("accuracy dropped for lumpy items"), "{text}");
        let h = read_history(&d.path().join("runs.parquet"));
        assert_eq!(h[4].drift.mae_by_class[3], Some(2.0));
    }
}
