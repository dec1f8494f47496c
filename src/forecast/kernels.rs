//! Model kernels: pure functions on a clean series (no missing values), so that each one
//! can be checked against statsforecast's implementation of the same method.
//!
//! The [`super::models`] wrappers decide what "clean" means for a retail series (closed and
//! censored days removed or treated as missing) and map the forecasts back onto the calendar.

/// Simple exponential smoothing started at the first value; returns the one-step-ahead
/// forecast after the last value. Same recursion as statsforecast's `ses_forecast`.
pub fn ses_forecast(x: &[f64], alpha: f64) -> f64 {
    let Some(&first) = x.first() else {
        return 0.0;
    };
    let mut f = first;
    for &v in x {
        f = alpha * v + (1.0 - alpha) * f;
    }
    // The first step above maps f = x0 to x0, which is the same as starting at x0 and
    // updating from x[1], so the loop over all of x matches the reference recursion.
    f
}

/// Sum of squared one-step errors of SES with the given alpha (the first value is the start).
pub fn ses_sse(x: &[f64], alpha: f64) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let mut f = x[0];
    let mut sse = 0.0;
    for i in 1..x.len() {
        f = alpha * x[i - 1] + (1.0 - alpha) * f;
        let e = x[i] - f;
        sse += e * e;
    }
    sse
}

/// Minimises a unimodal function on [lo, hi] by golden-section search.
pub fn golden_section(mut f: impl FnMut(f64) -> f64, lo: f64, hi: f64, tol: f64) -> f64 {
    const INV_PHI: f64 = 0.618_033_988_749_894_9;
    let (mut a, mut b) = (lo, hi);
    let mut c = b - INV_PHI * (b - a);
    let mut d = a + INV_PHI * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..200 {
        if (b - a).abs() <= tol {
            break;
        }
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - INV_PHI * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + INV_PHI * (b - a);
            fd = f(d);
        }
    }
    (a + b) / 2.0
}

/// SES with alpha chosen in [lo, hi] by least squares; returns (forecast, alpha).
pub fn ses_optimized(x: &[f64], lo: f64, hi: f64) -> (f64, f64) {
    let alpha = golden_section(|a| ses_sse(x, a), lo, hi, 1e-9);
    (ses_forecast(x, alpha), alpha)
}

/// Non-zero values (demand sizes) of an intermittent series.
fn demand_sizes(y: &[f64]) -> Vec<f64> {
    y.iter().copied().filter(|v| *v > 0.0).collect()
}

/// Intervals between non-zero values; the first counts from the start of the series.
fn intervals(y: &[f64]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut last = 0usize;
    for (i, v) in y.iter().enumerate() {
        if *v != 0.0 {
            out.push((i + 1 - last) as f64);
            last = i + 1;
        }
    }
    out
}

/// Python's `round`: half to even, which statsforecast uses for aggregation levels.
fn round_half_even(x: f64) -> usize {
    let r = x.round();
    let v = if (x - x.trunc()).abs() == 0.5 && (r as i64) % 2 != 0 {
        r - x.signum()
    } else {
        r
    };
    v.max(1.0) as usize
}

/// Croston's method with fixed smoothing 0.1 for sizes and intervals.
pub fn croston_classic(y: &[f64]) -> f64 {
    let d = demand_sizes(y);
    if d.is_empty() {
        return y.last().copied().unwrap_or(0.0);
    }
    let zp = ses_forecast(&d, 0.1);
    let pp = ses_forecast(&intervals(y), 0.1);
    if pp != 0.0 {
        zp / pp
    } else {
        zp
    }
}

/// Croston with both smoothing constants fitted in [0.1, 0.3].
pub fn croston_optimized(y: &[f64]) -> f64 {
    let d = demand_sizes(y);
    if d.is_empty() {
        return y.last().copied().unwrap_or(0.0);
    }
    let (zp, _) = ses_optimized(&d, 0.1, 0.3);
    let (pp, _) = ses_optimized(&intervals(y), 0.1, 0.3);
    if pp != 0.0 {
        zp / pp
    } else {
        zp
    }
}

