//! `restock sample`: a deterministic, realistic synthetic shop.
//!
//! 2 years of daily history for ~330 SKUs at two warehouses: fast movers, slow, intermittent
//! and lumpy items, new and discontinued items; weekly + yearly seasonality, trend and
//! promotions; a simulated stock process (so stockouts appear in the snapshots and censor
//! sales), returns with realistic lags, open purchase orders, and a master with the gaps a
//! real one has. Same seed → byte-identical files.

use std::path::Path;

use chrono::{Datelike, NaiveDate};

use crate::error::OutputError;
use crate::export::table::{ColData, OutTable};
use crate::ingest::Day;
use crate::panel::{from_date, to_date};

/// SplitMix64: tiny, seedable, good enough for synthetic data (no crate needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.uniform();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next_u64() % v.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Fast,
    Slow,
    Intermittent,
    Lumpy,
}

struct Sku {
    id: String,
    kind: Kind,
    base: f64,
    trend: f64,
    yearly_amp: f64,
    start: Day,
    end: Day,
    price: f64,
    category: &'static str,
    supplier: usize,
    pack: f64,
    moq: f64,
    return_rate: f64,
    locs: Vec<&'static str>,
}

struct Sup {
    id: &'static str,
    lead: f64,
    lead_sd: f64,
    weekdays: &'static str,
    mov: f64,
}

const SUPPLIERS: [Sup; 5] = [
    Sup {
        id: "SUP-NORD",
        lead: 5.0,
        lead_sd: 1.0,
        weekdays: "Mon,Thu",
        mov: 250.0,
    },
    Sup {
        id: "SUP-SUED",
        lead: 10.0,
        lead_sd: 2.0,
        weekdays: "Tue",
        mov: 500.0,
    },
    Sup {
        id: "SUP-ASIA",
        lead: 35.0,
        lead_sd: 7.0,
        weekdays: "Wed",
        mov: 2000.0,
    },
    Sup {
        id: "SUP-LOKAL",
        lead: 2.0,
        lead_sd: 0.5,
        weekdays: "Mon,Tue,Wed,Thu,Fri",
        mov: 0.0,
    },
    Sup {
        id: "SUP-EU",
        lead: 14.0,
        lead_sd: 3.0,
        weekdays: "Fri",
        mov: 800.0,
    },
];

const CATEGORIES: [(&str, f64); 5] = [
    ("fashion", 0.30),
    ("home", 0.08),
    ("garden", 0.05),
    ("toys", 0.10),
    ("food", 0.01),
];

pub const SAMPLE_START: (i32, u32, u32) = (2023, 1, 1);
pub const SAMPLE_END: (i32, u32, u32) = (2024, 12, 31);

fn skus(rng: &mut Rng, n: usize, start: Day, end: Day) -> Vec<Sku> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let kind = match i % 10 {
            0..=2 => Kind::Fast,
            3..=5 => Kind::Slow,
            6..=7 => Kind::Intermittent,
            _ => Kind::Lumpy,
        };
        let base = match kind {
            Kind::Fast => 8.0 + 25.0 * rng.uniform(),
            Kind::Slow => 0.8 + 2.5 * rng.uniform(),
            Kind::Intermittent => 0.08 + 0.25 * rng.uniform(),
            Kind::Lumpy => 0.04 + 0.1 * rng.uniform(),
        };
        let (category, return_rate) = CATEGORIES[i % CATEGORIES.len()];
        // ~8 % new items, ~6 % discontinued.
        let s = if i % 13 == 5 {
            start + 400 + (rng.uniform() * 250.0) as Day
        } else {
            start
        };
        let e = if i % 17 == 3 {
            start + 300 + (rng.uniform() * 250.0) as Day
        } else {
            end
        };
        let supplier = i % SUPPLIERS.len();
        let pack = *rng.pick(&[1.0, 1.0, 6.0, 10.0, 12.0, 24.0]);
        let moq = if rng.uniform() < 0.4 {
            pack * (1.0 + (rng.uniform() * 4.0).floor())
        } else {
            1.0
        };
        let locs = if kind == Kind::Fast && i % 2 == 0 {
            vec!["WH-BER", "WH-MUC"]
        } else {
            vec!["WH-BER"]
        };
        v.push(Sku {
            id: format!("SKU-{:05}", 10_000 + i * 7),
            kind,
            base,
            trend: (rng.uniform() - 0.4) * 0.8 / 365.0,
            yearly_amp: if category == "garden" {
                0.7
            } else if category == "toys" {
                0.5
            } else {
                0.15 * rng.uniform()
            },
            start: s,
            end: e,
            price: ((2.0 + 80.0 * rng.uniform() * rng.uniform()) * 100.0).round() / 100.0,
            category,
            supplier,
            pack,
            moq,
            return_rate: return_rate * (0.6 + 0.8 * rng.uniform()),
            locs,
        });
    }
    v
}

