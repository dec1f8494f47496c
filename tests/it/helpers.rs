//! Shared helpers: run the binary, read Parquet outputs, give each test its own folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use restock::ingest::Table;

/// The restock binary of this build. Found next to the test binary (target/<profile>/deps/it-…
/// → target/<profile>/restock) first: the compile-time path goes stale when a cached target
/// dir is reused from another checkout or mount point, and cargo then does not rebuild.
pub fn bin() -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|exe| {
        let dir = exe.parent()?.parent()?;
        Some(dir.join(format!("restock{}", std::env::consts::EXE_SUFFIX)))
    });
    match beside {
        Some(p) if p.is_file() => p,
        _ => PathBuf::from(env!("CARGO_BIN_EXE_restock")),
    }
}

/// The repository root: cargo sets CARGO_MANIFEST_DIR when it runs the tests too, which
/// stays right when the checkout moved after the build (see [`bin`]).
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn shared_data(rel: &str) -> PathBuf {
    root().join("../shared/data").join(rel)
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs restock from the repository root (pipelines use paths relative to it).
pub fn restock(args: &[&str]) -> Out {
    let o = Command::new(bin())
        .args(args)
        .current_dir(root())
        .env("RESTOCK_LOG", "warn")
        .output()
        .expect("spawn restock");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn read(path: &Path) -> Table {
    Table::read("test", path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn strs(t: &Table, c: &str) -> Vec<String> {
    t.strings(c, "x", true)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|v| v.unwrap_or_default())
        .collect()
}

pub fn nums(t: &Table, c: &str) -> Vec<Option<f64>> {
    t.f64s(c, "x", true).unwrap().unwrap()
}

/// Entries in a folder that look like run output: everything but hidden entries (the
/// `.lock` file; `.tmp-*` folders are checked separately).
pub fn visible_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(_) => vec![],
    }
}

/// All entries, hidden ones included.
pub fn all_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

/// Runs `pipelines/sample.toml` into a fresh folder with extra flags, asserting success.
/// Returns the temp dir guard and the runs folder (`<runs>/latest` is the run).
pub fn sample_run(extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    let mut args = vec![
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = restock(&args);
    assert_eq!(o.code, 0, "stderr: {}", o.stderr);
    (d, out)
}
