//! Sharded runs. `restock run --shard i/N` forecasts the series whose stable hash of
//! (sku, location) falls in shard i and writes them to `<out>/shard=i/<run_id>/` (Hive-style
//! partition, `latest` as for runs); `restock merge` reads the N shards' latest states and
//! finishes the run — returns, replenishment, export — exactly as one machine would, so the
//! proposals are byte-identical to a single-machine run.
//!
//! Only the forecast is sharded: it is the stage that grows with series × candidate models
//! (well over 90 % of a large run). ABC ranks, supplier minimum order values and budgets span
//! all series, so replenishment runs once, in the merge. Every shard reads all inputs and
//! trains the pooled model on the whole panel, which keeps its forecasts identical to the
//! single run's.
//!
//! The state file is a small binary encoding of each series' forecast (little-endian f64
//! bits, so NaN and every digit survive; strings length-prefixed) behind a fingerprint of
//! the panel, calendar, windows and forecast settings; the merge refuses shards of another
//! run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::config::Pipeline;
use crate::error::{ConfigError, Error, InputError, OutputError, Result};
use crate::forecast::select::{ClassPrior, Prior, WindowRecal};
use crate::forecast::{CandidateScore, ClassInfo, DemandClass, SeriesForecast};
use crate::ingest::Dataset;
use crate::panel::Panel;

/// Which part of the series a shard process takes: `index` of `count`, 0-based (the
/// completion index of a Kubernetes Indexed Job, `SLURM_ARRAY_TASK_ID`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

/// Most shards a run may be split into.
pub const MAX_SHARDS: usize = 4096;

impl FromStr for ShardSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<ShardSpec> {
        let bad = |detail: String| {
            Error::Config(ConfigError::Invalid {
                key: "--shard".into(),
                detail,
            })
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad(format!("'{s}' is not i/N (e.g. 0/4)")))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| bad(format!("shard index '{i}' is not a number")))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("shard count '{n}' is not a number")))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(bad(format!(
                "shard count must be 1..={MAX_SHARDS}, got {count}"
            )));
        }
        if index >= count {
            return Err(bad(format!(
                "shard index {index} must be below the count {count} (0-based)"
            )));
        }
        Ok(ShardSpec { index, count })
    }
}

/// Stable shard of a series: SHA-256 of "sku␟location", first 8 bytes as a little-endian
/// integer, modulo the count. Independent of platform, version and thread count.
pub fn shard_of(sku: &str, location: &str, count: usize) -> usize {
    let mut h = Sha256::new();
    h.update(sku.as_bytes());
    h.update([0x1f]);
    h.update(location.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_le_bytes(b) % count.max(1) as u64) as usize
}

/// Panel indices of the series in shard `spec`, in panel order.
pub fn series_of(ds: &Dataset, panel: &Panel, spec: ShardSpec) -> Vec<usize> {
    (0..panel.series.len())
        .filter(|&i| {
            let m = &panel.series[i];
            shard_of(ds.skus.name(m.sku), ds.locs.name(m.loc), spec.count) == spec.index
        })
        .collect()
}

