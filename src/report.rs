//! Self-contained HTML reports with inline SVG charts (no scripts, no external files): they
//! open from a mail attachment or a file share as they are.

use std::fmt::Write;

use crate::backtest::policy::{ClassMetrics, PolicyBacktest};
use crate::panel::to_date;

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round tick values covering [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + 1e-9 * step {
        out.push(v);
        v += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One named line (or point set) of a chart.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub markers: bool,
}

/// Line chart with axes, ticks and legend. NaN points break the line.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, lines: &[Line]) -> String {
    let (w, h, l, r, t, b) = (640.0, 340.0, 70.0, 150.0, 30.0, 45.0);
    let pts = lines
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for p in pts {
        x0 = x0.min(p.0);
        x1 = x1.max(p.0);
        y0 = y0.min(p.1);
        y1 = y1.max(p.1);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let sx = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
    let sy = |y: f64| h - b - (y - y0) / (y1 - y0) * (h - t - b);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title><rect width="{w}" height="{h}" fill="white"/><text x="{l}" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(title),
        esc(title)
    );
    for v in ticks(y0, y1) {
        let y = sy(v);
        let _ = write!(
            s,
            r##"<line x1="{l}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            w - r,
            l - 5.0,
            y + 4.0,
            fmt_tick(v)
        );
    }
    for v in ticks(x0, x1) {
        let x = sx(v);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{t}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
            h - b,
            h - b + 15.0,
            fmt_tick(v)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{l}" x2="{}" y1="{}" y2="{}" stroke="#333"/><line x1="{l}" x2="{l}" y1="{t}" y2="{}" stroke="#333"/><text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text><text transform="translate(14 {}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>"##,
        w - r,
        h - b,
        h - b,
        h - b,
        (l + w - r) / 2.0,
        h - 8.0,
        esc(x_label),
        (t + h - b) / 2.0,
        esc(y_label)
    );
    for (k, line) in lines.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let mut seg: Vec<String> = Vec::new();
        let flush = |seg: &mut Vec<String>, s: &mut String| {
            if seg.len() >= 2 {
                let _ = write!(
                    s,
                    r#"<polyline class="series" fill="none" stroke="{c}" stroke-width="1.6" points="{}"/>"#,
                    seg.join(" ")
                );
            }
            seg.clear();
        };
        for p in &line.points {
            if p.0.is_finite() && p.1.is_finite() {
                seg.push(format!("{:.1},{:.1}", sx(p.0), sy(p.1)));
                if line.markers {
                    let _ = write!(
                        s,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{c}"/>"#,
                        sx(p.0),
                        sy(p.1)
                    );
                }
            } else {
                flush(&mut seg, &mut s);
            }
        }
        flush(&mut seg, &mut s);
        let ly = t + 14.0 + 18.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="4" fill="{c}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            w - r + 10.0,
            ly - 4.0,
            w - r + 27.0,
            ly,
            esc(&line.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one per label.
pub fn bar_chart(title: &str, unit: &str, bars: &[(String, f64)]) -> String {
    let row = 22.0;
    let (w, l, t) = (640.0, 170.0, 30.0);
    let h = t + row * bars.len() as f64 + 20.0;
    let max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-12);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img"><title>{}</title><rect width="{w}" height="{h}" fill="white"/><text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        esc(title),
        esc(title)
    );
    for (k, (label, v)) in bars.iter().enumerate() {
        let y = t + row * k as f64;
        let bw = (v / max).max(0.0) * (w - l - 80.0);
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text><rect class="bar" x="{l}" y="{:.1}" width="{bw:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{:.3}{}</text>"#,
            l - 6.0,
            y + 14.0,
            esc(label),
            y + 3.0,
            row - 6.0,
            COLORS[0],
            l + bw + 4.0,
            y + 14.0,
            v,
            esc(unit)
        );
    }
    s.push_str("</svg>");
    s
}

fn metrics_rows(rows: &[&ClassMetrics]) -> String {
    let mut s = String::from(
        "<table><tr><th>class</th><th>policy</th><th>service target</th><th>fill rate</th><th>cycle service</th><th>stockout days</th><th>lost units</th><th>lost margin</th><th>avg inventory (units)</th><th>avg inventory (value)</th><th>turns</th><th>order lines</th><th>purchase orders</th><th>held (guard)</th><th>forecast MAE</th></tr>",
    );
    for c in rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
            esc(&c.class),
            c.policy,
            c.service_level,
            c.fill_rate,
            c.cycle_service_level,
            c.stockout_days,
            c.lost_units,
            c.lost_margin,
            c.avg_inventory_units,
            c.avg_inventory_value,
            c.turns,
            c.orders,
            c.purchase_orders,
            c.held_orders,
            c.forecast_mae
        );
    }
    s.push_str("</table>");
    s
}