/// Syntetos–Boylan approximation: Croston debiased by (1 − α/2) = 0.95.
pub fn croston_sba(y: &[f64]) -> f64 {
    0.95 * croston_classic(y)
}

/// Teunter–Syntetos–Babai: smooths the demand probability every period, so the forecast
/// decays when an item stops selling (Croston's does not).
pub fn tsb(y: &[f64], alpha_d: f64, alpha_p: f64) -> f64 {
    if y.iter().all(|v| *v == 0.0) {
        return 0.0;
    }
    let p: Vec<f64> = y
        .iter()
        .map(|v| if *v != 0.0 { 1.0 } else { 0.0 })
        .collect();
    ses_forecast(&p, alpha_p) * ses_forecast(&demand_sizes(y), alpha_d)
}

/// Sums of consecutive blocks of `k`, aligned at the end (the oldest remainder is dropped).
fn block_sums(y: &[f64], k: usize) -> Vec<f64> {
    let cut = y.len() % k;
    y[cut..].chunks_exact(k).map(|c| c.iter().sum()).collect()
}

/// ADIDA: aggregate to the mean inter-demand interval, SES there, spread back evenly.
pub fn adida(y: &[f64]) -> f64 {
    if y.iter().all(|v| *v == 0.0) {
        return 0.0;
    }
    let iv = intervals(y);
    let k = round_half_even(iv.iter().sum::<f64>() / iv.len() as f64);
    let sums = block_sums(y, k);
    if sums.is_empty() {
        return y.iter().sum::<f64>() / y.len() as f64;
    }
    ses_optimized(&sums, 0.1, 0.3).0 / k as f64
}

/// IMAPA: ADIDA at every aggregation level from 1 to the mean interval, averaged.
pub fn imapa(y: &[f64]) -> f64 {
    if y.iter().all(|v| *v == 0.0) {
        return 0.0;
    }
    let iv = intervals(y);
    let kmax = round_half_even(iv.iter().sum::<f64>() / iv.len() as f64);
    let mut acc = 0.0;
    let mut n = 0usize;
    for k in 1..=kmax {
        let sums = block_sums(y, k);
        if sums.is_empty() {
            continue;
        }
        acc += ses_optimized(&sums, 0.1, 0.3).0 / k as f64;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        acc / n as f64
    }
}

