//! Kernel benchmarks (criterion): panel build, each model's CV + forecast per series, the
//! whole per-series engine (selection + quantiles), count quantiles, and replenishment per
//! series. `cargo bench --bench kernels` (release profile); criterion prints each kernel's
//! time with its confidence interval and keeps estimates in `<target>/criterion/`. Figures
//! and how they were read: benches/README.md.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use chrono::NaiveDate;
use restock::config::{ForecastCfg, Overrides, RawPipeline};
use restock::forecast::quantile::count_quantile;
use restock::forecast::{self, cv_origins};
use restock::panel::{from_date, SeriesView, TradingCalendar};
use restock::{ingest, panel, pipeline, replenish};

/// Two years of daily demand with a weekly pattern, a yearly swing, noise and 35 % zeros,
/// from a fixed linear congruential generator (the same series every run).
fn synthetic_series(n: usize) -> Vec<f64> {
    let mut x: u64 = 20_240_101;
    let mut next = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|t| {
            let week = [0.8, 0.9, 1.0, 1.0, 1.2, 1.5, 0.6][t % 7];
            let year = 1.0 + 0.3 * (t as f64 * std::f64::consts::TAU / 365.0).sin();
            if next() < 0.35 {
                0.0
            } else {
                (4.0 * week * year * (0.5 + next())).round()
            }
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("pipelines/sample.toml");
    let text = std::fs::read_to_string(&path).expect("pipelines/sample.toml");
    let p = RawPipeline::from_toml(&path, &text)
        .and_then(|r| r.validate(Overrides::default()))
        .expect("valid sample pipeline");
    std::env::set_current_dir(root).expect("repository root");

    // Panel build on the sample shop (1.16 M order lines, 396 series).
    let ds = ingest::load(&p).expect("sample inputs");
    let as_of = pipeline::resolve_as_of(&p, &ds).expect("as-of");
    let mut g = c.benchmark_group("panel");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ds.demand.len() as u64));
    g.bench_function("build_sample", |b| {
        b.iter(|| black_box(panel::build(&p, &ds, as_of)))
    });
    g.finish();
    let panel = panel::build(&p, &ds, as_of);

    // Each model: CV over 26 origins (horizon 28) plus the final forecast, one 730-day series.
    let y = synthetic_series(730);
    let censored = vec![false; y.len()];
    let start = from_date(NaiveDate::from_ymd_opt(2023, 1, 2).expect("date"));
    let cal = TradingCalendar::with_weekdays(start, start + y.len() as i32 - 1, vec![]);
    let view = SeriesView {
        start,
        y: &y,
        censored: &censored,
        calendar: &cal,
        prices: None,
        promos: &[],
        rivals: None,
    };
    let cfg = ForecastCfg::default();
    let origins = cv_origins(y.len(), &cfg, 28);
    let mut g = c.benchmark_group("model_cv26_plus_forecast_730d");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for name in &cfg.models {
        let Some(m) = forecast::build(name, &cfg) else {
            continue; // global_ridge needs a panel; timed with the engine below
        };
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                black_box(m.predict_origins(&view, &origins, 28));
                black_box(m.predict(&view, 28).ok());
            })
        });
    }
    g.finish();

    // The engine per series: class, CV of the class's candidates, ensemble, quantiles.
    let models = forecast::registry(&cfg);
    let mut g = c.benchmark_group("engine");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("series_730d", |b| {
        b.iter(|| black_box(forecast::forecast_series(&models, &view, &cfg, 28, 21)))
    });
    g.finish();

    // Count quantiles (negative binomial walk) as used for intermittent days and returns.
    let mut g = c.benchmark_group("count_quantile");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("nb_p95_x1000", |b| {
        b.iter(|| {
            for k in 0..1000 {
                black_box(count_quantile(
                    0.5 + k as f64 * 0.01,
                    3.0 + k as f64 * 0.05,
                    0.95,
                ));
            }
        })
    });
    g.finish();

    // Replenishment per series: policy, service target, constraints, explanation.
    let params = replenish::resolve(&p, &ds, &panel);
    let windows: Vec<usize> = params.iter().map(|x| x.window_days).collect();
    let fc = forecast::run(&panel, &p.forecast, p.horizon_days as usize, &windows);
    let (_, rets) = pipeline::forecast_returns(&p, &ds, &panel, &params, &fc);
    let mut g = c.benchmark_group("replenish");
    g.sample_size(20);
    g.throughput(Throughput::Elements(panel.series.len() as u64));
    g.bench_function("sample_all_series", |b| {
        b.iter(|| black_box(replenish::propose(&p, &ds, &panel, &params, &fc, &rets)))
    });
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
