//! ABC by consumption value and XYZ by variability, computed from the data.
//!
//! ABC: value of the last 365 days (units × unit cost, else price, else 1) ranked
//! descending; series up to the cumulative share `abc_a` are A, up to `abc_b` B, the rest C.
//! XYZ: coefficient of variation of weekly demand over the last 52 weeks; ≤ `xyz_x` is X,
//! ≤ `xyz_y` Y, else Z (a series without demand is Z).

use crate::config::ReplenishCfg;

pub fn abc(values: &[f64], cfg: &ReplenishCfg) -> Vec<char> {
    let total: f64 = values.iter().filter(|v| v.is_finite()).sum();
    let mut idx: Vec<usize> = (0..values.len()).collect();
    // Descending value; ties by index so the result is deterministic.
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let mut out = vec!['C'; values.len()];
    if total <= 0.0 {
        return out;
    }
    let mut cum = 0.0;
    for i in idx {
        // A series belongs to the class its cumulative share *starts* in, so the single
        // biggest series is always A.
        let start = cum / total;
        cum += values[i].max(0.0);
        if values[i] <= 0.0 {
            break;
        }
        out[i] = if start < cfg.abc_a {
            'A'
        } else if start < cfg.abc_b {
            'B'
        } else {
            'C'
        };
    }
    out
}

/// Weekly coefficient of variation over the last 52 whole weeks of `y` (daily demand).
pub fn weekly_cv(y: &[f64]) -> f64 {
    let weeks = (y.len() / 7).min(52);
    if weeks < 2 {
        return f64::INFINITY;
    }
    let tail = &y[y.len() - weeks * 7..];
    let sums: Vec<f64> = tail.chunks(7).map(|w| w.iter().sum()).collect();
    let mean = sums.iter().sum::<f64>() / weeks as f64;
    if mean <= 0.0 {
        return f64::INFINITY;
    }
    let var = sums.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (weeks - 1) as f64;
    var.sqrt() / mean
}

pub fn xyz(cv: f64, cfg: &ReplenishCfg) -> char {
    if cv <= cfg.xyz_x {
        'X'
    } else if cv <= cfg.xyz_y {
        'Y'
    } else {
        'Z'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_split() {
        let cfg = ReplenishCfg::default();
        // Shares 70, 15, 8, 5, 2 %: A starts below 80 % → 70 and 15 are A (15 starts at 70 %),
        // 8 starts at 85 % → B, 5 starts at 93 % → B, 2 starts at 98 % → C.
        let v = [15.0, 70.0, 2.0, 8.0, 5.0];
        assert_eq!(abc(&v, &cfg), vec!['A', 'A', 'C', 'B', 'B']);
        assert_eq!(abc(&[0.0, 0.0], &cfg), vec!['C', 'C']);
    }

    #[test]
    fn variability() {
        let cfg = ReplenishCfg::default();
        let steady = vec![1.0; 70];
        assert_eq!(xyz(weekly_cv(&steady), &cfg), 'X');
        let mut bursty = vec![0.0; 70];
        bursty[3] = 50.0;
        assert_eq!(xyz(weekly_cv(&bursty), &cfg), 'Z');
    }
}