/// Box-constrained Nelder–Mead (adaptive coefficients of Gao & Han for higher dimensions).
/// Points are clamped into the box before each evaluation.
pub fn nelder_mead(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    step: f64,
    max_iter: usize,
    tol: f64,
) -> (Vec<f64>, f64) {
    let n = x0.len();
    let clamp = |x: &mut [f64]| {
        for i in 0..n {
            x[i] = x[i].clamp(lower[i], upper[i]);
        }
    };
    let mut eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let nf = n as f64;
    let (ra, ge, rc, sh) = (1.0, 1.0 + 2.0 / nf, 0.75 - 1.0 / (2.0 * nf), 1.0 - 1.0 / nf);
    let mut pts: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    let mut p0 = x0.to_vec();
    clamp(&mut p0);
    pts.push(p0.clone());
    for i in 0..n {
        let mut p = p0.clone();
        let d = if p[i].abs() > 1e-8 {
            step * p[i].abs().max(1e-3)
        } else {
            1e-4
        };
        p[i] += d;
        if p[i] > upper[i] {
            p[i] = p0[i] - d;
        }
        clamp(&mut p);
        pts.push(p);
    }
    let mut vals: Vec<f64> = pts.iter().map(|p| eval(p)).collect();
    for _ in 0..max_iter {
        // Order the simplex.
        let mut idx: Vec<usize> = (0..=n).collect();
        idx.sort_by(|a, b| vals[*a].total_cmp(&vals[*b]));
        pts = idx.iter().map(|&i| pts[i].clone()).collect();
        vals = idx.iter().map(|&i| vals[i]).collect();
        let spread = {
            let m = vals.iter().filter(|v| v.is_finite()).sum::<f64>() / (n + 1) as f64;
            (vals
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        (v - m).powi(2)
                    } else {
                        1e300
                    }
                })
                .sum::<f64>()
                / (n + 1) as f64)
                .sqrt()
        };
        if spread < tol {
            break;
        }
        let mut c = vec![0.0; n];
        for p in &pts[..n] {
            for i in 0..n {
                c[i] += p[i] / nf;
            }
        }
        let along = |t: f64| -> Vec<f64> {
            let mut x: Vec<f64> = (0..n).map(|i| c[i] + t * (pts[n][i] - c[i])).collect();
            clamp(&mut x);
            x
        };
        let xr = along(-ra);
        let fr = eval(&xr);
        if fr < vals[0] {
            let xe = along(-ra * ge);
            let fe = eval(&xe);
            if fe < fr {
                pts[n] = xe;
                vals[n] = fe;
            } else {
                pts[n] = xr;
                vals[n] = fr;
            }
        } else if fr < vals[n - 1] {
            pts[n] = xr;
            vals[n] = fr;
        } else {
            let outside = fr < vals[n];
            let xc = if outside { along(-ra * rc) } else { along(rc) };
            let fc = eval(&xc);
            if fc < if outside { fr } else { vals[n] } {
                pts[n] = xc;
                vals[n] = fc;
            } else {
                for k in 1..=n {
                    let mut x: Vec<f64> = (0..n)
                        .map(|i| pts[0][i] + sh * (pts[k][i] - pts[0][i]))
                        .collect();
                    clamp(&mut x);
                    vals[k] = eval(&x);
                    pts[k] = x;
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|a, b| vals[*a].total_cmp(&vals[*b]))
        .unwrap_or(0);
    (pts[best].clone(), vals[best])
}

/// Theta method in the state-space form of Fiorucci et al. (2016): SES on the series plus
/// a share (1 − 1/θ) of the linear trend. θ = 2 is the classic (standard) Theta method;
/// `optimize_theta` gives the optimised Theta method (OTM).
#[derive(Debug, Clone, Copy)]
pub struct ThetaFit {
    pub level0: f64,
    pub alpha: f64,
    pub theta: f64,
    an: f64,
    bn: f64,
}

fn theta_trend(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let wavg = y
        .iter()
        .enumerate()
        .map(|(i, v)| (i + 1) as f64 * v)
        .sum::<f64>()
        / n;
    let bn = if n > 1.0 {
        6.0 * (2.0 * wavg - (n + 1.0) * mean) / (n * n - 1.0)
    } else {
        0.0
    };
    (mean - (n + 1.0) * bn / 2.0, bn)
}

impl ThetaFit {
    /// Forecast mean at time index `i` (≥ 1) given the level after i − 1 observations.
    fn mu(&self, level: f64, i: usize) -> f64 {
        let q = 1.0 - self.alpha;
        level
            + (1.0 - 1.0 / self.theta)
                * (self.an * q.powi(i as i32) + self.bn * (1.0 - q.powi(i as i32 + 1)) / self.alpha)
    }

    /// One-step errors' objective (squared errors from the 4th on, scaled by mean |y|).
    fn objective(&self, y: &[f64]) -> f64 {
        let mut level = self.alpha * y[0] + (1.0 - self.alpha) * self.level0;
        let mut sse = 0.0;
        for (i, &v) in y.iter().enumerate().skip(1) {
            let e = v - self.mu(level, i);
            if i >= 3 {
                sse += e * e;
            }
            level = self.alpha * v + (1.0 - self.alpha) * level;
        }
        let scale = (y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64).max(1e-10);
        sse / scale
    }

    pub fn fit(y: &[f64], optimize_theta: bool) -> Option<ThetaFit> {
        if y.len() < 4 {
            return None;
        }
        let (an, bn) = theta_trend(y);
        let mk = |p: &[f64]| ThetaFit {
            level0: p[0],
            alpha: p[1],
            theta: if optimize_theta { p[2] } else { 2.0 },
            an,
            bn,
        };
        let (x0, lo, hi): (Vec<f64>, Vec<f64>, Vec<f64>) = if optimize_theta {
            (
                vec![y[0] / 2.0, 0.5, 2.0],
                vec![-1e10, 0.1, 1.0],
                vec![1e10, 0.99, 1e10],
            )
        } else {
            (vec![y[0] / 2.0, 0.5], vec![-1e10, 0.1], vec![1e10, 0.99])
        };
        let (p, v) = nelder_mead(
            &mut |p: &[f64]| mk(p).objective(y),
            &x0,
            &lo,
            &hi,
            0.05,
            1000,
            1e-4,
        );
        v.is_finite().then(|| mk(&p))
    }

    pub fn forecast(&self, y: &[f64], h: usize) -> Vec<f64> {
        let mut level = self.alpha * y[0] + (1.0 - self.alpha) * self.level0;
        for &v in &y[1..] {
            level = self.alpha * v + (1.0 - self.alpha) * level;
        }
        let n = y.len();
        let mut out = Vec::with_capacity(h);
        for j in 0..h {
            let m = self.mu(level, n + j);
            out.push(m);
            level = self.alpha * m + (1.0 - self.alpha) * level;
        }
        out
    }
}

/// Solves A·x = b for a small symmetric positive definite A (Cholesky); None if singular.
fn solve_spd(mut a: Vec<Vec<f64>>, b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for j in 0..n {
        let mut d = a[j][j];
        for k in 0..j {
            d -= a[j][k] * a[j][k];
        }
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j][j] = d;
        for i in j + 1..n {
            let mut v = a[i][j];
            for k in 0..j {
                v -= a[i][k] * a[j][k];
            }
            a[i][j] = v / d;
        }
    }
    let mut z = b;
    for i in 0..n {
        for k in 0..i {
            z[i] -= a[i][k] * z[k];
        }
        z[i] /= a[i][i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            z[i] -= a[k][i] * z[k];
        }
        z[i] /= a[i][i];
    }
    Some(z)
}

