//! Shrinks a diverging request: drops headers, query parameters and the
//! body one at a time while the divergence keeps the same classes, so a
//! finding shows only what it needs.

use super::compare::Seen;
use super::request::Req;

/// At most this many retries per shrink (two requests each).
const BUDGET: u64 = 40;

type Outcome = (Seen, Seen, Vec<(String, String)>, Vec<String>);

/// Returns the smaller request and its answers (None when nothing could be
/// dropped) and the number of retries spent.
pub fn shrink(
    req: &Req,
    classes: &[String],
    mut retry: impl FnMut(&Req) -> Outcome,
) -> (Option<Req>, Seen, Seen, Vec<(String, String)>, u64) {
    let mut best: Option<(Req, Outcome)> = None;
    let mut tries = 0;
    let mut current = req.clone();
    let candidates = |r: &Req| -> Vec<Req> {
        let mut out = Vec::new();
        for i in 0..r.headers.len() {
            let mut c = r.clone();
            c.headers.remove(i);
            out.push(c);
        }
        if let Some((path, query)) = r.path.split_once('?') {
            let params: Vec<&str> = query.split('&').collect();
            for i in 0..params.len() {
                let mut kept = params.clone();
                kept.remove(i);
                let mut c = r.clone();
                c.path = if kept.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", kept.join("&"))
                };
                out.push(c);
            }
        }
        if !r.body.is_empty() {
            let mut c = r.clone();
            c.body.clear();
            c.method = "GET".into();
            out.push(c);
        }
        out
    };
    'outer: loop {
        for c in candidates(&current) {
            if tries >= BUDGET {
                break 'outer;
            }
            tries += 1;
            let outcome = retry(&c);
            if !outcome.2.is_empty() && outcome.3 == classes {
                current = c.clone();
                best = Some((c, outcome));
                continue 'outer;
            }
        }
        break;
    }
    match best {
        Some((r, (n, p, d, _))) => (Some(r), n, p, d, tries),
        None => (
            None,
            Seen::from(Err(String::new())),
            Seen::from(Err(String::new())),
            Vec::new(),
            tries,
        ),
    }
}
