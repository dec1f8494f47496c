//! Daily demand panel per (sku, location): one value array plus offsets, as statsforecast
//! stores it, so memory is linear in series × days and series are contiguous slices.
//!
//! Three kinds of zero are kept apart: a zero-demand day, a closed day (calendar: no
//! trading at all) and a censored day (the shelf was empty, so demand was not observed).

use rustc_hash::FxHashMap as HashMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use crate::config::Pipeline;
use crate::ingest::{day_of, Dataset, Day};

pub fn to_date(d: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(d + 719_163).unwrap_or_default()
}

pub fn from_date(d: NaiveDate) -> Day {
    d.num_days_from_ce() - 719_163
}

/// Which days the business trades, past and future.
#[derive(Debug, Clone, Serialize)]
pub struct TradingCalendar {
    pub start: Day,
    pub as_of: Day,
    /// Weekdays closed (configured or detected).
    pub closed_weekdays: Vec<String>,
    pub detected_weekdays: Vec<String>,
    /// Past dates with no trading although the weekday is open (detected) plus holidays.
    pub closed_dates: Vec<NaiveDate>,
    #[serde(skip)]
    weekdays: Vec<Weekday>,
    #[serde(skip)]
    past_closed: Vec<bool>,
    #[serde(skip)]
    holidays: Vec<Day>,
    /// Open days out of the ordinary for the whole shop (`calendar.events`), past and
    /// planned, by kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<(String, Vec<NaiveDate>)>,
    /// (day, kind index into `events`), sorted by day.
    #[serde(skip)]
    event_days: Vec<(Day, usize)>,
}

impl TradingCalendar {
    /// A calendar with the given closed weekdays and no other closures (tests, synthetic data).
    pub fn with_weekdays(start: Day, as_of: Day, closed: Vec<Weekday>) -> Self {
        let n = (as_of - start + 1).max(0) as usize;
        let past_closed = (0..n)
            .map(|i| closed.contains(&to_date(start + i as Day).weekday()))
            .collect();
        TradingCalendar {
            start,
            as_of,
            closed_weekdays: closed.iter().map(|w| weekday_name(*w)).collect(),
            detected_weekdays: vec![],
            closed_dates: vec![],
            weekdays: closed,
            past_closed,
            holidays: vec![],
            events: vec![],
            event_days: vec![],
        }
    }

    /// Sets the shop's event kinds and their days (`calendar.events`; a day of two kinds
    /// keeps the first).
    pub fn set_events(&mut self, kinds: &[(String, Vec<NaiveDate>)]) {
        self.events = kinds.to_vec();
        self.event_days = kinds
            .iter()
            .enumerate()
            .flat_map(|(k, (_, d))| d.iter().map(move |d| (from_date(*d), k)))
            .collect();
        self.event_days.sort();
        self.event_days.dedup_by_key(|e| e.0);
    }

    pub fn has_events(&self) -> bool {
        !self.event_days.is_empty()
    }

    /// Number of event kinds.
    pub fn event_kinds(&self) -> usize {
        self.events.len()
    }

    /// The kind of event on day `d`, if any.
    #[inline]
    pub fn event_kind(&self, d: Day) -> Option<usize> {
        if self.event_days.is_empty() {
            return None;
        }
        self.event_days
            .binary_search_by_key(&d, |e| e.0)
            .ok()
            .map(|i| self.event_days[i].1)
    }

    /// Called for every day of every candidate's every CV origin: the history is a table
    /// lookup inlined into the model loops, the future a separate (cold) path.
    #[inline]
    pub fn is_closed(&self, d: Day) -> bool {
        match self.past_closed.get(d.wrapping_sub(self.start) as usize) {
            Some(&c) if d >= self.start => c,
            _ => self.is_closed_future(d),
        }
    }

    #[cold]
    fn is_closed_future(&self, d: Day) -> bool {
        self.weekdays.contains(&to_date(d).weekday()) || self.holidays.binary_search(&d).is_ok()
    }
}

#[derive(Debug, Clone)]
pub struct SeriesMeta {
    pub sku: u32,
    pub loc: u32,
    /// First day of the slice (first sale).
    pub start: Day,
    pub offset: usize,
    pub len: usize,
    pub censored_days: usize,
    pub total_units: f64,
    pub last_sale: Day,
}

