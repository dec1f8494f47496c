//! One run per output folder at a time: an advisory `flock` on `<out>/.lock`.
//!
//! The kernel drops the lock when its process dies, however it dies, so a lock left by a
//! killed run is never stale in effect; the pid written into the file only lets us say
//! who holds it, and that we took over from a dead run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::OutputError;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another restock run (pid {pid}) is writing to {dir}; this run stops without writing")]
    Held { dir: PathBuf, pid: String },
    #[error(transparent)]
    Io(#[from] OutputError),
}

/// Held for the life of the run; released on drop (or by the kernel on death).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
    /// Pid of a dead run whose lock file we took over, if any.
    pub took_over_from: Option<String>,
}

impl RunLock {
    pub fn acquire(out: &Path) -> Result<RunLock, LockError> {
        let io = |source| OutputError::Io {
            path: out.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(out).map_err(io)?;
        let path = out.join(".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| OutputError::Io {
                path: path.clone(),
                source,
            })?;
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        let previous = previous.trim().to_string();
        // SAFETY: flock on a file descriptor we own; non-blocking, no memory involved.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            return Err(LockError::Held {
                dir: out.to_path_buf(),
                pid: if previous.is_empty() {
                    "unknown".into()
                } else {
                    previous
                },
            });
        }
        let took_over_from = (!previous.is_empty()).then_some(previous);
        if let Some(pid) = &took_over_from {
            tracing::warn!(pid = %pid, "lock file of a run that died was found; taking over");
        }
        let w = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())?;
            file.sync_all()
        };
        w(&mut file).map_err(|source| OutputError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(RunLock {
            _file: file,
            path,
            took_over_from,
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Empty the pid so the next run does not report a take-over after a clean exit.
        let _ = self._file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_and_release_frees_it() {
        let d = tempfile::tempdir().unwrap();
        let a = RunLock::acquire(d.path()).unwrap();
        assert!(a.took_over_from.is_none());
        let e = RunLock::acquire(d.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        drop(a);
        let b = RunLock::acquire(d.path()).unwrap();
        assert!(
            b.took_over_from.is_none(),
            "clean release leaves no pid behind"
        );
    }

    #[test]
    fn lock_file_of_a_dead_run_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".lock"), "999999\n").unwrap();
        let l = RunLock::acquire(d.path()).unwrap();
        assert_eq!(l.took_over_from.as_deref(), Some("999999"));
    }
}
