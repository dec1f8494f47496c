//! Progress bars for people at a terminal; nothing at all under cron (stderr not a TTY),
//! where the structured logs say what happened.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar when stderr is a terminal, else a no-op. Cheap to tick from many threads.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new(len: u64, what: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise} (eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        Progress(Some(bar))
    }

    pub fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }

    /// A bar that never draws (library callers, tests).
    pub fn none() -> Progress {
        Progress(None)
    }

    /// Whether a bar is drawn (false under cron).
    pub fn visible(&self) -> bool {
        self.0.is_some()
    }
}