/// Additive-error ETS specification: trend none/additive/damped, season none/additive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtsSpec {
    pub trend: Trend,
    pub seasonal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    None,
    Additive,
    Damped,
}

impl EtsSpec {
    pub fn code(&self) -> &'static str {
        match (self.trend, self.seasonal) {
            (Trend::None, false) => "ANN",
            (Trend::Additive, false) => "AAN",
            (Trend::Damped, false) => "AAdN",
            (Trend::None, true) => "ANA",
            (Trend::Additive, true) => "AAA",
            (Trend::Damped, true) => "AAdA",
        }
    }
    fn n_params(&self, m: usize) -> usize {
        let base = 2 + match self.trend {
            Trend::None => 0,
            Trend::Additive => 2,
            Trend::Damped => 3,
        };
        base + if self.seasonal { 1 + m - 1 } else { 0 }
    }
}

/// A fitted additive-error ETS model. NaN observations are missing: states are carried
/// forward by the model's own prediction (the error is taken as zero).
#[derive(Debug, Clone)]
pub struct EtsFit {
    pub spec: EtsSpec,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
    pub level0: f64,
    pub trend0: f64,
    /// Initial seasonal states s_{-m+1} … s_0 (sum zero).
    pub season0: Vec<f64>,
    pub m: usize,
    pub sse: f64,
    pub nobs: usize,
    pub aicc: f64,
}

struct EtsState {
    l: f64,
    b: f64,
    s: Vec<f64>, // ring: s[t % m] is the seasonal state for time t
}

impl EtsFit {
    fn phi_sum(&self, h: usize) -> f64 {
        match self.spec.trend {
            Trend::None => 0.0,
            Trend::Additive => h as f64,
            Trend::Damped => (1..=h).map(|k| self.phi.powi(k as i32)).sum(),
        }
    }