/// A series outside any pipeline: (start day, values, closed days, censored days).
pub type PlainSeries = (Day, Vec<f64>, Vec<bool>, Vec<bool>);

/// The panel: series sorted by (sku, location) name.
#[derive(Debug)]
pub struct Panel {
    pub as_of: Day,
    pub calendar: TradingCalendar,
    pub series: Vec<SeriesMeta>,
    values: Vec<f64>,
    censored: Vec<bool>,
    /// Unit-weighted mean paid price per day (NaN: no priced sale that day), aligned with
    /// `values`; None when no demand line carries a price. f32 halves its memory.
    prices: Option<Vec<f32>>,
    /// Each series' promotion days as sorted, disjoint inclusive ranges (absolute days, past
    /// and planned); empty without a promotion calendar.
    promos: Vec<Vec<(Day, Day)>>,
    /// Promotions of each series' rivals (same location and category): the groups, and
    /// each series' group (both empty without a promotion calendar).
    rival_groups: Vec<RivalGroup>,
    rival_of: Vec<u32>,
    pub demand_lines_after_as_of: usize,
    pub demand_units_after_as_of: f64,
}

/// A borrowed view of one series, the forecaster's input.
#[derive(Debug, Clone, Copy)]
pub struct SeriesView<'a> {
    pub start: Day,
    pub y: &'a [f64],
    pub censored: &'a [bool],
    pub calendar: &'a TradingCalendar,
    /// Mean paid price per day where the input has prices (pooled model's price features).
    pub prices: Option<&'a [f32]>,
    /// Promotion days, sorted disjoint inclusive ranges of absolute days (past and planned).
    pub promos: &'a [(Day, Day)],
    /// The series' rival group (same location and category), where there is a promotion
    /// calendar.
    pub rivals: Option<&'a RivalGroup>,
}

/// The series that compete for one shelf (same location and category): how many of them are
/// on promotion on each day, past and planned. A rival's promotion takes sales from the
/// others (Dominick's orange juice: a store's other brands on promotion cut a brand's units).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RivalGroup {
    /// Series of the shelf, whenever they sold (a constant denominator keeps the share of a
    /// planned day comparable with the past ones).
    pub size: u32,
    /// (first day, members on promotion from that day on), sorted by day.
    steps: Vec<(Day, u32)>,
}

impl RivalGroup {
    /// Members on promotion on day `d`.
    pub fn on_promotion(&self, d: Day) -> u32 {
        match self.steps.partition_point(|s| s.0 <= d) {
            0 => 0,
            k => self.steps[k - 1].1,
        }
    }
}

/// Groups series by `key` (first-seen order) and counts each group's members on promotion
/// day by day.
fn rival_groups<K: std::hash::Hash + Eq>(
    promos: &[Vec<(Day, Day)>],
    key: impl Fn(usize) -> K,
) -> (Vec<RivalGroup>, Vec<u32>) {
    if promos.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut ids: HashMap<K, u32> = HashMap::default();
    let mut of = Vec::with_capacity(promos.len());
    let mut deltas: Vec<Vec<(Day, i32)>> = Vec::new();
    let mut sizes: Vec<u32> = Vec::new();
    for (i, ranges) in promos.iter().enumerate() {
        let next = ids.len() as u32;
        let g = *ids.entry(key(i)).or_insert(next);
        if g == next {
            deltas.push(Vec::new());
            sizes.push(0);
        }
        sizes[g as usize] += 1;
        of.push(g);
        // A series' ranges are disjoint: each adds one member on its days.
        for &(a, b) in ranges {
            deltas[g as usize].push((a, 1));
            deltas[g as usize].push((b + 1, -1));
        }
    }
    let groups = deltas
        .into_iter()
        .zip(sizes)
        .map(|(mut d, size)| {
            d.sort_unstable();
            let mut steps: Vec<(Day, u32)> = Vec::new();
            let mut on = 0i32;
            for (day, delta) in d {
                on += delta;
                match steps.last_mut() {
                    Some(last) if last.0 == day => last.1 = on.max(0) as u32,
                    _ => steps.push((day, on.max(0) as u32)),
                }
            }
            RivalGroup { size, steps }
        })
        .collect();
    (groups, of)
}

