//! The scenarios. Each is a small filter behaviour; its name says what it
//! pins. Grouped by topic: phases × actions, bodies, headers, callouts,
//! timers and wake-ups, shared data, properties, metrics and logs.

pub use crate::scenario::{Req, Scenario};
pub use serde_json::{json, Value};

pub const RQ: &str = "request_headers";
pub const RS: &str = "response_headers";

pub fn step(ops: Vec<Value>, action: Value) -> Value {
    json!({ "ops": ops, "action": action })
}

pub fn cont() -> Value {
    json!("continue")
}

pub fn pause() -> Value {
    json!("pause")
}

pub fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Value {
    json!({ "respond": { "status": status, "headers": headers, "body": body } })
}

pub fn get(map: &str, name: &str) -> Value {
    json!({ "op": "get", "map": map, "name": name })
}

pub fn get_all(map: &str, name: &str) -> Value {
    json!({ "op": "get_all", "map": map, "name": name })
}

pub fn set(map: &str, name: &str, value: &str) -> Value {
    json!({ "op": "set", "map": map, "name": name, "value": value })
}

pub fn add(map: &str, name: &str, value: &str) -> Value {
    json!({ "op": "add", "map": map, "name": name, "value": value })
}

pub fn remove(map: &str, name: &str) -> Value {
    json!({ "op": "remove", "map": map, "name": name })
}

/// Reports where the map's pseudo-headers and `x-c-*` names are.
pub fn order(map: &str) -> Value {
    json!({ "op": "order", "map": map })
}

pub fn set_body(value: &str) -> Value {
    json!({ "op": "set_body", "value": value })
}

pub fn callout(label: &str, path: &str, timeout_ms: u64, then: Value) -> Value {
    json!({ "op": "callout", "label": label, "path": path, "timeout_ms": timeout_ms, "then": then })
}

pub fn op(name: &str) -> Value {
    json!({ "op": name })
}

pub fn env(what: &str) -> Value {
    json!({ "op": "env", "what": what })
}

pub fn shared_get(key: &str) -> Value {
    json!({ "op": "shared_get", "key": key })
}

pub fn shared_set(key: &str, value: &str, cas: &str) -> Value {
    json!({ "op": "shared_set", "key": key, "value": value, "cas": cas })
}

pub fn script(pairs: &[(&str, Value)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v.clone());
    }
    Value::Object(m)
}

pub fn s(name: &str, pairs: &[(&str, Value)]) -> Scenario {
    Scenario::new(name, script(pairs))
}

/// A POST with a body.
pub fn post(body: &str) -> Req {
    Req::post("/s", body)
}

mod bodies;
mod callouts;
mod headers;
mod order;
mod phases;
mod properties;
mod shared;
mod trailers;
mod wakeups;

pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(phases::all());
    v.extend(bodies::all());
    v.extend(headers::all());
    v.extend(order::all());
    v.extend(callouts::all());
    v.extend(wakeups::all());
    v.extend(shared::all());
    v.extend(properties::all());
    v.extend(trailers::all());
    v
}