    fn run(&self, y: &[f64], mut on_err: impl FnMut(f64)) -> EtsState {
        let m = self.m.max(1);
        let mut st = EtsState {
            l: self.level0,
            b: self.trend0,
            s: if self.spec.seasonal {
                self.season0.clone()
            } else {
                vec![0.0; m]
            },
        };
        let damp = match self.spec.trend {
            Trend::None => 0.0,
            Trend::Additive => 1.0,
            Trend::Damped => self.phi,
        };
        for (t, &v) in y.iter().enumerate() {
            let si = t % m;
            let season = if self.spec.seasonal { st.s[si] } else { 0.0 };
            let pred = st.l + damp * st.b + season;
            let e = if v.is_nan() { 0.0 } else { v - pred };
            if !v.is_nan() {
                on_err(e);
            }
            let new_l = st.l + damp * st.b + self.alpha * e;
            if self.spec.trend != Trend::None {
                st.b = damp * st.b + self.beta * e;
            }
            if self.spec.seasonal {
                st.s[si] = season + self.gamma * e;
            }
            st.l = new_l;
        }
        st
    }

    /// Least-squares initial states for the current smoothing parameters. The one-step
    /// errors are affine in x = (level, [trend], s_0 … s_{m−2}) with s_{m−1} = −Σ s:
    /// e(x) = e(0) − G·x, G's columns from one filter run per basis vector; the normal
    /// equations (≤ 8 × 8) give x. Kept only if the SSE drops.
    fn refine_initial_states(&mut self, y: &[f64]) {
        let m = self.m.max(1);
        let has_trend = self.spec.trend != Trend::None;
        let d = 1 + usize::from(has_trend) + if self.spec.seasonal { m - 1 } else { 0 };
        let with_state = |x: &[f64]| -> EtsFit {
            let mut f = self.clone();
            f.level0 = x[0];
            f.trend0 = if has_trend { x[1] } else { 0.0 };
            if f.spec.seasonal {
                let off = 1 + usize::from(has_trend);
                let mut s: Vec<f64> = x[off..].to_vec();
                s.push(-s.iter().sum::<f64>());
                f.season0 = s;
            }
            f
        };
        let errors = |f: &EtsFit| {
            let mut v = Vec::with_capacity(y.len());
            f.run(y, |e| v.push(e));
            v
        };
        let e0 = errors(&with_state(&vec![0.0; d]));
        let cols: Vec<Vec<f64>> = (0..d)
            .map(|k| {
                let mut x = vec![0.0; d];
                x[k] = 1.0;
                let ek = errors(&with_state(&x));
                e0.iter().zip(&ek).map(|(a, b)| a - b).collect()
            })
            .collect();
        let mut a = vec![vec![0.0; d]; d];
        let mut rhs = vec![0.0; d];
        for i in 0..d {
            for j in 0..=i {
                let v: f64 = cols[i].iter().zip(&cols[j]).map(|(p, q)| p * q).sum();
                a[i][j] = v;
                a[j][i] = v;
            }
            rhs[i] = cols[i].iter().zip(&e0).map(|(p, q)| p * q).sum();
        }
        for (i, row) in a.iter_mut().enumerate() {
            row[i] += 1e-9 * (1.0 + row[i].abs());
        }
        let Some(x) = solve_spd(a, rhs) else {
            return;
        };
        let g = with_state(&x);
        let sse: f64 = errors(&g).iter().map(|e| e * e).sum();
        if sse.is_finite() && sse < self.sse {
            self.level0 = g.level0;
            self.trend0 = g.trend0;
            self.season0 = g.season0;
            self.sse = sse;
        }
    }

    pub fn forecast(&self, y: &[f64], h: usize) -> Vec<f64> {
        let st = self.run(y, |_| {});
        let m = self.m.max(1);
        let n = y.len();
        (1..=h)
            .map(|k| {
                let season = if self.spec.seasonal {
                    st.s[(n + k - 1) % m]
                } else {
                    0.0
                };
                st.l + self.phi_sum(k) * st.b + season
            })
            .collect()
    }