/// What the forecasts depend on: every series' name, start, daily values, censored days,
/// prices, promotions and rival groups (so any change of inputs or of ingest and calendar rules shows), the trading calendar,
/// each series' protection window, the horizon and the forecast settings. Shards and merge
/// must agree on it.
pub fn fingerprint(p: &Pipeline, ds: &Dataset, panel: &Panel, windows: &[usize]) -> String {
    let mut h = Sha256::new();
    h.update(panel.as_of.to_le_bytes());
    h.update(p.horizon_days.to_le_bytes());
    h.update(
        serde_json::to_string(&p.forecast)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(
        serde_json::to_string(&panel.calendar)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update((panel.series.len() as u64).to_le_bytes());
    for (i, m) in panel.series.iter().enumerate() {
        h.update(ds.skus.name(m.sku).as_bytes());
        h.update([0x1f]);
        h.update(ds.locs.name(m.loc).as_bytes());
        h.update([0x1e]);
        h.update(m.start.to_le_bytes());
        h.update((windows.get(i).copied().unwrap_or(0) as u64).to_le_bytes());
        let v = panel.view(i);
        for (y, c) in v.y.iter().zip(v.censored) {
            h.update(y.to_bits().to_le_bytes());
            h.update([u8::from(*c)]);
        }
        // The pooled model's price and promotion features read them.
        if let Some(p) = v.prices {
            h.update([0x1d]);
            for x in p {
                h.update(x.to_bits().to_le_bytes());
            }
        }
        if !v.promos.is_empty() {
            h.update([0x1c]);
            for (a, b) in v.promos {
                h.update(a.to_le_bytes());
                h.update(b.to_le_bytes());
            }
        }
        if let Some(g) = panel.rival_group(i) {
            h.update([0x1b]);
            h.update(g.to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const MAGIC: &[u8; 16] = b"RESTOCK-SHARD-11";
pub const STATE_FILE: &str = "forecasts.state";
pub const SHARD_MANIFEST: &str = "shard.json";

/// Names of models, methods and fallback kinds come back as the `&'static str` the engine
/// uses; each distinct name is allocated once per process.
fn intern(s: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeMap<String, &'static str>>> = OnceLock::new();
    let m = NAMES.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut g = match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if let Some(v) = g.get(s) {
        return v;
    }
    let v: &'static str = Box::leak(s.to_string().into_boxed_str());
    g.insert(s.to_string(), v);
    v
}

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
            None => self.0.push(0),
        }
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.0.push(1);
                self.f64(v);
            }
            None => self.0.push(0),
        }
    }
    fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        for x in v {
            self.f64(*x);
        }
    }

    fn prior(&mut self, p: Option<&Prior>) {
        let Some(p) = p else {
            self.0.push(0);
            return;
        };
        self.0.push(1);
        self.u64(p.classes.len() as u64);
        for c in &p.classes {
            self.str(c.class.as_str());
            self.u64(c.series as u64);
            self.f64(c.reliability);
            self.u64(c.effects.len() as u64);
            for (m, e) in &c.effects {
                self.str(m);
                self.f64(*e);
            }
        }
        self.u64(p.windows.len() as u64);
        for w in &p.windows {
            self.str(w.class.as_str());
            self.u64(w.windows as u64);
            self.f64(w.carried);
            self.f64s(&w.levels);
        }
    }

    fn forecast(&mut self, f: &SeriesForecast) {
        self.str(f.model);
        self.u64(f.members.len() as u64);
        for m in &f.members {
            self.str(m);
        }
        self.str(f.class.class.as_str());
        self.f64(f.class.adi);
        self.f64(f.class.cv2);
        self.u64(f.class.trading_days as u64);
        self.f64s(&f.mean);
        self.u64(f.quantiles.len() as u64);
        for q in &f.quantiles {
            for x in q {
                self.f64(*x);
            }
        }
        self.u64(f.daily_errors.len() as u64);
        for b in &f.daily_errors {
            self.f64s(b);
        }
        self.u64(f.closed_days.len() as u64);
        for d in &f.closed_days {
            self.u64(*d as u64);
        }
        self.f64(f.zero_share);
        self.str(f.quantile_method);
        self.u64(f.window_days as u64);
        self.f64(f.window_mean);
        self.f64s(&f.window_errors);
        self.f64(f.daily_error_sd);
        self.f64(f.daily_mse);
        self.str(f.window_method);
        self.f64(f.window_dispersion);
        self.u64(f.scores.len() as u64);
        for s in &f.scores {
            self.str(s.model);
            self.opt_f64(s.score);
            self.opt_f64(s.mae);
            self.opt_str(s.error.as_deref());
        }
        self.u64(f.cv_origins as u64);
        self.opt_str(f.fallback.as_deref());
        self.opt_str(f.fallback_kind);
        self.opt_f64(f.selection_weight);
        match f.stall {
            Some((run, p)) => {
                self.u64(1);
                self.u64(run as u64);
                self.f64(p);
            }
            None => self.u64(0),
        }
        self.opt_f64(f.promo_lift);
        self.opt_f64(f.event_lift);
        self.opt_f64(f.yearly_move);
    }
}

struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

type DecResult<T> = std::result::Result<T, String>;