/// The policy backtest as one HTML page.
pub fn policy_backtest_html(b: &PolicyBacktest) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Policy backtest — {}</h1><p>{} days from {}, {} refits; unmet demand {}; target fill rate for recommendations {:.2}.</p>",
        esc(&b.pipeline),
        b.days,
        to_date(b.from),
        b.refits,
        if b.lost_sales { "lost" } else { "backordered" },
        b.target_fill_rate
    );
    // Trade-off curves: one line per policy, points = service targets.
    let policies: Vec<&str> = {
        let mut v: Vec<&str> = b.settings.iter().map(|s| s.policy.as_str()).collect();
        v.dedup();
        v
    };
    let mut classes: Vec<&str> = b.classes.iter().map(|c| c.class.as_str()).collect();
    classes.sort();
    classes.dedup();
    body.push_str("<h2>Service vs. stock</h2><div class=\"grid\">");
    for class in classes
        .iter()
        .filter(|c| **c == "all" || c.starts_with("abc_"))
    {
        let lines: Vec<Line> = policies
            .iter()
            .map(|p| {
                let mut pts: Vec<(f64, f64, f64)> = b
                    .classes
                    .iter()
                    .filter(|c| c.class == *class && c.policy == *p)
                    .map(|c| (c.service_level, c.avg_inventory_value, c.fill_rate))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Line {
                    name: p.to_string(),
                    points: pts.iter().map(|x| (x.1, x.2)).collect(),
                    markers: true,
                }
            })
            .collect();
        body.push_str(&line_chart(
            &format!("trade-off: {class}"),
            "average inventory value",
            "fill rate",
            &lines,
        ));
    }
    body.push_str("</div>");
    // Recommended settings and the totals.
    body.push_str("<h2>Recommended setting per class</h2><p>The least average inventory value that reaches the target fill rate (else the highest fill rate).</p>");
    body.push_str(&metrics_rows(&b.recommendations.iter().collect::<Vec<_>>()));
    body.push_str("<h2>All settings, all series</h2>");
    body.push_str(&metrics_rows(
        &b.classes
            .iter()
            .filter(|c| c.class == "all")
            .collect::<Vec<_>>(),
    ));
    if let Some(r) = &b.reality {
        let _ = write!(
            body,
            "<h2>Against reality</h2><p>What the shop actually held over the period (stock snapshots of {} series): average {:.0} units, value {:.0}; {} stockout days (censored days of the panel).</p>",
            r.series, r.avg_inventory_units, r.avg_inventory_value, r.stockout_days
        );
    }
    // Service and accuracy by demand class at the recommended overall setting.
    let best = b
        .recommendations
        .iter()
        .find(|c| c.class == "all")
        .map(|c| (c.policy, c.service_level));
    if let Some((bp, bs)) = best {
        let at = |prefix: &str| -> Vec<&ClassMetrics> {
            b.classes
                .iter()
                .filter(|c| c.policy == bp && c.service_level == bs && c.class.starts_with(prefix))
                .collect()
        };
        let _ = write!(
            body,
            "<h2>By demand class at {bp} {bs:.2}</h2><div class=\"grid\">"
        );
        body.push_str(&bar_chart(
            "fill rate",
            "",
            &at("class_")
                .iter()
                .map(|c| (c.class.clone(), c.fill_rate))
                .collect::<Vec<_>>(),
        ));
        body.push_str(&bar_chart(
            "forecast MAE (units/day)",
            "",
            &at("class_")
                .iter()
                .map(|c| (c.class.clone(), c.forecast_mae))
                .collect::<Vec<_>>(),
        ));
        body.push_str("</div>");
        body.push_str(&metrics_rows(&at("class_")));
        let k = b
            .settings
            .iter()
            .position(|s| s.policy.as_str() == bp && s.service_level == bs);
        body.push_str(
            "<h2>Top sellers: demand, forecast and simulated stock</h2><div class=\"grid\">",
        );
        for tr in b.traces.iter().filter(|t| Some(t.setting) == k) {
            let series = |j: usize| -> Vec<(f64, f64)> {
                tr.days
                    .iter()
                    .enumerate()
                    .map(|(d, v)| (d as f64, v[j]))
                    .collect()
            };
            body.push_str(&line_chart(
                &format!("{} @ {}", tr.sku, tr.location),
                &format!("days from {}", to_date(b.from)),
                "units",
                &[
                    Line {
                        name: "demand".into(),
                        points: series(0),
                        markers: false,
                    },
                    Line {
                        name: "forecast".into(),
                        points: series(1),
                        markers: false,
                    },
                    Line {
                        name: "stock".into(),
                        points: series(2),
                        markers: false,
                    },
                ],
            ));
        }
        body.push_str("</div>");
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>restock policy backtest — {}</title><style>body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;margin:8px 0 24px;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}th{{background:#f3f3f3}}.grid{{display:flex;flex-wrap:wrap;gap:12px}}</style></head><body>{body}</body></html>\n",
        esc(&b.pipeline)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = ticks(1234.0, 98765.0);
        assert!(t.first().unwrap() >= &1234.0 && t.last().unwrap() <= &98765.0 && t.len() >= 4);
    }

    #[test]
    fn charts_escape_and_draw() {
        let svg = line_chart(
            "a<b",
            "x",
            "y",
            &[Line {
                name: "s&p".into(),
                points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 2.0)],
                markers: true,
            }],
        );
        assert!(svg.contains("a&lt;b") && svg.contains("s&amp;p"));
        // The NaN breaks the line: one polyline of two points (the lone first point is a marker only).
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 3);
        let bars = bar_chart("t", "", &[("x".into(), 0.5), ("y".into(), 1.0)]);
        assert_eq!(bars.matches("class=\"bar\"").count(), 2);
    }
}