    /// Fits one specification by least squares (the Gaussian likelihood for additive errors)
    /// over smoothing parameters and the initial level/trend; for seasonal specifications
    /// the initial states are then solved by least squares and the smoothing search rerun
    /// once from there (statsforecast optimises all initial states in its simplex).
    pub fn fit(y: &[f64], spec: EtsSpec, m: usize) -> Option<EtsFit> {
        let obs: Vec<f64> = y.iter().copied().filter(|v| !v.is_nan()).collect();
        let nobs = obs.len();
        let k = spec.n_params(m);
        if nobs < k + 4 || (spec.seasonal && y.len() < 2 * m) {
            return None;
        }
        let head = &obs[..nobs.min(2 * m.max(7))];
        let l0 = head.iter().sum::<f64>() / head.len() as f64;
        let season0 = if spec.seasonal {
            let mut acc = vec![0.0; m];
            let mut cnt = vec![0usize; m];
            for (t, v) in y.iter().enumerate().take(4 * m) {
                if !v.is_nan() {
                    acc[t % m] += v - l0;
                    cnt[t % m] += 1;
                }
            }
            let mut s: Vec<f64> = (0..m)
                .map(|i| {
                    if cnt[i] > 0 {
                        acc[i] / cnt[i] as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            let mean = s.iter().sum::<f64>() / m as f64;
            s.iter_mut().for_each(|v| *v -= mean);
            s
        } else {
            vec![]
        };
        let base = EtsFit {
            spec,
            alpha: 0.1,
            beta: 0.01,
            gamma: 0.01,
            phi: 0.98,
            level0: l0,
            trend0: 0.0,
            season0,
            m,
            sse: f64::INFINITY,
            nobs,
            aicc: f64::INFINITY,
        };
        // Parameter vector: alpha, [beta], [gamma], [phi], level0, [trend0].
        let build = |p: &[f64]| -> EtsFit {
            let mut f = base.clone();
            let mut i = 0;
            f.alpha = p[i];
            i += 1;
            if spec.trend != Trend::None {
                f.beta = p[i].min(f.alpha);
                i += 1;
            }
            if spec.seasonal {
                f.gamma = p[i].min(1.0 - f.alpha);
                i += 1;
            }
            if spec.trend == Trend::Damped {
                f.phi = p[i];
                i += 1;
            }
            f.level0 = p[i];
            i += 1;
            if spec.trend != Trend::None {
                f.trend0 = p[i];
            }
            f
        };
        let scale = l0.abs().max(1.0);
        let mut x0 = vec![0.1];
        let mut lo = vec![1e-4];
        let mut hi = vec![0.9999];
        if spec.trend != Trend::None {
            x0.push(0.01);
            lo.push(1e-4);
            hi.push(0.9999);
        }
        if spec.seasonal {
            x0.push(0.01);
            lo.push(1e-4);
            hi.push(0.9999);
        }
        if spec.trend == Trend::Damped {
            x0.push(0.95);
            lo.push(0.8);
            hi.push(0.98);
        }
        x0.push(l0);
        lo.push(l0 - 10.0 * scale);
        hi.push(l0 + 10.0 * scale);
        if spec.trend != Trend::None {
            x0.push(0.0);
            lo.push(-scale);
            hi.push(scale);
        }
        let sse_of = |f: &EtsFit| {
            let mut sse = 0.0;
            f.run(y, |e| sse += e * e);
            sse
        };
        let (p, sse) = nelder_mead(
            &mut |p: &[f64]| sse_of(&build(p)),
            &x0,
            &lo,
            &hi,
            0.1,
            400 * x0.len(),
            1e-8 * scale * scale,
        );
        if !sse.is_finite() {
            return None;
        }
        let mut f = build(&p);
        f.sse = sse;
        if spec.seasonal {
            // The initial states (level, trend, m seasonal summing to zero) enter the errors
            // linearly: given the smoothing parameters their least-squares values are one
            // small linear solve. Alternate that with the smoothing search once more.
            f.refine_initial_states(y);
            let mut p2 = p.clone();
            let n_init = 1 + usize::from(spec.trend != Trend::None);
            let at = p2.len() - n_init;
            p2[at] = f.level0.clamp(lo[at], hi[at]);
            if n_init == 2 {
                p2[at + 1] = f.trend0.clamp(lo[at + 1], hi[at + 1]);
            }
            let seeded = EtsFit {
                season0: f.season0.clone(),
                ..base.clone()
            };
            let build2 = |p: &[f64]| -> EtsFit {
                let mut g = build(p);
                g.season0 = seeded.season0.clone();
                g
            };
            let (p2, sse2) = nelder_mead(
                &mut |p: &[f64]| sse_of(&build2(p)),
                &p2,
                &lo,
                &hi,
                0.05,
                200 * p2.len(),
                1e-8 * scale * scale,
            );
            if sse2.is_finite() && sse2 < f.sse {
                let mut g = build2(&p2);
                g.sse = sse2;
                g.refine_initial_states(y);
                if g.sse < f.sse {
                    f = g;
                }
            }
        }
        let sse = f.sse;
        let n = nobs as f64;
        let kk = (k + 1) as f64; // + error variance
        let loglik_term = n * (sse.max(1e-12) / n).ln();
        f.aicc = loglik_term + 2.0 * kk + 2.0 * kk * (kk + 1.0) / (n - kk - 1.0).max(1.0);
        Some(f)
    }

    /// Fits the non-seasonal (and, with `m > 1`, seasonal) specifications and keeps the one
    /// with the lowest AICc, as automatic ETS does.
    pub fn auto(y: &[f64], m: usize) -> Option<EtsFit> {
        let mut specs = vec![
            EtsSpec {
                trend: Trend::None,
                seasonal: false,
            },
            EtsSpec {
                trend: Trend::Damped,
                seasonal: false,
            },
        ];
        if m > 1 {
            specs.push(EtsSpec {
                trend: Trend::None,
                seasonal: true,
            });
            specs.push(EtsSpec {
                trend: Trend::Damped,
                seasonal: true,
            });
        }
        specs
            .into_iter()
            .filter_map(|s| EtsFit::fit(y, s, m))
            .min_by(|a, b| a.aicc.total_cmp(&b.aicc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_hand_case() {
        // f1 = 1; f2 = .5*1+.5*1 = 1; f3 = .5*3 + .5*1 = 2; forecast = .5*5 + .5*2 = 3.5
        assert!((ses_forecast(&[1.0, 3.0, 5.0], 0.5) - 3.5).abs() < 1e-12);
        assert!((ses_sse(&[1.0, 3.0, 5.0], 0.5) - (4.0 + 9.0)).abs() < 1e-12);
    }

    #[test]
    fn intervals_and_rounding_follow_the_reference() {
        assert_eq!(intervals(&[0.0, 2.0, 0.0, 0.0, 1.0]), vec![2.0, 3.0]);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(0.4), 1);
    }

    #[test]
    fn croston_hand_case() {
        // sizes [2, 4]: ses(0.1) = .1*4 + .9*2 = 2.2; intervals [2, 2]: 2 → 1.1
        let y = [0.0, 2.0, 0.0, 4.0];
        assert!((croston_classic(&y) - 1.1).abs() < 1e-12);
        assert!((croston_sba(&y) - 1.045).abs() < 1e-12);
    }

    #[test]
    fn nelder_mead_finds_a_quadratic_minimum() {
        let (p, v) = nelder_mead(
            &mut |x: &[f64]| (x[0] - 1.0).powi(2) + 3.0 * (x[1] + 2.0).powi(2),
            &[0.0, 0.0],
            &[-10.0, -10.0],
            &[10.0, 10.0],
            0.5,
            2000,
            1e-14,
        );
        assert!(
            (p[0] - 1.0).abs() < 1e-4 && (p[1] + 2.0).abs() < 1e-4,
            "{p:?}"
        );
        assert!(v < 1e-8);
    }

    #[test]
    fn ets_recovers_a_clean_weekly_pattern() {
        let y: Vec<f64> = (0..140)
            .map(|t| 10.0 + [3.0, 1.0, 0.0, -1.0, -2.0, 2.0, -3.0][t % 7])
            .collect();
        let f = EtsFit::auto(&y, 7).unwrap();
        assert!(f.spec.seasonal, "{:?}", f.spec);
        let fc = f.forecast(&y, 7);
        for (k, v) in fc.iter().enumerate() {
            let want = 10.0 + [3.0, 1.0, 0.0, -1.0, -2.0, 2.0, -3.0][(140 + k) % 7];
            assert!((v - want).abs() < 0.2, "{k}: {v} vs {want}");
        }
    }
}
