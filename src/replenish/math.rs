//! Textbook inventory maths (Snyder & Shen, *Fundamentals of Supply Chain Theory*, the book
//! stockpyl implements), checked against stockpyl goldens in `tests/it/policies.rs`.
//!
//! Conventions, where stockpyl differs:
//! - Lead-time demand covers exactly the protection window the caller passes (days from
//!   today to the receipt of the *next* order). stockpyl's `newsvendor_normal(lead_time=L)`
//!   covers L + 1 periods; the goldens call it with `lead_time=0`.
//! - (s, S): order when the inventory position is **at or below** s, up to S, with s < S.
//!   stockpyl's `Policy.validate_parameters` rejects exactly the valid case s ≤ S (its check
//!   is inverted); restock validates s < S itself.

use crate::forecast::quantile::norm_ppf as norm_ppf_fast;

pub fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

pub fn norm_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Inverse standard normal CDF to machine precision: Acklam's approximation plus one
/// Halley step on the exact CDF.
pub fn norm_ppf(p: f64) -> f64 {
    let x = norm_ppf_fast(p);
    if !(p > 0.0 && p < 1.0) {
        return x;
    }
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
    x - u / (1.0 + 0.5 * x * u)
}

/// Standard normal loss G(z) = E[(Z − z)⁺] and its complement Ḡ(z) = E[(z − Z)⁺].
pub fn standard_normal_loss(z: f64) -> (f64, f64) {
    let g = norm_pdf(z) - z * (1.0 - norm_cdf(z));
    (g, z + g)
}

/// z with G(z) = target (G is strictly decreasing): the fill-rate safety factor.
pub fn standard_normal_loss_inverse(target: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    if target >= standard_normal_loss(lo).0 {
        return lo;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if standard_normal_loss(mid).0 > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-13 {
            break;
        }
    }
    0.5 * (lo + hi)
}

fn ln_factorial(k: f64) -> f64 {
    libm::lgamma(k + 1.0)
}

pub fn poisson_pmf(k: f64, mean: f64) -> f64 {
    if k < 0.0 {
        return 0.0;
    }
    if mean <= 0.0 {
        return if k == 0.0 { 1.0 } else { 0.0 };
    }
    (k * mean.ln() - mean - ln_factorial(k)).exp()
}

pub fn poisson_cdf(k: f64, mean: f64) -> f64 {
    if k < 0.0 {
        return 0.0;
    }
    let kmax = k.floor() as i64;
    if mean <= 0.0 {
        return 1.0;
    }
    // Sum the pmf from the mode outwards would be more stable for huge means; our lead-time
    // means are small enough (≤ a few thousand) for the forward recurrence in log space.
    let mut acc = 0.0;
    for j in 0..=kmax {
        acc += poisson_pmf(j as f64, mean);
    }
    acc.min(1.0)
}

/// Smallest integer S with P(D ≤ S) ≥ p, D ~ Poisson(mean).
pub fn poisson_ppf(p: f64, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    let mut k = 0.0;
    let mut cdf = poisson_pmf(0.0, mean);
    while cdf < p && k < 1e7 {
        k += 1.0;
        cdf += poisson_pmf(k, mean);
    }
    k
}

/// Poisson loss n(x) = E[(D − x)⁺] and complement n̄(x) = E[(x − D)⁺] for integer x.
pub fn poisson_loss(x: f64, mean: f64) -> (f64, f64) {
    let f = poisson_pmf(x, mean);
    let cdf = poisson_cdf(x, mean);
    let n = -(x - mean) * (1.0 - cdf) + mean * f;
    let nbar = (x - mean) * cdf + mean * f;
    (n, nbar)
}

/// Newsvendor with normal demand: S* = μ + σ z_α, α = p / (p + h); cost (h + p) φ(z) σ.
pub fn newsvendor_normal(h: f64, p: f64, mean: f64, sd: f64) -> (f64, f64) {
    let z = norm_ppf(p / (p + h));
    (mean + z * sd, (h + p) * norm_pdf(z) * sd)
}

/// Expected newsvendor cost of base stock `s` under normal demand.
pub fn newsvendor_normal_cost(s: f64, h: f64, p: f64, mean: f64, sd: f64) -> f64 {
    let (n, nbar) = standard_normal_loss((s - mean) / sd);
    sd * (h * nbar + p * n)
}

/// Newsvendor with Poisson demand: smallest S with F(S) ≥ p / (p + h), and its cost.
pub fn newsvendor_poisson(h: f64, p: f64, mean: f64) -> (f64, f64) {
    let s = poisson_ppf(p / (p + h), mean);
    (s, newsvendor_poisson_cost(s, h, p, mean))
}

pub fn newsvendor_poisson_cost(s: f64, h: f64, p: f64, mean: f64) -> f64 {
    let (n, nbar) = poisson_loss(s, mean);
    h * nbar + p * n
}

/// Economic order quantity √(2Kλ/h) and its cost per unit time.
pub fn eoq(order_cost: f64, holding_cost: f64, demand_rate: f64) -> (f64, f64) {
    if order_cost <= 0.0 || holding_cost <= 0.0 || demand_rate <= 0.0 {
        return (0.0, 0.0);
    }
    let q = (2.0 * order_cost * demand_rate / holding_cost).sqrt();
    (q, q * holding_cost)
}

