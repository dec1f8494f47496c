//! Object storage: input files and the run folder may live at `s3://bucket/key` URLs.
//!
//! The pipeline itself only ever sees local files. Before a run, remote inputs are copied
//! into a private staging folder and a remote `out` is mirrored there (the `latest` run's
//! forecasts and the run history, so drift monitoring works); after a successful run the
//! new run folder is uploaded with its manifest last, then the history, then the `latest`
//! pointer (an object holding the run id). A reader that follows `latest` therefore never
//! sees a half-written run, and a failed run uploads nothing.
//!
//! Credentials, region and endpoint come from the usual `AWS_*` environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
//! `AWS_SESSION_TOKEN`, `AWS_ENDPOINT` for S3-compatible servers, `AWS_ALLOW_HTTP=true`
//! for a plain-HTTP endpoint), read by the `object_store` crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::Pipeline;
use crate::error::{Error, InputError, OutputError, Result};

/// A parsed `s3://bucket/prefix` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub bucket: String,
    /// Key or key prefix without leading or trailing '/'.
    pub key: String,
}

impl Url {
    /// `Some` for an `s3://` (or `s3a://`) path, `None` for a local one.
    pub fn parse(p: &Path) -> Option<Url> {
        let s = p.to_str()?;
        let rest = s
            .strip_prefix("s3://")
            .or_else(|| s.strip_prefix("s3a://"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        Some(Url {
            bucket: bucket.to_string(),
            key: key.trim_matches('/').to_string(),
        })
    }

    pub fn join(&self, part: &str) -> Url {
        let key = if self.key.is_empty() {
            part.to_string()
        } else {
            format!("{}/{part}", self.key)
        };
        Url {
            bucket: self.bucket.clone(),
            key,
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// True for paths restock treats as object-store URLs.
pub fn is_remote(p: &Path) -> bool {
    Url::parse(p).is_some()
}

/// One bucket's client plus a runtime to drive it (restock is synchronous elsewhere).
struct Store {
    store: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
}

fn detail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Store {
    fn open(url: &Url) -> std::result::Result<Store, String> {
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(&url.bucket)
            .build()
            .map_err(detail)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(detail)?;
        Ok(Store {
            store: Arc::new(store),
            rt,
        })
    }

    /// The object's bytes; `Ok(None)` when it does not exist.
    fn get(&self, url: &Url) -> std::result::Result<Option<Vec<u8>>, String> {
        let key = Key::from(url.key.as_str());
        self.rt.block_on(async {
            match self.store.get(&key).await {
                Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())).map_err(detail),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(detail(e)),
            }
        })
    }

    fn put(&self, url: &Url, data: Vec<u8>) -> std::result::Result<(), String> {
        let key = Key::from(url.key.as_str());
        self.rt
            .block_on(self.store.put(&key, PutPayload::from(data)))
            .map(|_| ())
            .map_err(detail)
    }

    /// Every key under the prefix (recursively), relative to it, sorted.
    fn list(&self, url: &Url) -> std::result::Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut todo = vec![Key::from(url.key.as_str())];
        while let Some(prefix) = todo.pop() {
            let r = self
                .rt
                .block_on(self.store.list_with_delimiter(Some(&prefix)))
                .map_err(detail)?;
            todo.extend(r.common_prefixes);
            for o in r.objects {
                let full = o.location.as_ref();
                let rel = full
                    .strip_prefix(url.key.as_str())
                    .unwrap_or(full)
                    .trim_start_matches('/');
                out.push(rel.to_string());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// What a staged run needs to finish: where its local mirror is and where it goes.
pub struct Staging {
    dir: PathBuf,
    out: Option<(Url, PathBuf)>,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn staging_dir() -> Result<PathBuf> {
    let base = std::env::var_os("RESTOCK_STAGING")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    staging_dir_in(&base)
}

const STAGING_PREFIX: &str = "restock-staging-";

fn staging_dir_in(base: &Path) -> Result<PathBuf> {
    sweep_stale(base);
    let dir = base.join(format!(
        "{STAGING_PREFIX}{}-{}",
        std::process::id(),
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.f")
    ));
    std::fs::create_dir_all(&dir).map_err(|source| OutputError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// Removes the staging folders of runs that died without cleaning up (SIGKILL, power
/// loss): those whose process no longer exists. Only where `/proc` tells which processes
/// live; a folder that cannot be removed (another user's) is left alone.
fn sweep_stale(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(STAGING_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if std::fs::remove_dir_all(e.path()).is_ok() {
            tracing::info!(dir = %e.path().display(), pid, "removed the staging folder of a dead run");
        }
    }
}

fn write_local(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|source| OutputError::Io {
            path: d.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, data).map_err(|source| {
        OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

fn remote_output(url: &Url, detail: String) -> Error {
    OutputError::Encode {
        path: PathBuf::from(url.to_string()),
        detail: format!("object store: {detail}"),
    }
    .into()
}

/// Copies remote inputs to local files and, with `stage_out`, mirrors a remote `out`.
/// Returns `None` when nothing is remote (the pipeline is left as it was).
pub fn stage(p: &mut Pipeline, stage_out: bool) -> Result<Option<Staging>> {
    let remote_out = if stage_out { Url::parse(&p.out) } else { None };
    let inputs = p.inputs.paths_mut();
    if remote_out.is_none()
        && !inputs
            .iter()
            .any(|(_, path)| path.as_deref().is_some_and(is_remote))
    {
        return Ok(None);
    }
    let dir = staging_dir()?;
    let mut s = Staging {
        dir: dir.clone(),
        out: None,
    };
    // (local copy, URL) of every remote input, for the manifest (`Pipeline::source_of`).
    let mut fetched: Vec<(PathBuf, String)> = Vec::new();
    for (input, path) in inputs {
        let Some(url) = path.as_deref().and_then(Url::parse) else {
            continue;
        };
        let store = Store::open(&url).map_err(|d| InputError::Other {
            input,
            path: PathBuf::from(url.to_string()),
            detail: format!("object store: {d}"),
        })?;
        let name = url.key.rsplit('/').next().unwrap_or("input");
        let local = dir.join("inputs").join(input).join(name);
        match store.get(&url) {
            Ok(Some(b)) => write_local(&local, &b)?,
            Ok(None) => {
                return Err(InputError::Missing {
                    input,
                    path: PathBuf::from(url.to_string()),
                }
                .into())
            }
            Err(d) => {
                return Err(InputError::Other {
                    input,
                    path: PathBuf::from(url.to_string()),
                    detail: format!("object store: {d}"),
                }
                .into())
            }
        }
        tracing::info!(input, url = %url, "downloaded input");
        *path = Some(local.clone());
        fetched.push((local, url.to_string()));
    }
    if let Some(url) = remote_out {
        let local = dir.join("out");
        std::fs::create_dir_all(&local).map_err(|source| OutputError::Io {
            path: local.clone(),
            source,
        })?;
        mirror_history(&url, &local)?;
        p.out = local.clone();
        s.out = Some((url, local));
    }
    p.remote_inputs = fetched;
    Ok(Some(s))
}

/// A remote `out`'s run history (`runs.parquet`), copied for `restock status`: the staging
/// folder (removed when dropped) and the local folder to read. Err: the store's message.
pub fn fetch_history(url: &Url) -> std::result::Result<(Staging, PathBuf), String> {
    let s = Staging::empty().map_err(|e| e.to_string())?;
    let local = s.dir.join("out");
    let store = Store::open(url)?;
    if let Some(b) = store.get(&url.join("runs.parquet"))? {
        write_local(&local.join("runs.parquet"), &b).map_err(|e| e.to_string())?;
    }
    Ok((s, local))
}

/// The previous run's forecasts and models plus the run history, where monitoring reads them.
fn mirror_history(url: &Url, local: &Path) -> Result<()> {
    let store = Store::open(url).map_err(|d| remote_output(url, d))?;
    if let Some(b) = store
        .get(&url.join("runs.parquet"))
        .map_err(|d| remote_output(url, d))?
    {
        write_local(&local.join("runs.parquet"), &b)?;
    }
    let Some(id) = store
        .get(&url.join("latest"))
        .map_err(|d| remote_output(url, d))?
    else {
        return Ok(());
    };
    let id = run_id_of(url, "latest", &id)?;
    for f in [
        "forecasts.parquet",
        "forecast_models.parquet",
        "manifest.json",
    ] {
        if let Some(b) = store
            .get(&url.join(&format!("{id}/{f}")))
            .map_err(|d| remote_output(url, d))?
        {
            write_local(&local.join(&id).join(f), &b)?;
        }
    }
    if local.join(&id).is_dir() {
        link_latest(local, &id)?;
    }
    Ok(())
}

impl Staging {
    /// A staging folder with nothing in it yet (remote shards merged into a local `out`).
    pub fn empty() -> Result<Staging> {
        Ok(Staging {
            dir: staging_dir()?,
            out: None,
        })
    }

    /// Uploads the finished run `run_id` (a folder under the staged `out`): its files with
    /// `manifest.json` last, then `runs.parquet`, then the `latest` pointer. Returns the
    /// run's URL, or `None` when `out` is local.
    pub fn publish(&self, run_id: &str) -> Result<Option<String>> {
        let Some((url, local)) = &self.out else {
            return Ok(None);
        };
        let store = Store::open(url).map_err(|d| remote_output(url, d))?;
        let dest = url.join(run_id);
        // The manifest is the run's seal: uploaded after everything it describes.
        let files = upload_dir(&store, &local.join(run_id), &dest, "manifest.json")?;
        let hist = local.join("runs.parquet");
        if hist.is_file() {
            let data = std::fs::read(&hist).map_err(|source| OutputError::Io {
                path: hist.clone(),
                source,
            })?;
            store
                .put(&url.join("runs.parquet"), data)
                .map_err(|d| remote_output(url, d))?;
        }
        store
            .put(&url.join("latest"), format!("{run_id}\n").into_bytes())
            .map_err(|d| remote_output(url, d))?;
        tracing::info!(url = %dest, files = files.len(), "uploaded run");
        Ok(Some(dest.to_string()))
    }

    /// Uploads a shard's folder (`shard=i/<run_id>/`), its `shard.json` last, then the
    /// shard's `latest` pointer, as the run folder is published.
    pub fn publish_shard(&self, shard_dir: &Path) -> Result<Option<String>> {
        let Some((url, local)) = &self.out else {
            return Ok(None);
        };
        let rel = shard_dir.strip_prefix(local).unwrap_or(shard_dir);
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let [shard, run_id] = parts.as_slice() else {
            return Err(remote_output(
                url,
                format!("unexpected shard folder {}", rel.display()),
            ));
        };
        let store = Store::open(url).map_err(|d| remote_output(url, d))?;
        let dest = url.join(&format!("{shard}/{run_id}"));
        upload_dir(&store, shard_dir, &dest, "shard.json")?;
        store
            .put(
                &url.join(&format!("{shard}/latest")),
                format!("{run_id}\n").into_bytes(),
            )
            .map_err(|d| remote_output(url, d))?;
        Ok(Some(dest.to_string()))
    }
}

/// Downloads the latest run of every `shard=*/` folder under a remote prefix into a local
/// folder laid out as `restock merge` expects (`shard=i/<run_id>/`, `shard=i/latest`).
pub fn fetch_shards(url: &Url, staging: &Staging) -> Result<PathBuf> {
    let store = Store::open(url).map_err(|d| remote_output(url, d))?;
    let local = staging.dir.join("shards");
    std::fs::create_dir_all(&local).map_err(|source| OutputError::Io {
        path: local.clone(),
        source,
    })?;
    let keys = store.list(url).map_err(|d| remote_output(url, d))?;
    for k in keys
        .iter()
        .filter(|k| k.starts_with("shard=") && k.ends_with("/latest"))
    {
        let shard = k.trim_end_matches("/latest");
        if shard.contains('/') {
            continue;
        }
        let Some(id) = store.get(&url.join(k)).map_err(|d| remote_output(url, d))? else {
            continue;
        };
        let id = run_id_of(url, k, &id)?;
        let run = format!("{shard}/{id}/");
        for f in keys.iter().filter_map(|x| x.strip_prefix(&run)) {
            if f.contains('/') {
                continue;
            }
            if let Some(b) = store
                .get(&url.join(&format!("{run}{f}")))
                .map_err(|d| remote_output(url, d))?
            {
                write_local(&local.join(shard).join(&id).join(f), &b)?;
            }
        }
        link_latest(&local.join(shard), &id)?;
    }
    Ok(local)
}

/// Uploads the files of a (flat) folder under `dest`, the file named `seal` last.
fn upload_dir(store: &Store, dir: &Path, dest: &Url, seal: &str) -> Result<Vec<String>> {
    let mut files = list_local(dir)?;
    files.sort_by_key(|f| (f == seal, f.clone()));
    for f in &files {
        let data = std::fs::read(dir.join(f)).map_err(|source| OutputError::Io {
            path: dir.join(f),
            source,
        })?;
        store
            .put(&dest.join(f), data)
            .map_err(|d| remote_output(dest, d))?;
    }
    Ok(files)
}

/// `dir/latest` → `id`, as a local run folder has it.
fn link_latest(dir: &Path, id: &str) -> Result<()> {
    let link = dir.join("latest");
    std::os::unix::fs::symlink(id, &link).map_err(|source| {
        OutputError::Io {
            path: link.clone(),
            source,
        }
        .into()
    })
}

/// A run id read from a `latest` object: one path component, nothing else.
fn run_id_of(url: &Url, what: &str, bytes: &[u8]) -> Result<String> {
    let id = String::from_utf8_lossy(bytes).trim().to_string();
    if id.is_empty() || id.contains('/') || id.contains("..") {
        return Err(remote_output(
            url,
            format!("'{what}' holds no run id: '{id}'"),
        ));
    }
    Ok(id)
}

/// File names of a run folder (flat: restock writes no subfolders into a run).
fn list_local(dir: &Path) -> Result<Vec<String>> {
    let rd = std::fs::read_dir(dir).map_err(|source| OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|source| OutputError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if e.path().is_file() {
            v.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_sweeps_folders_of_dead_runs_only() {
        let base = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22 on Linux: this process cannot exist.
        let dead = base
            .path()
            .join(format!("{STAGING_PREFIX}4999999-20261202T010203"));
        let alive = base
            .path()
            .join(format!("{STAGING_PREFIX}1-20261202T010203"));
        let other = base.path().join("restock-staging-notes");
        for d in [&dead, &alive, &other] {
            std::fs::create_dir_all(d.join("inputs")).unwrap();
        }
        let mine = staging_dir_in(base.path()).unwrap();
        assert!(mine.is_dir());
        assert!(alive.is_dir(), "pid 1 is alive");
        assert!(other.is_dir(), "not a staging folder name");
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists(), "a dead run's staging folder is swept");
        }
        // Our own folder survives the next staging of this process.
        let again = staging_dir_in(base.path()).unwrap();
        assert!(mine.is_dir() && again.is_dir());
    }

    #[test]
    fn urls_parse_and_join() {
        let u = Url::parse(Path::new("s3://shop-data/exports/orders.parquet")).unwrap();
        assert_eq!(u.bucket, "shop-data");
        assert_eq!(u.key, "exports/orders.parquet");
        let o = Url::parse(Path::new("s3://bucket/runs/")).unwrap();
        assert_eq!(o.join("latest").to_string(), "s3://bucket/runs/latest");
        let root = Url::parse(Path::new("s3://bucket")).unwrap();
        assert_eq!(root.key, "");
        assert_eq!(root.join("latest").key, "latest");
        assert!(Url::parse(Path::new("runs/sample")).is_none());
        assert!(Url::parse(Path::new("/data/s3://x")).is_none());
    }
}