impl<'a> SeriesView<'a> {
    #[inline]
    pub fn closed(&self, i: usize) -> bool {
        self.calendar.is_closed(self.start + i as Day)
    }
    /// Day `i` was open and not censored: its demand is observed.
    #[inline]
    pub fn usable(&self, i: usize) -> bool {
        !self.censored[i] && !self.closed(i)
    }
    /// The same series cut after `n` days (for rolling-origin evaluation).
    pub fn truncate(&self, n: usize) -> SeriesView<'a> {
        SeriesView {
            start: self.start,
            y: &self.y[..n],
            censored: &self.censored[..n],
            calendar: self.calendar,
            prices: self.prices.map(|p| &p[..n]),
            promos: self.promos,
            rivals: self.rivals,
        }
    }
    /// Day index `i` (may lie past the history) falls in a promotion.
    pub fn promo(&self, i: usize) -> bool {
        let d = self.start + i as Day;
        let k = self.promos.partition_point(|r| r.1 < d);
        self.promos.get(k).is_some_and(|r| r.0 <= d)
    }

    /// Share of the series' rivals (the others of its group) on promotion on day index `i`
    /// (may lie past the history); 0 without rivals.
    pub fn rival_promo(&self, i: usize) -> f64 {
        let Some(g) = self.rivals.filter(|g| g.size > 1) else {
            return 0.0;
        };
        let d = self.start + i as Day;
        let others = g.on_promotion(d).saturating_sub(u32::from(self.promo(i)));
        f64::from(others) / f64::from(g.size - 1)
    }

    /// Whether day `i` (relative to the series' start, future days too) is a shop event day.
    #[inline]
    pub fn event(&self, i: usize) -> bool {
        self.event_kind(i).is_some()
    }

    /// The kind of shop event on day `i` (relative to the series' start), if any.
    #[inline]
    pub fn event_kind(&self, i: usize) -> Option<usize> {
        self.calendar.event_kind(self.start + i as Day)
    }
}

impl Panel {
    /// A panel from plain series `(start day, values, closed days, censored days)` (peer
    /// benchmarks, generated M5-shaped panels). Series ids are their positions. A day
    /// marked closed in any series is a closed day of the shop; no future closures.
    pub fn from_plain(plain: Vec<PlainSeries>) -> Panel {
        let start = plain.iter().map(|s| s.0).min().unwrap_or(0);
        let as_of = plain
            .iter()
            .map(|s| s.0 + s.1.len() as Day - 1)
            .max()
            .unwrap_or(start);
        let ndays = (as_of - start + 1).max(1) as usize;
        let mut past_closed = vec![false; ndays];
        let mut series = Vec::with_capacity(plain.len());
        let total: usize = plain.iter().map(|s| s.1.len()).sum();
        let mut values = Vec::with_capacity(total);
        let mut censored = Vec::with_capacity(total);
        for (i, (s0, y, closed, cens)) in plain.into_iter().enumerate() {
            for (t, c) in closed.iter().enumerate() {
                if *c {
                    past_closed[(s0 - start) as usize + t] = true;
                }
            }
            let last_sale = y
                .iter()
                .rposition(|v| *v > 0.0)
                .map(|t| s0 + t as Day)
                .unwrap_or(s0);
            series.push(SeriesMeta {
                sku: i as u32,
                loc: 0,
                start: s0,
                offset: values.len(),
                len: y.len(),
                censored_days: cens.iter().filter(|c| **c).count(),
                total_units: y.iter().sum(),
                last_sale,
            });
            values.extend(y);
            censored.extend(cens);
        }
        let mut calendar = TradingCalendar::with_weekdays(start, as_of, vec![]);
        calendar.past_closed = past_closed;
        Panel {
            as_of,
            calendar,
            series,
            values,
            censored,
            prices: None,
            promos: Vec::new(),
            rival_groups: Vec::new(),
            rival_of: Vec::new(),
            demand_lines_after_as_of: 0,
            demand_units_after_as_of: 0.0,
        }
    }

