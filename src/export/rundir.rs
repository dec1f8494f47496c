//! Atomic run folders: build in a hidden temporary folder, rename into place, then swap
//! the `latest` symlink. Readers only ever see complete runs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::OutputError;

pub struct RunDir {
    out: PathBuf,
    tmp: PathBuf,
    run_id: String,
    committed: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence; no signal is sent.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// Temporary folders of runs that died (SIGKILL, power loss) are removed; those of live
/// processes are left alone.
fn sweep_stale(out: &Path) {
    let Ok(rd) = fs::read_dir(out) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(".tmp-") {
            let pid = rest
                .rsplit('-')
                .next()
                .and_then(|p| p.parse::<i32>().ok())
                .unwrap_or(0);
            if !pid_alive(pid) {
                tracing::warn!(folder = %name, "removing temporary folder of an interrupted run");
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

impl RunDir {
    pub fn create(out: &Path, run_id: &str) -> Result<RunDir, OutputError> {
        fs::create_dir_all(out).map_err(io(out))?;
        sweep_stale(out);
        let tmp = out.join(format!(".tmp-{run_id}-{}", std::process::id()));
        fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        Ok(RunDir {
            out: out.to_path_buf(),
            tmp,
            run_id: run_id.to_string(),
            committed: false,
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Renames the finished folder into place and points `latest` at it.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        // fsync the folder so the file entries are durable before the rename publishes them.
        if let Ok(d) = fs::File::open(&self.tmp) {
            let _ = d.sync_all();
        }
        let mut final_id = self.run_id.clone();
        let mut k = 2;
        while self.out.join(&final_id).exists() {
            final_id = format!("{}-{k}", self.run_id);
            k += 1;
        }
        let dest = self.out.join(&final_id);
        fs::rename(&self.tmp, &dest).map_err(io(&dest))?;
        self.committed = true;
        let link_tmp = self.out.join(format!(".latest-{}", std::process::id()));
        let _ = fs::remove_file(&link_tmp);
        std::os::unix::fs::symlink(&final_id, &link_tmp).map_err(io(&link_tmp))?;
        let latest = self.out.join("latest");
        fs::rename(&link_tmp, &latest).map_err(io(&latest))?;
        if let Ok(d) = fs::File::open(&self.out) {
            let _ = d.sync_all();
        }
        self.run_id = final_id;
        Ok(dest)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_run_leaves_nothing_and_commit_moves_latest() {
        let d = tempfile::tempdir().unwrap();
        {
            let r = RunDir::create(d.path(), "a").unwrap();
            fs::write(r.file("x"), "1").unwrap();
        }
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
        let r = RunDir::create(d.path(), "a").unwrap();
        fs::write(r.file("x"), "1").unwrap();
        r.commit().unwrap();
        let r = RunDir::create(d.path(), "a").unwrap();
        fs::write(r.file("x"), "2").unwrap();
        let p = r.commit().unwrap();
        assert!(p.ends_with("a-2"));
        assert_eq!(fs::read_to_string(d.path().join("latest/x")).unwrap(), "2");
    }
}