fn write(t: &OutTable, dir: &Path, name: &str) -> Result<(), OutputError> {
    t.write_parquet(&dir.join(name))
}

fn strs(v: Vec<String>) -> ColData {
    ColData::Str(v.into_iter().map(Some).collect())
}

/// Generates the sample into `dir`. Returns (order lines, SKUs).
pub fn generate(dir: &Path, seed: u64, n_skus: usize) -> Result<(usize, usize), OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut rng = Rng::new(seed);
    let start = from_date(
        NaiveDate::from_ymd_opt(SAMPLE_START.0, SAMPLE_START.1, SAMPLE_START.2).unwrap_or_default(),
    );
    let end = from_date(
        NaiveDate::from_ymd_opt(SAMPLE_END.0, SAMPLE_END.1, SAMPLE_END.2).unwrap_or_default(),
    );
    let items = skus(&mut rng, n_skus, start, end);
    // Public holidays: the shop ships nothing, but online orders still arrive → not closed;
    // the warehouse is closed on Sundays for receipts only. Promotions: 3 per year per SKU.
    let (
        mut o_id,
        mut o_date,
        mut o_sku,
        mut o_loc,
        mut o_qty,
        mut o_price,
        mut o_chan,
        mut o_status,
    ) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let (
        mut r_date,
        mut r_sku,
        mut r_qty,
        mut r_oid,
        mut r_odate,
        mut r_loc,
        mut r_rest,
        mut r_reason,
    ) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let (mut s_date, mut s_sku, mut s_loc, mut s_oh) = (vec![], vec![], vec![], vec![]);
    let (mut p_sku, mut p_loc, mut p_qty, mut p_date) = (vec![], vec![], vec![], vec![]);
    let mut order_no = 100_000u64;
    // The promotion calendar (promotions.parquet): every item's weeks, at all its locations.
    let (mut pr_sku, mut pr_loc, mut pr_from, mut pr_to) = (vec![], vec![], vec![], vec![]);
    for it in &items {
        let promo_days: Vec<Day> = (0..6)
            .map(|_| start + (rng.uniform() * (end - start) as f64) as Day)
            .collect();
        for p in &promo_days {
            pr_sku.push(it.id.clone());
            pr_loc.push(None);
            pr_from.push(Some(*p));
            pr_to.push(Some(p + 6));
        }
        for (li, loc) in it.locs.iter().enumerate() {
            let share = if li == 0 { 1.0 } else { 0.45 };
            let sup = &SUPPLIERS[it.supplier];
            let mut on_hand = (it.base * share * (sup.lead + 14.0)).ceil() + 5.0;
            let mut pipeline: Vec<(Day, f64)> = Vec::new();
            // A supplier outage per series: no deliveries for 3-5 weeks → visible stockouts.
            let outage_start = start + 120 + (rng.uniform() * 480.0) as Day;
            let outage_end = outage_start + 21 + (rng.uniform() * 14.0) as Day;
            for d in start..=end {
                // Receipts.
                let mut arrived = 0.0;
                pipeline.retain(|(day, q)| {
                    if *day <= d {
                        arrived += q;
                        false
                    } else {
                        true
                    }
                });
                on_hand += arrived;
                let active = d >= it.start && d <= it.end;
                if active {
                    let date = to_date(d);
                    let t = (d - start) as f64;
                    let dow = [1.15, 1.05, 1.0, 1.0, 1.1, 0.85, 0.85]
                        [date.weekday().num_days_from_monday() as usize];
                    let yearly = 1.0
                        + it.yearly_amp
                            * (2.0 * std::f64::consts::PI * (date.ordinal() as f64 - 120.0)
                                / 365.25)
                                .sin();
                    let promo = if promo_days.iter().any(|p| d >= *p && d < p + 7) {
                        2.2
                    } else {
                        1.0
                    };
                    let level =
                        (it.base * share * (1.0 + it.trend * t).max(0.2) * dow * yearly * promo)
                            .max(0.0);
                    let demand = match it.kind {
                        Kind::Fast | Kind::Slow | Kind::Intermittent => rng.poisson(level) as f64,
                        Kind::Lumpy => {
                            if rng.uniform() < level {
                                (3.0 + 20.0 * rng.uniform() * rng.uniform()).round()
                            } else {
                                0.0
                            }
                        }
                    };
                    let sold = demand.min(on_hand.max(0.0)).floor();
                    on_hand -= sold;
                    // Split the day's units into order lines.
                    let mut left = sold;
                    while left > 0.0 {
                        let q = if it.kind == Kind::Lumpy {
                            left
                        } else {
                            left.min(1.0 + (rng.uniform() * 3.0).floor())
                        };
                        left -= q;
                        order_no += 1;
                        let oid = format!("SO{order_no}");
                        let chan = if rng.uniform() < 0.7 {
                            "shop"
                        } else {
                            "marketplace"
                        };
                        let price = if promo > 1.0 {
                            it.price * 0.8
                        } else {
                            it.price
                        };
                        let cancelled = rng.uniform() < 0.01;
                        o_id.push(oid.clone());
                        o_date.push(d);
                        o_sku.push(it.id.clone());
                        o_loc.push(loc.to_string());
                        o_qty.push(q);
                        o_price.push((price * 100.0).round() / 100.0);
                        o_chan.push(chan.to_string());
                        o_status.push(if cancelled { "cancelled" } else { "shipped" }.to_string());
                        if cancelled {
                            on_hand += q;
                            continue;
                        }
                        if rng.uniform() < it.return_rate {
                            let lag = 3 + rng.poisson(9.0) as Day;
                            let rd = d + lag;
                            if rd <= end {
                                r_date.push(rd);
                                r_sku.push(it.id.clone());
                                r_qty.push(q);
                                r_oid.push(oid);
                                r_odate.push(d);
                                r_loc.push(loc.to_string());
                                let restockable = rng.uniform() < 0.85;
                                r_rest.push(if restockable { "true" } else { "false" }.to_string());
                                r_reason.push(
                                    rng.pick(&[
                                        "size",
                                        "not_as_described",
                                        "damaged",
                                        "changed_mind",
                                    ])
                                    .to_string(),
                                );
                                if restockable {
                                    pipeline.push((rd, q));
                                }
                            }
                        }
                    }
                }
                // Weekly review on the supplier's first order weekday: simple order-up-to.
                let wd = to_date(d).weekday().num_days_from_monday();
                if active && d + (sup.lead as Day) < it.end && wd == 0 {
                    let cover = it.base * share * (sup.lead + 14.0) * 1.3;
                    let inbound: f64 = pipeline.iter().map(|(_, q)| q).sum();
                    let need = cover - on_hand - inbound;
                    if need > 0.0 {
                        let q = (need.max(it.moq) / it.pack).ceil() * it.pack;
                        let jitter = (sup.lead_sd * rng.normal()).round() as Day;
                        let mut eta = d + (sup.lead as Day + jitter).max(1);
                        if eta >= outage_start && eta <= outage_end {
                            eta = outage_end + 1;
                        }
                        pipeline.push((eta, q));
                    }
                }
                s_date.push(d);
                s_sku.push(it.id.clone());
                s_loc.push(loc.to_string());
                s_oh.push(on_hand.max(0.0));
            }
            for (eta, q) in pipeline.iter().filter(|(e, _)| *e > end) {
                p_sku.push(it.id.clone());
                p_loc.push(loc.to_string());
                p_qty.push(*q);
                p_date.push(*eta);
            }
        }
    }
    let n_lines = o_id.len();
    // Exact duplicate lines, as exports have them.
    for k in (0..n_lines).step_by(997).take(40) {
        o_id.push(o_id[k].clone());
        o_date.push(o_date[k]);
        o_sku.push(o_sku[k].clone());
        o_loc.push(o_loc[k].clone());
        o_qty.push(o_qty[k]);
        o_price.push(o_price[k]);
        o_chan.push(o_chan[k].clone());
        o_status.push(o_status[k].clone());
    }
    let mut t = OutTable::default();
    t.push("order_id", strs(o_id))
        .push(
            "order_date",
            ColData::Date(o_date.into_iter().map(Some).collect()),
        )
        .push("sku", strs(o_sku))
        .push("location", strs(o_loc))
        .push(
            "quantity",
            ColData::F64(o_qty.into_iter().map(Some).collect()),
        )
        .push(
            "unit_price",
            ColData::F64(o_price.into_iter().map(Some).collect()),
        )
        .push("channel", strs(o_chan))
        .push("status", strs(o_status));
    let total_lines = t.rows();
    write(&t, dir, "orders.parquet")?;

    let mut t = OutTable::default();
    t.push(
        "return_date",
        ColData::Date(r_date.into_iter().map(Some).collect()),
    )
    .push("sku", strs(r_sku))
    .push(
        "quantity",
        ColData::F64(r_qty.into_iter().map(Some).collect()),
    )
    .push("order_id", strs(r_oid))
    .push(
        "order_date",
        ColData::Date(r_odate.into_iter().map(Some).collect()),
    )
    .push("location", strs(r_loc))
    .push("restockable", strs(r_rest))
    .push("reason", strs(r_reason));
    write(&t, dir, "returns.parquet")?;

    // Weekly stock snapshots (Sundays) plus the last day keep the file small; stockouts
    // inside a week show up as on_hand 0 on the snapshot day.
    let keep: Vec<usize> = (0..s_date.len())
        .filter(|&i| {
            to_date(s_date[i]).weekday().num_days_from_monday() == 6
                || s_date[i] == end
                || s_oh[i] <= 0.0
        })
        .collect();
    let mut t = OutTable::default();
    t.push(
        "snapshot_date",
        ColData::Date(keep.iter().map(|&i| Some(s_date[i])).collect()),
    )
    .push(
        "sku",
        ColData::Str(keep.iter().map(|&i| Some(s_sku[i].clone())).collect()),
    )
    .push(
        "location",
        ColData::Str(keep.iter().map(|&i| Some(s_loc[i].clone())).collect()),
    )
    .push(
        "on_hand",
        ColData::F64(keep.iter().map(|&i| Some(s_oh[i])).collect()),
    )
    // Units promised to customers but not yet shipped, on the last snapshot.
    .push(
        "reserved",
        ColData::F64(
            keep.iter()
                .map(|&i| {
                    Some(if s_date[i] == end && i % 13 == 0 {
                        s_oh[i].min(2.0)
                    } else {
                        0.0
                    })
                })
                .collect(),
        ),
    );
    write(&t, dir, "stock.parquet")?;

    let mut t = OutTable::default();
    t.push("sku", strs(p_sku))
        .push("location", strs(p_loc))
        .push(
            "quantity",
            ColData::F64(p_qty.into_iter().map(Some).collect()),
        )
        .push(
            "expected_date",
            ColData::Date(p_date.into_iter().map(Some).collect()),
        );
    write(&t, dir, "open_pos.parquet")?;

    // Planned promotions in the next weeks (no draw from the generator: the history stays
    // the same): every 7th item, at all locations; one at its first location only.
    for (k, it) in items.iter().enumerate().filter(|(k, _)| k % 7 == 3) {
        let from = end + 4 + (k % 15) as Day;
        pr_sku.push(it.id.clone());
        pr_loc.push((k == 3).then(|| it.locs[0].to_string()));
        pr_from.push(Some(from));
        pr_to.push(Some(from + 6));
    }
    let mut t = OutTable::default();
    t.push("sku", strs(pr_sku))
        .push("location", ColData::Str(pr_loc))
        .push("start_date", ColData::Date(pr_from))
        .push("end_date", ColData::Date(pr_to));
    write(&t, dir, "promotions.parquet")?;

    // Master: 3 sold SKUs missing, 5 listed but never sold, some fields left empty.
    let mut ms: Vec<&Sku> = items.iter().collect();
    ms.retain(|s| !matches!(s.id.as_str(), "SKU-10007" | "SKU-10014" | "SKU-10021"));
    let mut t = OutTable::default();
    let never: Vec<String> = (0..5).map(|k| format!("SKU-9{k:04}")).collect();
    let n = ms.len() + never.len();
    let idx = |i: usize| i < ms.len();
    t.push(
        "sku",
        strs(
            ms.iter()
                .map(|s| s.id.clone())
                .chain(never.iter().cloned())
                .collect(),
        ),
    )
    .push(
        "supplier_id",
        strs(
            (0..n)
                .map(|i| {
                    if idx(i) {
                        SUPPLIERS[ms[i].supplier].id
                    } else {
                        "SUP-NORD"
                    }
                    .to_string()
                })
                .collect(),
        ),
    )
    .push(
        "unit_cost",
        ColData::F64(
            (0..n)
                .map(|i| {
                    Some(if idx(i) {
                        (ms[i].price * 0.55 * 100.0).round() / 100.0
                    } else {
                        3.5
                    })
                })
                .collect(),
        ),
    )
    .push(
        "lead_time_days",
        ColData::F64(
            (0..n)
                .map(|i| {
                    if idx(i) && i % 4 == 0 {
                        Some(SUPPLIERS[ms[i].supplier].lead + 1.0)
                    } else {
                        None
                    }
                })
                .collect(),
        ),
    )
    .push(
        "moq",
        ColData::F64(
            (0..n)
                .map(|i| Some(if idx(i) { ms[i].moq } else { 1.0 }))
                .collect(),
        ),
    )
    .push(
        "pack_size",
        ColData::F64(
            (0..n)
                .map(|i| Some(if idx(i) { ms[i].pack } else { 1.0 }))
                .collect(),
        ),
    )
    .push(
        "service_level",
        ColData::F64(
            (0..n)
                .map(|i| {
                    if idx(i) && ms[i].kind == Kind::Fast {
                        Some(0.97)
                    } else {
                        None
                    }
                })
                .collect(),
        ),
    )
    .push(
        "category",
        strs(
            (0..n)
                .map(|i| if idx(i) { ms[i].category } else { "home" }.to_string())
                .collect(),
        ),
    )
    .push(
        "shelf_life_days",
        ColData::F64(
            (0..n)
                .map(|i| {
                    if idx(i) && ms[i].category == "food" {
                        Some(180.0)
                    } else {
                        None
                    }
                })
                .collect(),
        ),
    )
    .push(
        "active",
        strs(
            (0..n)
                .map(|i| {
                    if idx(i) && ms[i].end < end {
                        "false"
                    } else {
                        "true"
                    }
                    .to_string()
                })
                .collect(),
        ),
    );
    // A few items carry their own policy, a list price and a shelf capacity, as masters do.
    t.push(
        "price",
        ColData::F64((0..n).map(|i| idx(i).then(|| ms[i].price)).collect()),
    )
    .push(
        "max_stock",
        ColData::F64(
            (0..n)
                .map(|i| (idx(i) && i % 9 == 4).then(|| (ms[i].base * 20.0).ceil().max(6.0)))
                .collect(),
        ),
    )
    .push(
        "policy",
        ColData::Str(
            (0..n)
                .map(|i| {
                    if !idx(i) {
                        return None;
                    }
                    match (ms[i].kind, i % 5) {
                        (Kind::Slow, 0) | (Kind::Fast, 2) => Some("rq".to_string()),
                        (Kind::Fast, 3) => Some("min_max".to_string()),
                        _ if ms[i].category == "food" && i % 3 == 0 => {
                            Some("newsvendor".to_string())
                        }
                        _ => None,
                    }
                })
                .collect(),
        ),
    );
    write(&t, dir, "products.parquet")?;

    // Planner overrides: a fixed quantity, a block, a service level, one expired and one
    // for a SKU that does not exist (reported as stale).
    let ov = |k: usize| ms[k.min(ms.len() - 1)].id.clone();
    let overrides = format!(
        "sku;location;action;value;reason;who;valid_until\n\
         {};WH-BER;fixed_qty;48;Aktion KW 3;m.mueller;2025-01-31\n\
         {};;block;;Auslaufartikel;m.mueller;\n\
         {};;service_level;0,99;Topseller;a.schmidt;\n\
         {};WH-BER;fixed_qty;10;alte Aktion;a.schmidt;2024-11-30\n\
         SKU-99999;;block;;Artikel gelöscht;m.mueller;\n",
        ov(1),
        ov(2),
        ov(3),
        ov(4)
    );
    std::fs::write(dir.join("overrides.csv"), overrides).map_err(|source| OutputError::Io {
        path: dir.join("overrides.csv"),
        source,
    })?;

    let mut t = OutTable::default();
    t.push(
        "supplier_id",
        strs(SUPPLIERS.iter().map(|s| s.id.to_string()).collect()),
    )
    .push(
        "lead_time_days",
        ColData::F64(SUPPLIERS.iter().map(|s| Some(s.lead)).collect()),
    )
    .push(
        "lead_time_sd_days",
        ColData::F64(SUPPLIERS.iter().map(|s| Some(s.lead_sd)).collect()),
    )
    .push(
        "order_weekdays",
        strs(SUPPLIERS.iter().map(|s| s.weekdays.to_string()).collect()),
    )
    .push(
        "min_order_value",
        ColData::F64(SUPPLIERS.iter().map(|s| Some(s.mov)).collect()),
    )
    .push(
        "currency",
        strs(SUPPLIERS.iter().map(|_| "EUR".to_string()).collect()),
    );
    write(&t, dir, "suppliers.parquet")?;
    Ok((total_lines, items.len()))
}