impl Dec<'_> {
    fn take(&mut self, n: usize) -> DecResult<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u64(&mut self) -> DecResult<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn len(&mut self) -> DecResult<usize> {
        let n = self.u64()?;
        // Nothing in a state is longer than the file itself.
        if n > self.b.len() as u64 {
            return Err(format!("implausible length {n} at byte {}", self.at - 8));
        }
        Ok(n as usize)
    }
    fn usize(&mut self) -> DecResult<usize> {
        Ok(self.u64()? as usize)
    }
    fn f64(&mut self) -> DecResult<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn string(&mut self) -> DecResult<String> {
        let n = self.len()?;
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| format!("invalid text at byte {at}"))
    }
    fn flag(&mut self) -> DecResult<bool> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!("invalid flag {v} at byte {}", self.at - 1)),
        }
    }
    fn opt_string(&mut self) -> DecResult<Option<String>> {
        if self.flag()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }
    fn opt_f64(&mut self) -> DecResult<Option<f64>> {
        if self.flag()? {
            self.f64().map(Some)
        } else {
            Ok(None)
        }
    }
    fn f64s(&mut self) -> DecResult<Vec<f64>> {
        let n = self.len()?;
        (0..n).map(|_| self.f64()).collect()
    }

    fn class(&mut self) -> DecResult<DemandClass> {
        let name = self.string()?;
        DemandClass::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| format!("unknown demand class '{name}'"))
    }

    fn prior(&mut self) -> DecResult<Option<Prior>> {
        if !self.flag()? {
            return Ok(None);
        }
        let n = self.len()?;
        let mut classes = Vec::new();
        for _ in 0..n {
            let class = self.class()?;
            let series = self.usize()?;
            let reliability = self.f64()?;
            let ne = self.len()?;
            let effects = (0..ne)
                .map(|_| Ok((intern(&self.string()?), self.f64()?)))
                .collect::<DecResult<Vec<_>>>()?;
            classes.push(ClassPrior {
                class,
                series,
                reliability,
                effects,
            });
        }
        let nw = self.len()?;
        let mut windows = Vec::new();
        for _ in 0..nw {
            windows.push(WindowRecal {
                class: self.class()?,
                windows: self.usize()?,
                carried: self.f64()?,
                levels: std::sync::Arc::new(self.f64s()?),
            });
        }
        Ok(Some(Prior { classes, windows }))
    }

    fn forecast(&mut self) -> DecResult<SeriesForecast> {
        let model = intern(&self.string()?);
        let nm = self.len()?;
        let members = (0..nm)
            .map(|_| self.string().map(|s| intern(&s)))
            .collect::<DecResult<Vec<_>>>()?;
        let class = ClassInfo {
            class: self.class()?,
            adi: self.f64()?,
            cv2: self.f64()?,
            trading_days: self.usize()?,
        };
        let mean = self.f64s()?;
        let nq = self.len()?;
        let mut quantiles = Vec::new();
        for _ in 0..nq {
            let mut q = [0.0; 7];
            for x in q.iter_mut() {
                *x = self.f64()?;
            }
            quantiles.push(q);
        }
        let nb = self.len()?;
        let daily_errors = (0..nb)
            .map(|_| self.f64s())
            .collect::<DecResult<Vec<_>>>()?;
        let nc = self.len()?;
        let closed_days = (0..nc)
            .map(|_| self.usize())
            .collect::<DecResult<Vec<_>>>()?;
        let zero_share = self.f64()?;
        let quantile_method = intern(&self.string()?);
        let window_days = self.usize()?;
        let window_mean = self.f64()?;
        let window_errors = self.f64s()?;
        let daily_error_sd = self.f64()?;
        let daily_mse = self.f64()?;
        let window_method = intern(&self.string()?);
        let window_dispersion = self.f64()?;
        let ns = self.len()?;
        let mut scores = Vec::new();
        for _ in 0..ns {
            scores.push(CandidateScore {
                model: intern(&self.string()?),
                score: self.opt_f64()?,
                mae: self.opt_f64()?,
                error: self.opt_string()?,
            });
        }
        let cv_origins = self.usize()?;
        let fallback = self.opt_string()?;
        let fallback_kind = self.opt_string()?.map(|s| intern(&s));
        let selection_weight = self.opt_f64()?;
        let stall = match self.u64()? {
            0 => None,
            _ => Some((self.usize()?, self.f64()?)),
        };
        let promo_lift = self.opt_f64()?;
        let event_lift = self.opt_f64()?;
        let yearly_move = self.opt_f64()?;
        Ok(SeriesForecast {
            model,
            members,
            class,
            mean,
            quantiles,
            daily_errors,
            closed_days,
            zero_share,
            quantile_method,
            window_days,
            window_mean,
            window_errors,
            daily_error_sd,
            daily_mse,
            window_method,
            window_dispersion,
            window_levels: None,
            scores,
            cv_origins,
            fallback,
            fallback_kind,
            selection_weight,
            stall,
            promo_lift,
            event_lift,
            yearly_move,
        })
    }
}