/// Expected cost per unit time of (r, Q) under Poisson demand with rate λ and lead time L.
pub fn rq_cost_poisson(r: f64, q: f64, h: f64, p: f64, k: f64, lambda: f64, lead: f64) -> f64 {
    let mu = lambda * lead;
    let mut c = k * lambda;
    let mut y = r + 1.0;
    while y <= r + q {
        c += newsvendor_poisson_cost(y, h, p, mu);
        y += 1.0;
    }
    c / q
}

/// Optimal (r, Q) under Poisson demand (Federgruen & Zheng 1992): grow the window of
/// inventory levels r+1..r+Q on the cheaper side while the average cost falls.
pub fn rq_poisson_exact(h: f64, p: f64, k: f64, lambda: f64, lead: f64) -> (f64, f64, f64) {
    let alpha = p / (p + h);
    let mu = lambda * lead;
    let mut s = 0.0;
    while poisson_cdf(s, mu) < alpha && s < 1e7 {
        s += 1.0;
    }
    let mut q = 1.0;
    let mut r = s - 1.0;
    let mut g = rq_cost_poisson(r, q, h, p, k, lambda, lead);
    loop {
        let (g_prev, r_prev) = (g, r);
        let g_r = newsvendor_poisson_cost(r, h, p, mu);
        let g_rq1 = newsvendor_poisson_cost(r + q + 1.0, h, p, mu);
        if g_r < g_rq1 {
            r -= 1.0;
        }
        g = rq_cost_poisson(r, q + 1.0, h, p, k, lambda, lead);
        if g > g_prev || q > 1e6 {
            return (r_prev, q, g_prev);
        }
        q += 1.0;
    }
}

/// Expected cost per period of (s, S) under per-period Poisson demand (zero lead time),
/// via the renewal quantities m(j) and M(j) of Zheng & Federgruen (1991).
pub fn ss_cost_poisson(s: f64, big_s: f64, h: f64, p: f64, k: f64, mean: f64) -> f64 {
    let n = (big_s - s) as usize;
    if n == 0 {
        return f64::INFINITY;
    }
    let pmf: Vec<f64> = (0..n).map(|j| poisson_pmf(j as f64, mean)).collect();
    let mut m = vec![0.0; n];
    m[0] = 1.0 / (1.0 - pmf[0]);
    for j in 1..n {
        let acc: f64 = (1..=j).map(|l| pmf[l] * m[j - l]).sum();
        m[j] = m[0] * acc;
    }
    let big_m: f64 = m.iter().sum();
    let mut cost = k;
    for (d, md) in m.iter().enumerate() {
        cost += md * newsvendor_poisson_cost(big_s - d as f64, h, p, mean);
    }
    cost / big_m
}

/// Optimal (s, S) under per-period Poisson demand (Zheng & Federgruen 1991).
pub fn ss_poisson_exact(h: f64, p: f64, k: f64, mean: f64) -> (f64, f64, f64) {
    let g = |y: f64| newsvendor_poisson_cost(y, h, p, mean);
    let c = |s: f64, big_s: f64| ss_cost_poisson(s, big_s, h, p, k, mean);
    let (y_star, _) = newsvendor_poisson(h, p, mean);
    let s0_level = y_star;
    let mut s = y_star;
    loop {
        s -= 1.0;
        if c(s, s0_level) <= g(s) || s < -1e6 {
            break;
        }
    }
    let mut s_hat = s;
    let mut big_s_hat = s0_level;
    let mut g_hat = c(s_hat, big_s_hat);
    let mut big_s = big_s_hat + 1.0;
    while g(big_s) <= g_hat {
        if c(s_hat, big_s) < g_hat {
            big_s_hat = big_s;
            while c(s, big_s_hat) <= g(s + 1.0) {
                s += 1.0;
            }
            s_hat = s;
            g_hat = c(s_hat, big_s_hat);
        }
        big_s += 1.0;
    }
    (s_hat, big_s_hat, g_hat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_basics() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-15);
        assert!((norm_ppf(0.975) - 1.959963984540054).abs() < 1e-12);
        assert!((norm_cdf(norm_ppf(0.05)) - 0.05).abs() < 1e-14);
        // G(0) = φ(0)
        assert!((standard_normal_loss(0.0).0 - norm_pdf(0.0)).abs() < 1e-15);
        let z = standard_normal_loss_inverse(0.1);
        assert!((standard_normal_loss(z).0 - 0.1).abs() < 1e-10);
    }

    #[test]
    fn textbook_examples() {
        // Snyder & Shen Example 4.3 (stockpyl's doctest).
        let (s, c) = newsvendor_normal(0.18, 0.70, 50.0, 8.0);
        assert!((s - 56.60395592743389).abs() < 1e-9 && (c - 1.9976051931766445).abs() < 1e-9);
        // Example 5.8.
        let (r, q, g) = rq_poisson_exact(20.0, 150.0, 100.0, 1.5, 2.0);
        assert_eq!((r, q), (3.0, 5.0));
        assert!((g - 107.92358063314975).abs() < 1e-9);
        // Example 4.7.
        let (s, big_s, g) = ss_poisson_exact(1.0, 4.0, 5.0, 6.0);
        assert_eq!((s, big_s), (4.0, 10.0));
        assert!((g - 8.034111561471642).abs() < 1e-9);
    }
}