    /// (sku id, location id) → series index, for joining other data onto the panel.
    pub fn index(&self) -> rustc_hash::FxHashMap<(u32, u32), usize> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.sku, s.loc), i))
            .collect()
    }

    /// Attaches each series' daily mean paid price (NaN: unknown) to a plain panel, in
    /// series order; a series' list must match its length.
    pub fn with_prices(mut self, prices: Vec<Vec<f32>>) -> Result<Panel, String> {
        if prices.len() != self.series.len() {
            return Err(format!(
                "{} price lists for {} series",
                prices.len(),
                self.series.len()
            ));
        }
        let mut all = Vec::with_capacity(self.values.len());
        for (i, (m, p)) in self.series.iter().zip(prices).enumerate() {
            if p.len() != m.len {
                return Err(format!(
                    "series {}: {} prices for {} days",
                    i + 1,
                    p.len(),
                    m.len
                ));
            }
            all.extend(p);
        }
        self.prices = Some(all);
        Ok(self)
    }

    /// Attaches promotion days (inclusive ranges of absolute days, any order) to a plain
    /// panel, one list per series.
    pub fn with_promotions(mut self, mut promos: Vec<Vec<(Day, Day)>>) -> Result<Panel, String> {
        if promos.len() != self.series.len() {
            return Err(format!(
                "{} promotion lists for {} series",
                promos.len(),
                self.series.len()
            ));
        }
        for r in &mut promos {
            if let Some(&(a, b)) = r.iter().find(|(a, b)| b < a) {
                return Err(format!(
                    "promotion from day {a} to day {b} ends before it starts"
                ));
            }
            merge_ranges(r);
        }
        let series = &self.series;
        (self.rival_groups, self.rival_of) = rival_groups(&promos, |i| series[i].loc);
        self.promos = promos;
        Ok(self)
    }

    /// A promotion calendar was given (the pooled model's promotion features are live).
    pub fn has_promotions(&self) -> bool {
        !self.promos.is_empty()
    }

    /// The input carried prices (the pooled model's price features are live).
    pub fn has_prices(&self) -> bool {
        self.prices.is_some()
    }

    /// The rival groups (shelves), where there is a promotion calendar.
    pub fn rival_groups(&self) -> &[RivalGroup] {
        &self.rival_groups
    }

    /// Series `i`'s rival group (same location and category), where there is a promotion
    /// calendar.
    pub fn rival_group(&self, i: usize) -> Option<u32> {
        self.rival_of.get(i).copied()
    }

    pub fn view(&self, i: usize) -> SeriesView<'_> {
        let s = &self.series[i];
        SeriesView {
            start: s.start,
            y: &self.values[s.offset..s.offset + s.len],
            censored: &self.censored[s.offset..s.offset + s.len],
            calendar: &self.calendar,
            prices: self
                .prices
                .as_deref()
                .map(|p| &p[s.offset..s.offset + s.len]),
            promos: self.promos.get(i).map_or(&[], |v| v.as_slice()),
            rivals: self
                .rival_of
                .get(i)
                .and_then(|&g| self.rival_groups.get(g as usize)),
        }
    }
}

/// Each series' promotion days from the calendar (a promotion without a location covers
/// every location of its SKU), merged into sorted disjoint ranges. Promotions of SKUs or
/// locations with no series are counted in the log: nothing to forecast for them.
fn promotion_ranges(ds: &Dataset, series: &[SeriesMeta]) -> Vec<Vec<(Day, Day)>> {
    if ds.promotions.is_empty() {
        return Vec::new();
    }
    let mut by_sku: HashMap<u32, Vec<usize>> = HashMap::default();
    for (i, m) in series.iter().enumerate() {
        by_sku.entry(m.sku).or_default().push(i);
    }
    let mut out: Vec<Vec<(Day, Day)>> = vec![Vec::new(); series.len()];
    let mut unmatched = 0usize;
    for pr in &ds.promotions {
        let mut hit = false;
        for &i in by_sku.get(&pr.sku).map_or(&[][..], |v| v.as_slice()) {
            if pr.loc.is_none_or(|l| l == series[i].loc) {
                out[i].push((pr.from, pr.to));
                hit = true;
            }
        }
        unmatched += usize::from(!hit);
    }
    for r in &mut out {
        merge_ranges(r);
    }
    tracing::info!(
        promotions = ds.promotions.len(),
        without_series = unmatched,
        "promotion calendar"
    );
    out
}