/// One shard's forecasts as read back.
pub struct ShardState {
    pub spec: ShardSpec,
    pub fingerprint: String,
    /// The selection prior the shard chose models with (the same in every shard).
    pub prior: Option<Prior>,
    /// (sku, location, forecast), in panel order.
    pub series: Vec<(String, String, SeriesForecast)>,
}

/// Encodes a shard's forecasts (`items`: sku, location, forecast).
pub fn encode_state(
    spec: ShardSpec,
    fingerprint: &str,
    prior: Option<&Prior>,
    items: &[(&str, &str, &SeriesForecast)],
) -> Vec<u8> {
    let mut e = Enc::default();
    e.0.extend_from_slice(MAGIC);
    e.u64(spec.index as u64);
    e.u64(spec.count as u64);
    e.str(fingerprint);
    e.prior(prior);
    e.u64(items.len() as u64);
    for (sku, loc, f) in items {
        e.str(sku);
        e.str(loc);
        e.forecast(f);
    }
    e.0
}

pub fn decode_state(bytes: &[u8]) -> DecResult<ShardState> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        let family = &MAGIC[..MAGIC.len() - 2];
        if bytes.len() >= MAGIC.len() && &bytes[..family.len()] == family {
            let v = String::from_utf8_lossy(&bytes[family.len()..MAGIC.len()]);
            return Err(format!(
                "shard state format {v} from another restock version (this one reads {}); \
                 rerun the shards with this build",
                String::from_utf8_lossy(&MAGIC[family.len()..])
            ));
        }
        return Err("not a restock shard state (bad magic)".into());
    }
    let mut d = Dec {
        b: bytes,
        at: MAGIC.len(),
    };
    let index = d.usize()?;
    let count = d.usize()?;
    if count == 0 || count > MAX_SHARDS || index >= count {
        return Err(format!("invalid shard {index}/{count}"));
    }
    let fingerprint = d.string()?;
    let prior = d.prior()?;
    let n = d.len()?;
    let mut series = Vec::new(); // lengths come from the file: no pre-allocation on trust
    for _ in 0..n {
        let sku = d.string()?;
        let loc = d.string()?;
        let mut f = d.forecast()?;
        // The levels are the prior's (as the forecast stage sets them), not stored twice.
        f.read_window_levels(prior.as_ref());
        series.push((sku, loc, f));
    }
    if d.at != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - d.at));
    }
    Ok(ShardState {
        spec: ShardSpec { index, count },
        fingerprint,
        prior,
        series,
    })
}

/// The folder of shard `i` under a run's output folder (Hive-style partition).
pub fn shard_dir(out: &Path, index: usize) -> PathBuf {
    out.join(format!("shard={index}"))
}

