//! Any bytes as an input file (Parquet when the first byte is even, else CSV), read and
//! validated as orders through the whole ingest stage: Ok or a typed error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use restock::config::{Overrides, RawPipeline};

static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // restock catches panics of the parquet crate on corrupt files and reports an input
    // error; libfuzzer-sys' default hook would abort before that. Panics that escape restock
    // still reach fuzz_target!'s own handler and count as crashes.
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("restock-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(if sel % 2 == 0 {
        "orders.parquet"
    } else {
        "orders.csv"
    });
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let toml = format!(
        "[inputs.orders]\npath = {:?}\n[inputs.orders.rules]\ninvalid_rows = \"{}\"\nreturn_order_id_prefix = \"C\"\n",
        path.display().to_string(),
        if sel & 2 == 0 { "fail" } else { "reject" }
    );
    let Ok(raw) = RawPipeline::from_toml(std::path::Path::new("fuzz.toml"), &toml) else {
        return;
    };
    let Ok(p) = raw.validate(Overrides::default()) else {
        return;
    };
    if let Ok(ds) = restock::ingest::load(&p) {
        if let Ok(as_of) = restock::pipeline::resolve_as_of(&p, &ds) {
            let _ = restock::panel::build(&p, &ds, as_of);
        }
    }
});