/// The shelf a series competes on: its location and, where the product master has one, its
/// category.
fn shelf<'a>(ds: &'a Dataset, m: &SeriesMeta) -> (u32, Option<&'a str>) {
    let cat = ds.products.get(&m.sku).and_then(|p| p.category.as_deref());
    (m.loc, cat)
}

/// Sorts inclusive day ranges and merges overlapping or adjacent ones.
fn merge_ranges(r: &mut Vec<(Day, Day)>) {
    r.sort_unstable();
    let mut merged: Vec<(Day, Day)> = Vec::with_capacity(r.len());
    for &(a, b) in r.iter() {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    *r = merged;
}

fn weekday_name(w: Weekday) -> String {
    format!("{w:?}").to_lowercase()
}

/// Builds the panel up to `as_of` (inclusive). Demand after `as_of` is counted, not used.
pub fn build(p: &Pipeline, ds: &Dataset, as_of: Day) -> Panel {
    let span = tracing::info_span!("panel");
    let _g = span.enter();
    // Hash maps, not B-trees: every one of up to 17 M demand lines looks its series up.
    let mut first: HashMap<(u32, u32), Day> = HashMap::default();
    let mut after = 0usize;
    let mut after_units = 0.0;
    let mut start = as_of;
    for d in &ds.demand {
        let day = day_of(d.at);
        if day > as_of {
            after += 1;
            after_units += d.qty;
            continue;
        }
        start = start.min(day);
        let e = first.entry((d.sku, d.loc)).or_insert(day);
        *e = (*e).min(day);
    }
    let ndays = (as_of - start + 1).max(1) as usize;

    // Trading calendar: lines per day across everything sold.
    let mut lines_per_day = vec![0usize; ndays];
    for d in &ds.demand {
        let day = day_of(d.at);
        if day >= start && day <= as_of {
            lines_per_day[(day - start) as usize] += 1;
        }
    }
    let mut weekdays = p.closed_weekdays.clone();
    let mut detected = Vec::new();
    if p.calendar.detect_closed_days && ndays >= 56 {
        let trade_share = lines_per_day.iter().filter(|&&n| n > 0).count() as f64 / ndays as f64;
        for w in 0..7u32 {
            let wd = Weekday::try_from(w as u8).unwrap_or(Weekday::Mon);
            let idx: Vec<usize> = (0..ndays)
                .filter(|&i| to_date(start + i as Day).weekday() == wd)
                .collect();
            let zero = idx.iter().filter(|&&i| lines_per_day[i] == 0).count();
            // A weekday with (almost) no trading in a shop that otherwise trades most days.
            if idx.len() >= 8
                && zero as f64 >= 0.9 * idx.len() as f64
                && trade_share >= 0.5
                && !weekdays.contains(&wd)
            {
                weekdays.push(wd);
                detected.push(weekday_name(wd));
            }
        }
    }
    let mut holidays: Vec<Day> = p.holidays.iter().map(|d| from_date(*d)).collect();
    holidays.sort();
    let mut past_closed = vec![false; ndays];
    let mut closed_dates = Vec::new();
    let open_days =
        (0..ndays).filter(|&i| !weekdays.contains(&to_date(start + i as Day).weekday()));
    let open_idx: Vec<usize> = open_days.collect();
    let open_trade = open_idx.iter().filter(|&&i| lines_per_day[i] > 0).count() as f64
        / open_idx.len().max(1) as f64;
    for i in 0..ndays {
        let d = start + i as Day;
        if lines_per_day[i] > 0 {
            continue; // a day with sales is a trading day, whatever the configuration says
        }
        let wd = to_date(d).weekday();
        let holiday = holidays.binary_search(&d).is_ok();
        // An open weekday without a single line, in a shop that trades ≥ 90 % of open days.
        let gap = p.calendar.detect_closed_days && open_trade >= 0.9 && ndays >= 56;
        if weekdays.contains(&wd) || holiday || gap {
            past_closed[i] = true;
            if !weekdays.contains(&wd) {
                closed_dates.push(to_date(d));
            }
        }
    }
    let mut calendar = TradingCalendar {
        start,
        as_of,
        closed_weekdays: weekdays.iter().map(|w| weekday_name(*w)).collect(),
        detected_weekdays: detected,
        closed_dates,
        weekdays,
        past_closed,
        holidays,
        events: vec![],
        event_days: vec![],
    };
    calendar.set_events(&p.events);

    // Series sorted by names so outputs never depend on interning order.
    let mut keys: Vec<((u32, u32), Day)> = first.into_iter().collect();
    keys.sort_by(|a, b| {
        (ds.skus.name(a.0 .0), ds.locs.name(a.0 .1))
            .cmp(&(ds.skus.name(b.0 .0), ds.locs.name(b.0 .1)))
    });
    let mut series = Vec::with_capacity(keys.len());
    let mut index: HashMap<(u32, u32), usize> = HashMap::default();
    index.reserve(keys.len());
    let mut offset = 0usize;
    for (k, ((sku, loc), s)) in keys.into_iter().enumerate() {
        let len = (as_of - s + 1) as usize;
        series.push(SeriesMeta {
            sku,
            loc,
            start: s,
            offset,
            len,
            censored_days: 0,
            total_units: 0.0,
            last_sale: s,
        });
        index.insert((sku, loc), k);
        offset += len;
    }
    let mut values = vec![0.0; offset];
    let mut censored = vec![false; offset];
    // Revenue and units of the priced lines per day, turned into the day's mean price. When
    // every line has a price (the usual export) the day's units are the priced units, and
    // the second array is not needed (M5 size: 237 MB).
    let (mut any_priced, mut all_priced) = (false, true);
    for d in ds.demand.iter().filter(|d| day_of(d.at) <= as_of) {
        let p = d.price().is_some();
        any_priced |= p;
        all_priced &= p;
    }
    let priced = any_priced;
    let (mut revenue, mut priced_units) = match (any_priced, all_priced) {
        (true, true) => (vec![0.0f32; offset], Vec::new()),
        (true, false) => (vec![0.0f32; offset], vec![0.0f32; offset]),
        _ => (Vec::new(), Vec::new()),
    };
    for d in &ds.demand {
        let day = day_of(d.at);
        if day > as_of {
            continue;
        }
        if let Some(&k) = index.get(&(d.sku, d.loc)) {
            let s = &mut series[k];
            let i = s.offset + (day - s.start) as usize;
            values[i] += d.qty;
            s.total_units += d.qty;
            s.last_sale = s.last_sale.max(day);
            if let (true, Some(p)) = (priced, d.price()) {
                revenue[i] += (d.qty * p) as f32;
                if let Some(u) = priced_units.get_mut(i) {
                    *u += d.qty as f32;
                }
            }
        }
    }
    let prices = priced.then(|| {
        for (i, r) in revenue.iter_mut().enumerate() {
            let u = priced_units.get(i).copied().unwrap_or(values[i] as f32);
            *r = if u > 0.0 { *r / u } else { f32::NAN };
        }
        revenue
    });
    drop(priced_units);
    for r in &ds.stock {
        if r.on_hand > 0.0 || r.day > as_of {
            continue;
        }
        if let Some(&k) = index.get(&(r.sku, r.loc)) {
            let s = &mut series[k];
            if r.day >= s.start {
                let i = s.offset + (r.day - s.start) as usize;
                // A day with sales above zero stock still saw some demand: censored only
                // means "demand may have been higher", which is exactly the case.
                if !censored[i] {
                    censored[i] = true;
                    s.censored_days += 1;
                }
            }
        }
    }
    let promos = promotion_ranges(ds, &series);
    // Rivals share a location and, where the product master has one, a category.
    let (rival_groups, rival_of) = rival_groups(&promos, |i| shelf(ds, &series[i]));
    tracing::info!(
        series = series.len(),
        days = ndays,
        after_as_of = after,
        "panel built"
    );
    Panel {
        as_of,
        calendar,
        series,
        values,
        censored,
        prices,
        promos,
        rival_groups,
        rival_of,
        demand_lines_after_as_of: after,
        demand_units_after_as_of: after_units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10-day series of `sku` at `loc` (only the keys matter to these tests).
    fn meta(sku: u32, loc: u32) -> SeriesMeta {
        SeriesMeta {
            sku,
            loc,
            start: 0,
            offset: 0,
            len: 10,
            censored_days: 0,
            total_units: 0.0,
            last_sale: 0,
        }
    }

    #[test]
    fn promotions_map_to_series_merged_and_by_location() {
        let mut ds = Dataset::default();
        let (a, b) = (ds.skus.intern("A"), ds.skus.intern("B"));
        let (x, y) = (ds.locs.intern("X"), ds.locs.intern("Y"));
        let series = [meta(a, x), meta(a, y), meta(b, x)];
        let pr = |sku, loc, from, to| crate::ingest::Promotion { sku, loc, from, to };
        ds.promotions = vec![
            pr(a, None, 10, 16),    // all of A's locations
            pr(a, Some(y), 15, 20), // overlaps at Y: merged
            pr(a, Some(x), 17, 17), // adjacent at X: merged
            pr(b, Some(y), 1, 3),   // B has no series at Y
        ];
        let r = promotion_ranges(&ds, &series);
        assert_eq!(r, vec![vec![(10, 17)], vec![(10, 20)], vec![]]);
        let cal = TradingCalendar::with_weekdays(0, 30, vec![]);
        let v = SeriesView {
            start: 5,
            y: &[0.0; 10],
            censored: &[false; 10],
            calendar: &cal,
            prices: None,
            promos: &r[1],
            rivals: None,
        };
        // Day index i is absolute day 5 + i; promotions may lie past the history.
        assert!(!v.promo(4) && v.promo(5) && v.promo(15) && !v.promo(16));
        assert!(promotion_ranges(&Dataset::default(), &series).is_empty());
    }

    /// Rivals share a location and category. A series' share counts the others on promotion
    /// (its own promotion left out), on past and planned days alike.
    #[test]
    fn rivals_are_the_others_on_the_same_shelf() {
        let mut ds = Dataset::default();
        let (a, b, c) = (
            ds.skus.intern("A"),
            ds.skus.intern("B"),
            ds.skus.intern("C"),
        );
        let (x, y) = (ds.locs.intern("X"), ds.locs.intern("Y"));
        for (sku, cat) in [(a, "juice"), (b, "juice"), (c, "bread")] {
            let p = crate::ingest::Product {
                category: Some(cat.into()),
                ..Default::default()
            };
            ds.products.insert(sku, p);
        }
        let d = ds.skus.intern("D"); // no master row: a shelf of its own at X
        let series = [meta(a, x), meta(b, x), meta(c, x), meta(a, y), meta(d, x)];
        let promos = vec![
            vec![(2, 4), (8, 8)],
            vec![(3, 12)],
            vec![(0, 20)],
            vec![(0, 20)],
            vec![(0, 20)],
        ];
        let (groups, of) = rival_groups(&promos, |i| shelf(&ds, &series[i]));
        assert_eq!(of, vec![0, 0, 1, 2, 3]);
        assert_eq!(groups[0].size, 2);
        let counts: Vec<u32> = (0..14).map(|d| groups[0].on_promotion(d)).collect();
        assert_eq!(counts, [0, 0, 1, 2, 2, 1, 1, 1, 2, 1, 1, 1, 1, 0]);
        let cal = TradingCalendar::with_weekdays(0, 5, vec![]);
        let view = |i: usize| SeriesView {
            start: 0,
            y: &[0.0; 6],
            censored: &[false; 6],
            calendar: &cal,
            prices: None,
            promos: &promos[i],
            rivals: groups.get(of[i] as usize),
        };
        // A: B is on from day 3 (day 8 lies past the history: planned); B: A on days 2–4, 8.
        let share = |i: usize| -> Vec<f64> { (0..10).map(|d| view(i).rival_promo(d)).collect() };
        assert_eq!(share(0), [0., 0., 0., 1., 1., 1., 1., 1., 1., 1.]);
        assert_eq!(share(1), [0., 0., 1., 1., 1., 0., 0., 0., 1., 0.]);
        // Alone on its shelf: no rivals, whatever the calendar says.
        assert!((0..10).all(|d| view(2).rival_promo(d) == 0.0 && view(4).rival_promo(d) == 0.0));
        assert_eq!(rival_groups(&[], |i| i), (vec![], vec![]));
    }

    #[test]
    fn day_numbers_round_trip() {
        let d = NaiveDate::from_ymd_opt(2011, 12, 9).unwrap();
        assert_eq!(to_date(from_date(d)), d);
        assert_eq!(from_date(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
    }
}