/// Reads every `shard=i/latest/forecasts.state` under `dir` and puts the forecasts in panel
/// order. Refuses missing, duplicate or foreign shards (another fingerprint or count) and
/// any series missing, duplicated or unknown to this run's panel.
pub fn load_forecasts(
    dir: &Path,
    ds: &Dataset,
    panel: &Panel,
    fingerprint: &str,
) -> Result<(usize, Vec<SeriesForecast>, Option<Prior>)> {
    let bad = |path: &Path, detail: String| {
        Error::Input(InputError::Other {
            input: "shards",
            path: path.to_path_buf(),
            detail,
        })
    };
    let mut found: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let rd = std::fs::read_dir(dir).map_err(|e| bad(dir, format!("cannot list shards: {e}")))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(i) = name.strip_prefix("shard=") {
            let i: usize = i
                .parse()
                .map_err(|_| bad(&e.path(), format!("folder '{name}' is not shard=<index>")))?;
            found.insert(i, e.path().join("latest").join(STATE_FILE));
        }
    }
    if found.is_empty() {
        return Err(bad(dir, "no shard=<i> folders".into()));
    }
    let index: BTreeMap<(&str, &str), usize> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, m)| ((ds.skus.name(m.sku), ds.locs.name(m.loc)), i))
        .collect();
    let mut out: Vec<Option<SeriesForecast>> = (0..panel.series.len()).map(|_| None).collect();
    let mut count = None;
    let mut prior: Option<Option<Prior>> = None;
    for (i, path) in &found {
        let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot be read: {e}")))?;
        let st = decode_state(&bytes).map_err(|d| bad(path, d))?;
        if st.spec.index != *i {
            return Err(bad(
                path,
                format!("holds shard {} but sits in shard={i}", st.spec.index),
            ));
        }
        match count {
            None => count = Some(st.spec.count),
            Some(c) if c != st.spec.count => {
                return Err(bad(
                    path,
                    format!("is one of {} shards, others of {c}", st.spec.count),
                ))
            }
            _ => {}
        }
        if st.fingerprint != fingerprint {
            return Err(bad(
                path,
                "was computed from other inputs or settings than this merge (fingerprint differs); \
                 rerun the shards"
                    .into(),
            ));
        }
        // Same inputs and settings give the same prior; another one means another build.
        match &prior {
            None => prior = Some(st.prior.clone()),
            Some(p) if *p != st.prior => return Err(bad(
                path,
                "chose models with another selection prior than the shards before it (shards from \
                     different restock versions?); rerun the shards"
                    .into(),
            )),
            _ => {}
        }
        for (sku, loc, f) in st.series {
            let k = index.get(&(sku.as_str(), loc.as_str())).ok_or_else(|| {
                bad(
                    path,
                    format!("series {sku}/{loc} is not in this run's panel"),
                )
            })?;
            if out[*k].replace(f).is_some() {
                return Err(bad(path, format!("series {sku}/{loc} is in two shards")));
            }
        }
    }
    let count = count.unwrap_or(0);
    let missing: Vec<String> = (0..count)
        .filter(|i| !found.contains_key(i))
        .map(|i| format!("shard={i}"))
        .collect();
    if !missing.is_empty() || found.keys().any(|i| *i >= count) {
        return Err(bad(
            dir,
            format!(
                "expected shards 0..{count}; missing: {}",
                if missing.is_empty() {
                    "none (but extra ones)".into()
                } else {
                    missing.join(", ")
                }
            ),
        ));
    }
    let mut fc = Vec::with_capacity(out.len());
    for (i, f) in out.into_iter().enumerate() {
        match f {
            Some(f) => fc.push(f),
            None => {
                let m = &panel.series[i];
                return Err(bad(
                    dir,
                    format!(
                        "series {}/{} is in no shard",
                        ds.skus.name(m.sku),
                        ds.locs.name(m.loc)
                    ),
                ));
            }
        }
    }
    Ok((count, fc, prior.flatten()))
}

