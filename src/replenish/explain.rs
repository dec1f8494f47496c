//! Reason code and reason text of a line, in the pipeline's language. The text walks the
//! same steps as the numbers: basis, position, need, then every adjustment.

use super::Proposal;
use crate::config::{Language, Pipeline};

fn fmt(v: f64, lang: Language) -> String {
    let s = if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    };
    match lang {
        Language::De => s.replace('.', ","),
        Language::En => s,
    }
}

/// A factor with two decimals.
fn fmt2(v: f64, lang: Language) -> String {
    let s = format!("{v:.2}");
    match lang {
        Language::De => s.replace('.', ","),
        Language::En => s,
    }
}

fn pct(v: f64, lang: Language) -> String {
    let p = (v * 1000.0).round() / 10.0;
    format!("{} %", fmt(p, lang))
}

pub(super) fn explain(l: &mut Proposal, p: &Pipeline) {
    let lang = p.export.language;
    let en = lang == Language::En;
    let n = |v: f64| fmt(v, lang);
    let tr = |e: String, d: String| if en { e } else { d };
    let mut parts: Vec<String> = Vec::new();

    // The level and where it comes from.
    let src = if en {
        format!("policy {} ({})", l.policy, l.policy_source)
    } else {
        format!("Verfahren {} ({})", l.policy, l.policy_source)
    };
    let over = format!(
        "{} {}",
        n(l.window_days as f64),
        if en { "days" } else { "Tage" }
    );
    let dist = tr(
        format!(
            "demand over {over} (mean {}, model {})",
            n(l.demand_mean),
            l.model
        ),
        format!(
            "Bedarfs über {over} (Mittel {}, Modell {})",
            n(l.demand_mean),
            l.model
        ),
    );
    // A planned promotion in the window is why the demand is above the usual.
    // "3 planned promotion days", "1 geplanten Aktionstag".
    let name = |d: usize, en_word: &str, de_word: &str| match (d, en) {
        (1, true) => format!("1 planned {en_word} day"),
        (d, true) => format!("{} planned {en_word} days", n(d as f64)),
        (1, false) => format!("1 geplanten {de_word}tag"),
        (d, false) => format!("{} geplanten {de_word}tagen", n(d as f64)),
    };
    let dist = match (l.promo_days, en) {
        (0, _) => dist,
        (d, true) => format!("{dist}, with {}", name(d, "promotion", "Aktions")),
        (d, false) => format!("{dist}, mit {}", name(d, "promotion", "Aktions")),
    };
    // So is a planned shop event (Black Friday): named with its kinds.
    let dist = if l.event_days.is_empty() {
        dist
    } else {
        let mut kinds: Vec<&str> = Vec::new();
        for e in &l.event_days {
            if !kinds.contains(&e.as_str()) {
                kinds.push(e);
            }
        }
        let (d, k) = (
            name(l.event_days.len(), "event", "Ereignis"),
            kinds.join(", "),
        );
        if en {
            format!("{dist}, with {d} ({k})")
        } else {
            format!("{dist}, mit {d} ({k})")
        }
    };
    // An item that stopped selling is forecast below its old rate: say why (from a cut of
    // a tenth; forecast_models.parquet has every factor).
    let dist = match (l.stall.filter(|s| s.1 < 0.9), en) {
        (None, _) => dist,
        (Some((r, p)), true) => format!(
            "{dist}, lowered: no sale on the last {} open days, P(still selling) {}",
            n(r as f64),
            pct(p, lang)
        ),
        (Some((r, p)), false) => format!(
            "{dist}, gesenkt: an den letzten {} Verkaufstagen kein Absatz, P(weiter Absatz) {}",
            n(r as f64),
            pct(p, lang)
        ),
    };
    // A seasonal item is forecast off its recent level by last year's move: say by how much
    // (from 5 %; forecast_models.parquet has every factor).
    let dist = match (l.yearly_move.filter(|m| (m - 1.0).abs() >= 0.05), en) {
        (None, _) => dist,
        (Some(m), true) => format!("{dist}, ×{} for last year's season", fmt2(m, lang)),
        (Some(m), false) => format!("{dist}, ×{} Saisonverlauf Vorjahr", fmt2(m, lang)),
    };
    let level = match l.service_measure {
        "fill_rate" => tr(
            format!(
                "fill rate {}: expected shortage ≤ {} of cycle demand; = {} quantile of {dist}",
                pct(l.service_target, lang),
                pct(1.0 - l.service_target, lang),
                pct(l.quantile_level, lang)
            ),
            format!(
                "Lieferbereitschaft (β) {}: erwartete Fehlmenge ≤ {} des Zyklusbedarfs; = {}-Quantil des {dist}",
                pct(l.service_target, lang),
                pct(1.0 - l.service_target, lang),
                pct(l.quantile_level, lang)
            ),
        ),
        "critical_ratio" => tr(
            format!(
                "critical ratio {} = underage {} / (underage + overage {}) quantile of {dist}",
                pct(l.service_target, lang),
                n(l.newsvendor_underage.unwrap_or(0.0)),
                n(l.newsvendor_overage.unwrap_or(0.0))
            ),
            format!(
                "kritisches Verhältnis {} = Fehlmengenkosten {} / (Fehlmengen- + Überbestandskosten {}), Quantil des {dist}",
                pct(l.service_target, lang),
                n(l.newsvendor_underage.unwrap_or(0.0)),
                n(l.newsvendor_overage.unwrap_or(0.0))
            ),
        ),
        _ => tr(
            format!("{} quantile of {dist}", pct(l.service_target, lang)),
            format!("{}-Quantil des {dist}", pct(l.service_target, lang)),
        ),
    };
    let basis = match l.policy {
        "rq" => tr(
            format!(
                "{src}: reorder point {} = {level}; lot Q {} ({})",
                n(l.reorder_point),
                n(l.lot_size.unwrap_or(0.0)),
                match l.lot_source {
                    Some("eoq") => format!(
                        "EOQ with order cost {} and holding {} per year",
                        n(p.replenish.order_cost),
                        pct(p.replenish.holding_cost_rate, lang)
                    ),
                    _ => "one review period of demand: no unit cost for EOQ".to_string(),
                }
            ),
            format!(
                "{src}: Meldebestand {} = {level}; Losgröße Q {} ({})",
                n(l.reorder_point),
                n(l.lot_size.unwrap_or(0.0)),
                match l.lot_source {
                    Some("eoq") => format!(
                        "EOQ mit Bestellkosten {} und Lagerkosten {} pro Jahr",
                        n(p.replenish.order_cost),
                        pct(p.replenish.holding_cost_rate, lang)
                    ),
                    _ => "Bedarf einer Überprüfungsperiode: kein Einstandspreis für EOQ".to_string(),
                }
            ),
        ),
        "min_max" => tr(
            format!(
                "{src}: min {} = {level}; max {} = min + mean demand of the {}-day review period",
                n(l.reorder_point),
                n(l.target_level),
                l.review_period_days
            ),
            format!(
                "{src}: Min {} = {level}; Max {} = Min + mittlerer Bedarf der {}-tägigen Überprüfungsperiode",
                n(l.reorder_point),
                n(l.target_level),
                l.review_period_days
            ),
        ),
        _ => tr(
            format!("{src}: target {} = {level}", n(l.target_level)),
            format!("{src}: Zielbestand {} = {level}", n(l.target_level)),
        ),
    };
    parts.push(basis);
    if l.lead_time_sd_days > 0.0 {
        parts.push(tr(
            format!("widened for lead-time sd {} days", n(l.lead_time_sd_days)),
            format!(
                "erweitert um Lieferzeit-Streuung {} Tage",
                n(l.lead_time_sd_days)
            ),
        ));
    }
    parts.push(tr(
        format!(
            "position {} = on hand {} − reserved {} + on order {} + expected returns {}",
            n(l.inventory_position),
            n(l.on_hand),
            n(l.backorders),
            n(l.on_order),
            n(l.expected_returns)
        ),
        format!(
            "Bestandsposition {} = Lager {} − reserviert {} + bestellt {} + erwartete Retouren {}",
            n(l.inventory_position),
            n(l.on_hand),
            n(l.backorders),
            n(l.on_order),
            n(l.expected_returns)
        ),
    ));
    if l.raw_need > 0.0 {
        parts.push(tr(
            format!("need {}", n(l.raw_need.ceil())),
            format!("Bedarf {}", n(l.raw_need.ceil())),
        ));
    }
    if l.moq_adjustment > 0.0 {
        parts.push(tr(
            format!("raised by {} to MOQ {}", n(l.moq_adjustment), n(l.moq)),
            format!(
                "um {} auf Mindestmenge {} erhöht",
                n(l.moq_adjustment),
                n(l.moq)
            ),
        ));
    }
    if l.pack_adjustment != 0.0 {
        parts.push(tr(
            format!(
                "{} by {} to packs of {}",
                if l.pack_adjustment > 0.0 {
                    "rounded up"
                } else {
                    "rounded down"
                },
                n(l.pack_adjustment.abs()),
                n(l.pack_size)
            ),
            format!(
                "um {} auf Verpackungseinheit {} gerundet",
                n(l.pack_adjustment),
                n(l.pack_size)
            ),
        ));
    }
    if l.cap_adjustment < 0.0 {
        let what = match (l.cap_reason, en) {
            (Some("shelf_life"), true) => "to what sells within the shelf life",
            (Some("shelf_life"), false) => "auf den Absatz innerhalb der Haltbarkeit",
            (_, true) => "to the maximum stock",
            (_, false) => "auf den Höchstbestand",
        };
        parts.push(tr(
            format!("cut by {} {what}", n(-l.cap_adjustment)),
            format!("um {} gekürzt {what}", n(-l.cap_adjustment)),
        ));
    }
    if l.mov_adjustment > 0.0 {
        parts.push(tr(
            format!(
                "topped up by {} to reach the supplier's minimum order value ({})",
                n(l.mov_adjustment),
                l.mov_status.clone().unwrap_or_default()
            ),
            format!(
                "um {} erhöht für den Mindestbestellwert des Lieferanten ({})",
                n(l.mov_adjustment),
                l.mov_status.clone().unwrap_or_default()
            ),
        ));
    }
    if l.budget_adjustment < 0.0 {
        parts.push(tr(
            format!(
                "cut by {} to stay within the budget (lines ranked by expected shortage avoided per {})",
                n(-l.budget_adjustment),
                l.currency
            ),
            format!(
                "um {} gekürzt, um das Budget einzuhalten (Zeilen nach vermiedener Fehlmenge je {} gereiht)",
                n(-l.budget_adjustment),
                l.currency
            ),
        ));
    }
    if let Some(a) = l.override_action {
        let who = l.override_by.clone().unwrap_or_default();
        let why = l.override_reason.clone().unwrap_or_default();
        let v = match (a, l.override_value) {
            ("service_level", Some(x)) => pct(x, lang),
            (_, Some(x)) => n(x),
            _ => String::new(),
        };
        parts.push(tr(
            format!("planner override {a} {v} by {who}: {why}").replace("  ", " "),
            format!("Disponenten-Vorgabe {a} {v} von {who}: {why}").replace("  ", " "),
        ));
    }
    let (bound, biggest, last90) = l.guard_bound;
    let code;
    let head;
    if l.mov_held {
        code = "MOV_NOT_REACHED";
        head = tr(
            format!(
                "held for review: {} not ordered, the supplier's minimum order value is not reached ({})",
                n(l.held_qty),
                l.mov_status.clone().unwrap_or_default()
            ),
            format!(
                "zur Prüfung zurückgehalten: {} nicht bestellt, Mindestbestellwert nicht erreicht ({})",
                n(l.held_qty),
                l.mov_status.clone().unwrap_or_default()
            ),
        );
    } else if l.held_qty > 0.0 {
        code = "HELD_FOR_REVIEW";
        head = tr(
            format!(
                "held for review: {} is more than {}× the larger of the biggest day ({}) and the last 90 days ({}) of demand (limit {})",
                n(l.held_qty), n(p.guards.max_order_factor), n(biggest), n(last90), n(bound)
            ),
            format!(
                "zur Prüfung zurückgehalten: {} ist mehr als das {}-fache des größeren Werts aus stärkstem Tag ({}) und letzten 90 Tagen ({}) (Grenze {})",
                n(l.held_qty), n(p.guards.max_order_factor), n(biggest), n(last90), n(bound)
            ),
        );
    } else if l.override_action == Some("block") {
        code = "OVERRIDE_BLOCKED";
        head = tr(
            "blocked by the planner: no order".into(),
            "vom Disponenten gesperrt: keine Bestellung".into(),
        );
    } else if l.override_action == Some("fixed_qty") {
        code = "OVERRIDE_FIXED";
        head = tr(
            format!("order {} as fixed by the planner", n(l.order_qty)),
            format!(
                "Bestellen {} wie vom Disponenten vorgegeben",
                n(l.order_qty)
            ),
        );
    } else if l.inactive {
        code = "INACTIVE";
        head = tr(
            "product is inactive in the master: no order".into(),
            "Artikel im Stamm inaktiv: keine Bestellung".into(),
        );
    } else if l.order_qty > 0.0 {
        code = if l.budget_adjustment < 0.0 {
            "BUDGET_REDUCED"
        } else if matches!(l.policy, "rq" | "min_max") {
            "BELOW_REORDER_POINT"
        } else {
            "BELOW_TARGET"
        };
        head = tr(
            format!("order {}", n(l.order_qty)),
            format!("Bestellen {}", n(l.order_qty)),
        );
    } else if l.budget_adjustment < 0.0 {
        code = "BUDGET_CUT";
        head = tr(
            "no order: budget exhausted".into(),
            "keine Bestellung: Budget ausgeschöpft".into(),
        );
    } else if l.cap_adjustment < 0.0 {
        code = "CAPPED";
        head = tr(
            "no order: capped".into(),
            "keine Bestellung: begrenzt".into(),
        );
    } else if l.target_level <= 0.0 {
        code = "NO_DEMAND";
        head = tr("no demand expected".into(), "kein Bedarf erwartet".into());
    } else {
        code = "COVERED";
        head = tr(
            "position covers the policy's level".into(),
            "Bestandsposition deckt das Niveau des Verfahrens".into(),
        );
    }
    l.reason_code = code;
    l.reason_text = format!("{head}; {}", parts.join("; "));
}