/// Writes a shard's state into an output folder (the caller's atomic run folder).
pub fn write_state(path: &Path, bytes: &[u8]) -> std::result::Result<(), OutputError> {
    std::fs::write(path, bytes).map_err(|source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_spec_parses_and_rejects() {
        assert_eq!(
            "1/4".parse::<ShardSpec>().ok(),
            Some(ShardSpec { index: 1, count: 4 })
        );
        for bad in ["4/4", "x/2", "1", "0/0", "1/5000", "-1/2"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_hash_is_stable_and_spreads() {
        // Fixed values: a change of hash would move series between shards of running jobs.
        assert_eq!(shard_of("85123A", "UK", 1), 0);
        let a = shard_of("85123A", "UK", 8);
        assert_eq!(a, shard_of("85123A", "UK", 8));
        assert_ne!(
            shard_of("85123A", "UK", 1 << 20),
            shard_of("85123A", "DE", 1 << 20)
        );
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[shard_of(&format!("sku{i}"), "main", 4)] += 1;
        }
        assert!(counts.iter().all(|c| (900..1100).contains(c)), "{counts:?}");
    }

    #[test]
    fn state_round_trips_every_field_bit_for_bit() {
        let mut f = SeriesForecast::fixed(12.5, 3, "negative_binomial", 1.5);
        f.class.adi = f64::NAN;
        f.members = vec!["ses", "tsb"];
        f.daily_errors = vec![vec![-1.0, 0.25, f64::MIN_POSITIVE], vec![]];
        f.closed_days = vec![2];
        f.zero_share = 0.1 + 0.2;
        f.scores = vec![CandidateScore {
            model: "ets",
            score: Some(0.7),
            mae: None,
            error: Some("series too short: ü".into()),
        }];
        f.fallback = Some("x".into());
        f.fallback_kind = Some("short_history");
        f.selection_weight = Some(0.1 + 0.7);
        f.stall = Some((24, 0.1 + 0.05));
        f.promo_lift = Some(0.1 + 2.2);
        f.event_lift = Some(0.1 + 1.3);
        f.yearly_move = Some(0.1 + 0.6);
        f.window_method = "cv_dispersion";
        f.window_dispersion = 0.1 + 0.4;
        let spec = ShardSpec { index: 2, count: 3 };
        let prior = Prior {
            classes: vec![ClassPrior {
                class: DemandClass::Lumpy,
                series: 31,
                reliability: 0.1 + 0.2,
                effects: vec![("tsb", -0.25), ("naive", 0.1 + 0.7)],
            }],
            windows: vec![WindowRecal {
                class: DemandClass::Smooth,
                windows: 240,
                carried: 0.1 + 0.6,
                levels: std::sync::Arc::new(vec![0.0, 0.1 + 0.2, 0.7, 1.0]),
            }],
        };
        let bytes = encode_state(spec, "abc", Some(&prior), &[("A", "L", &f), ("B", "L", &f)]);
        let st = decode_state(&bytes).unwrap();
        assert_eq!(st.spec, spec);
        assert_eq!(st.fingerprint, "abc");
        assert_eq!(st.prior.as_ref(), Some(&prior));
        assert_eq!(st.series.len(), 2);
        let g = &st.series[1].2;
        assert_eq!(
            encode_state(
                spec,
                "abc",
                st.prior.as_ref(),
                &[("A", "L", g), ("B", "L", g)]
            ),
            bytes
        );
        let none = encode_state(spec, "abc", None, &[("A", "L", g)]);
        assert_eq!(decode_state(&none).unwrap().prior, None);
        assert!(g.class.adi.is_nan());
        assert_eq!(g.zero_share.to_bits(), (0.1f64 + 0.2).to_bits());
        assert_eq!(g.fallback_kind, Some("short_history"));
        assert_eq!(g.window_method, "cv_dispersion");
        assert_eq!(g.window_dispersion.to_bits(), (0.1f64 + 0.4).to_bits());
        // The window map is not stored per series: decoding reads it from the prior.
        assert_eq!(
            g.window_levels.as_deref(),
            prior.window_levels(g.class.class).as_deref()
        );
        assert_eq!(
            g.selection_weight.map(f64::to_bits),
            Some((0.1f64 + 0.7).to_bits())
        );
        assert_eq!(
            g.stall.map(|(r, p)| (r, p.to_bits())),
            Some((24, (0.1f64 + 0.05).to_bits()))
        );
        assert_eq!(
            g.promo_lift.map(f64::to_bits),
            Some((0.1f64 + 2.2).to_bits())
        );
        assert_eq!(
            g.event_lift.map(f64::to_bits),
            Some((0.1f64 + 1.3).to_bits())
        );
        assert_eq!(
            g.yearly_move.map(f64::to_bits),
            Some((0.1f64 + 0.6).to_bits())
        );
        // Corruption is an error, never a panic.
        for cut in [0, 10, 20, bytes.len() - 1] {
            assert!(decode_state(&bytes[..cut]).is_err());
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode_state(&extra).is_err());
        let mut old = bytes.clone();
        old[..16].copy_from_slice(b"RESTOCK-SHARD-06");
        let e = decode_state(&old).err().unwrap();
        assert!(e.contains("format 06") && e.contains("reads 11"), "{e}");
    }
}
