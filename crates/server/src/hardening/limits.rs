//! The input limits: how long a text, how many items in a list, how deep a JSON document — defined
//! here once, and checked on every request before a handler reads it.
//!
//! Limits go by **field name**, because a name means the same thing wherever it appears (`notes` on
//! a create, an edit, an outcome or an import item; `phone` in a body and in a query string). So the
//! check needs no per-endpoint code and also covers bodies added later: [`check_json`] walks every
//! JSON body `extract::Body` accepts, [`check_query`] every query string `extract::Params` reads.
//! A value over its limit is a 422 `validation_failed` naming the field by its path
//! (`details.field`, e.g. `notes`, `items[3].phone`, `data.account`) and the limit (`details.max`);
//! a document nested deeper than [`MAX_DEPTH`] or a query string too long to be a filter is a 400.
//!
//! Lengths count characters (Unicode scalar values), as the domain rules do. Body size limits
//! (`AppConfig::max_body_bytes`) come first and bound everything else.
//!
//! The service layer repeats some of these checks for messages of its own (notes, names, import
//! items, bulk ids, outcome batches); it uses these constants, so this table is the one to read.

use serde_json::{Value, json};

use crate::error::ApiError;

/// Names: of campaigns, lists, queues, agents, users, tokens, leads; usernames, display names,
/// wrap code labels, and data field names (a list's `fields`, the keys of `data`).
pub const MAX_NAME_LEN: usize = 200;
/// Free-text notes on a callback or an outcome.
pub const MAX_NOTES_LEN: usize = 4_000;
/// The reason given for a cancel or bulk cancel.
pub const MAX_REASON_LEN: usize = 500;
/// A phone number as typed (any format; an E.164 number has at most 16 characters).
pub const MAX_PHONE_LEN: usize = 64;
/// An IANA timezone name (the longest is 32 characters).
pub const MAX_TIMEZONE_LEN: usize = 64;
/// A wrap code (`code`, `wrap_code`).
pub const MAX_CODE_LEN: usize = 64;
/// A search text (`q`).
pub const MAX_SEARCH_LEN: usize = 200;
/// One value of a lead's or callback's `data`.
pub const MAX_DATA_VALUE_LEN: usize = 1_000;
/// A password (long passphrases are welcome; Argon2 hashes any length at the same cost).
pub const MAX_PASSWORD_LEN: usize = 1_024;
/// Any other string (times, ids, filter values, …).
pub const MAX_TEXT_LEN: usize = 1_000;
/// An `Idempotency-Key` header (visible ASCII).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Entries of a `data` map, and fields a list declares.
pub const MAX_DATA_FIELDS: usize = 100;
/// Phone numbers of a lead.
pub const MAX_LEAD_PHONES: usize = 3;
/// Items of an import (`POST /callbacks/import`).
pub const MAX_IMPORT_ITEMS: usize = 10_000;
/// Outcomes of one dialler batch (`POST /dialer/outcomes`; the service checks this one, since the
/// field is named `items` as the import's is).
pub const MAX_DIALER_OUTCOMES: usize = 1_000;
/// Ids of a bulk cancel.
pub const MAX_BULK_IDS: usize = 100_000;
/// Any other list, and the members of any other JSON object.
pub const MAX_LIST_ITEMS: usize = 1_000;
/// Nesting of arrays and objects in a body (serde_json itself stops at 128).
pub const MAX_DEPTH: usize = 32;

/// A query string, in bytes as sent.
pub const MAX_QUERY_LEN: usize = 16 * 1024;
/// Parameters in a query string (repeat a filter for a longer list of ids).
pub const MAX_QUERY_PAIRS: usize = 1_000;

/// The most characters a string under the field `name` may have.
pub fn text_limit(name: &str) -> usize {
    match name {
        "name" | "display_name" | "username" | "label" | "fields" => MAX_NAME_LEN,
        "notes" => MAX_NOTES_LEN,
        "reason" => MAX_REASON_LEN,
        "phone" | "phones" => MAX_PHONE_LEN,
        "timezone" => MAX_TIMEZONE_LEN,
        "code" | "wrap_code" => MAX_CODE_LEN,
        "q" => MAX_SEARCH_LEN,
        "password" => MAX_PASSWORD_LEN,
        _ => MAX_TEXT_LEN,
    }
}

/// The most items a list under the field `name` may have.
pub fn item_limit(name: &str) -> usize {
    match name {
        "ids" => MAX_BULK_IDS,
        "items" => MAX_IMPORT_ITEMS,
        "phones" => MAX_LEAD_PHONES,
        "fields" => MAX_DATA_FIELDS,
        _ => MAX_LIST_ITEMS,
    }
}

/// Checks a JSON body against the limits. Bytes that are not JSON pass: the typed parse has
/// already answered for them.
pub fn check_json(raw: &[u8]) -> Result<(), ApiError> {
    // Nearly every body is well within the limits: a streaming pass proves that without building
    // a `Value` tree (an import of 5,000 items is ~1 MB of JSON). Only a body it cannot vouch for
    // is parsed and walked, so the error (which field, which limit) is the walk's.
    if is_clean(raw) { Ok(()) } else { check_value_of(raw) }
}

/// The walk over the parsed body: the answer [`check_json`] gives.
fn check_value_of(raw: &[u8]) -> Result<(), ApiError> {
    match serde_json::from_slice::<Value>(raw) {
        Ok(value) => check_value(&value),
        Err(_) => Ok(()),
    }
}

/// True when `raw` is JSON that `serde_json` reads as a [`Value`] and nothing in it is over a
/// limit — so [`check_json`] passes it. False means "not shown": it may be over a limit, or not
/// JSON, or merely unusual; callers then take the slower path that answers exactly.
///
/// Every value is read through `deserialize_any` as `Value`'s own `Deserialize` reads it, so the
/// same bytes fail (syntax, a number out of range, a lone surrogate, the nesting limit). The
/// limit checks are those of [`walk`], applied to every occurrence, so they flag a superset: a
/// repeated key counts each time (a `Value` keeps the last), and any violation stops the pass.
pub(crate) fn is_clean(raw: &[u8]) -> bool {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(raw);
    let top = Scan { key: KeyClass::NONE, in_data: false, depth: 0 };
    top.deserialize(&mut de).and_then(|()| de.end()).is_ok()
}

/// What a member name means to the limits, worked out once when the name is read.
#[derive(Clone, Copy)]
struct KeyClass {
    /// [`text_limit`] of the name (for a string under it, outside `data`).
    text: usize,
    /// [`item_limit`] of the name (for a list under it).
    items: usize,
    /// The name is `data`.
    data: bool,
}

impl KeyClass {
    /// A value with no field name: the body itself (and the items of a top-level list).
    const NONE: KeyClass = KeyClass { text: MAX_TEXT_LEN, items: MAX_LIST_ITEMS, data: false };

    fn of(name: &str) -> KeyClass {
        KeyClass { text: text_limit(name), items: item_limit(name), data: name == "data" }
    }
}

/// One value of the streaming pass, with what [`walk`] would know about it.
#[derive(Clone, Copy)]
struct Scan {
    key: KeyClass,
    in_data: bool,
    /// `path.len()` in [`walk`].
    depth: usize,
}

/// Stops the pass: the error text is never shown (the caller falls back to the exact check).
fn stop<E: serde::de::Error>() -> E {
    E::custom("not shown within the limits")
}

impl<'de> serde::de::DeserializeSeed<'de> for Scan {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Scan {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        let max = if self.in_data { MAX_DATA_VALUE_LEN } else { self.key.text };
        if too_long(text, max) { Err(stop()) } else { Ok(()) }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(stop());
        }
        let item = Scan { key: self.key, in_data: false, depth: self.depth + 1 };
        let mut count = 0usize;
        while seq.next_element_seed(item)?.is_some() {
            count += 1;
            if count > self.key.items {
                return Err(stop());
            }
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(stop());
        }
        let is_data = self.key.data && !self.in_data;
        let max = if is_data { MAX_DATA_FIELDS } else { MAX_LIST_ITEMS };
        let mut count = 0usize;
        while let Some(key) = map.next_key_seed(MemberName)? {
            count += 1;
            if count > max {
                return Err(stop());
            }
            map.next_value_seed(Scan { key, in_data: is_data, depth: self.depth + 1 })?;
        }
        Ok(())
    }
}

/// A member name, read as `Value` reads it (`deserialize_str`) and classified.
struct MemberName;

impl<'de> serde::de::DeserializeSeed<'de> for MemberName {
    type Value = KeyClass;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<KeyClass, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for MemberName {
    type Value = KeyClass;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<KeyClass, E> {
        // With serde_json's `raw_value` feature, `Value` reads an object keyed by this token
        // differently; leave such (contrived) bodies to the exact path.
        if too_long(name, MAX_NAME_LEN) || name == "$serde_json::private::RawValue" {
            return Err(stop());
        }
        Ok(KeyClass::of(name))
    }
}

/// Checks a parsed JSON document against the limits.
pub fn check_value(value: &Value) -> Result<(), ApiError> {
    walk(value, None, false, &mut Vec::new())
}

/// One step of the path to a value, for naming it in an error.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `items[3].notes`
fn path_text(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { "body".into() } else { out }
}

/// Longer than `max` characters (the byte length bounds the character count from above, so most
/// strings need no counting).
fn too_long(text: &str, max: usize) -> bool {
    text.len() > max && text.chars().count() > max
}

fn over_limit(path: &[Step<'_>], message: String, max: usize) -> ApiError {
    let field = path_text(path);
    ApiError::invalid_field(&field, message).with_details(json!({"max": max}))
}

/// `key`: the field that holds `value` (for a list item, the list's field). `in_data`: `value` is
/// one entry of a `data` map.
fn walk<'a>(value: &'a Value, key: Option<&str>, in_data: bool, path: &mut Vec<Step<'a>>) -> Result<(), ApiError> {
    match value {
        Value::String(text) => {
            let max = if in_data { MAX_DATA_VALUE_LEN } else { key.map_or(MAX_TEXT_LEN, text_limit) };
            if too_long(text, max) {
                let field = path_text(path);
                return Err(over_limit(path, format!("{field} is longer than {max} characters"), max));
            }
            Ok(())
        }
        Value::Array(items) => {
            if path.len() >= MAX_DEPTH {
                return Err(too_deep());
            }
            let max = key.map_or(MAX_LIST_ITEMS, item_limit);
            if items.len() > max {
                let field = path_text(path);
                return Err(over_limit(path, format!("{field} has more than {max} items"), max));
            }
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(item, key, false, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Object(members) => {
            if path.len() >= MAX_DEPTH {
                return Err(too_deep());
            }
            let is_data = key == Some("data") && !in_data;
            let max = if is_data { MAX_DATA_FIELDS } else { MAX_LIST_ITEMS };
            if members.len() > max {
                let field = path_text(path);
                return Err(over_limit(path, format!("{field} has more than {max} members"), max));
            }
            for (name, member) in members {
                if too_long(name, MAX_NAME_LEN) {
                    let field = path_text(path);
                    return Err(over_limit(
                        path,
                        format!("a member name in {field} is longer than {MAX_NAME_LEN} characters"),
                        MAX_NAME_LEN,
                    ));
                }
                path.push(Step::Key(name));
                walk(member, Some(name), is_data, path)?;
                path.pop();
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn too_deep() -> ApiError {
    ApiError::bad_request("invalid_request", format!("the body is nested deeper than {MAX_DEPTH} levels"))
        .with_details(json!({"max_depth": MAX_DEPTH}))
}

/// Checks a query string (`raw`, as sent) and its decoded pairs against the limits.
pub fn check_query(raw: &str, pairs: &[(String, String)]) -> Result<(), ApiError> {
    if raw.len() > MAX_QUERY_LEN {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("the query string is longer than {MAX_QUERY_LEN} bytes"),
        )
        .with_details(json!({"max": MAX_QUERY_LEN})));
    }
    if pairs.len() > MAX_QUERY_PAIRS {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("the query string has more than {MAX_QUERY_PAIRS} parameters"),
        )
        .with_details(json!({"max": MAX_QUERY_PAIRS})));
    }
    for (name, value) in pairs {
        let max = text_limit(name);
        if too_long(value, max) {
            let shown: String = name.chars().take(MAX_NAME_LEN).collect();
            return Err(ApiError::invalid_field(&shown, format!("{shown} is longer than {max} characters"))
                .with_details(json!({"max": max})));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn field_of(err: ApiError) -> (u16, String, String) {
        let object = err.to_object();
        (err.status().as_u16(), object.code, object.details["field"].as_str().unwrap_or_default().to_string())
    }

    #[test]
    fn texts_are_limited_by_their_field_name_wherever_they_appear() {
        assert!(check_value(&json!({"notes": "x".repeat(MAX_NOTES_LEN)})).is_ok());
        let err = check_value(&json!({"notes": "x".repeat(MAX_NOTES_LEN + 1)})).unwrap_err();
        assert_eq!(field_of(err), (422, "validation_failed".into(), "notes".into()));
        let import = json!({"items": [{"phone": "1"}, {"phone": "1".repeat(MAX_PHONE_LEN + 1)}]});
        assert_eq!(field_of(check_value(&import).unwrap_err()).2, "items[1].phone");
        let err = check_value(&json!({"name": "é".repeat(MAX_NAME_LEN + 1)})).unwrap_err();
        assert_eq!(err.to_object().details["max"], MAX_NAME_LEN);
        // Characters count, not bytes: 200 two-byte characters are within the name limit.
        assert!(check_value(&json!({"name": "é".repeat(MAX_NAME_LEN)})).is_ok());
    }

    #[test]
    fn data_maps_limit_their_names_values_and_size() {
        assert!(check_value(&json!({"data": {"account": "x".repeat(MAX_DATA_VALUE_LEN)}})).is_ok());
        let err = check_value(&json!({"data": {"account": "x".repeat(MAX_DATA_VALUE_LEN + 1)}})).unwrap_err();
        assert_eq!(field_of(err).2, "data.account");
        // A data field called `notes` holds a data value, not notes.
        assert!(check_value(&json!({"data": {"notes": "x".repeat(MAX_DATA_VALUE_LEN)}})).is_ok());
        let long_name = "k".repeat(MAX_NAME_LEN + 1);
        assert_eq!(field_of(check_value(&json!({"data": {long_name: "v"}})).unwrap_err()).2, "data");
        let many: serde_json::Map<String, Value> =
            (0..=MAX_DATA_FIELDS).map(|i| (format!("f{i}"), json!("v"))).collect();
        assert_eq!(field_of(check_value(&json!({"data": many})).unwrap_err()).2, "data");
    }

    #[test]
    fn lists_are_limited_by_their_field_name() {
        assert!(check_value(&json!({"phones": ["1", "2", "3"]})).is_ok());
        assert_eq!(field_of(check_value(&json!({"phones": ["1", "2", "3", "4"]})).unwrap_err()).2, "phones");
        let ids = vec![json!("x"); MAX_LIST_ITEMS + 1];
        assert!(check_value(&json!({ "ids": ids.clone() })).is_ok());
        assert_eq!(field_of(check_value(&json!({ "lists": ids })).unwrap_err()).2, "lists");
        let items = vec![json!({}); MAX_IMPORT_ITEMS + 1];
        assert_eq!(field_of(check_value(&json!({ "items": items })).unwrap_err()).2, "items");
    }

    #[test]
    fn deep_nesting_is_a_bad_request() {
        let mut deep = json!(1);
        for _ in 0..MAX_DEPTH + 1 {
            deep = json!([deep]);
        }
        let err = check_value(&json!({ "all_in_range": { "x": deep } })).unwrap_err();
        assert_eq!((err.status().as_u16(), err.to_object().code.as_str()), (400, "invalid_request"));
        let mut shallow = json!(1);
        for _ in 0..MAX_DEPTH - 2 {
            shallow = json!([shallow]);
        }
        assert!(check_value(&json!({ "x": shallow })).is_ok());
    }

    /// What `check_json` answered before the streaming pass: parse, then walk.
    fn walked(raw: &[u8]) -> Result<(), ApiError> {
        check_value_of(raw)
    }

    #[test]
    fn the_streaming_pass_vouches_only_for_bodies_the_walk_passes() {
        let clean = [
            json!({"items": [{"phone": "+442079460001", "notes": "x".repeat(MAX_NOTES_LEN)}]}),
            json!({"data": {"notes": "x".repeat(MAX_DATA_VALUE_LEN)}, "ids": vec![json!(1); MAX_LIST_ITEMS + 1]}),
            json!([1, -2, 3.5, true, null, "é".repeat(MAX_TEXT_LEN)]),
        ];
        for value in clean {
            assert!(is_clean(value.to_string().as_bytes()), "{value}");
        }
        let over = [
            json!({"items": [{"phone": "1".repeat(MAX_PHONE_LEN + 1)}]}),
            json!({"data": {"account": "x".repeat(MAX_DATA_VALUE_LEN + 1)}}),
            json!({"lists": vec![json!(1); MAX_LIST_ITEMS + 1]}),
            json!({"k".repeat(MAX_NAME_LEN + 1): 1}),
        ];
        for value in over {
            assert!(!is_clean(value.to_string().as_bytes()));
            assert!(check_json(value.to_string().as_bytes()).is_err());
        }
        // Not read as a `Value`: neither vouched for nor refused (the typed parse answers).
        for raw in [r#"{"a": "\ud800"}"#, r#"{"a": 1e400}"#, "{", r#"{"a": 1} x"#] {
            assert!(serde_json::from_slice::<Value>(raw.as_bytes()).is_err(), "{raw}");
            assert!(!is_clean(raw.as_bytes()), "{raw}");
            assert!(check_json(raw.as_bytes()).is_ok(), "{raw}");
        }
        // A repeated member: the walk sees its last value only, so this passes the slow way.
        let raw = format!(r#"{{"notes": "{}", "notes": "short"}}"#, "x".repeat(MAX_NOTES_LEN + 1));
        assert!(!is_clean(raw.as_bytes()));
        assert!(check_json(raw.as_bytes()).is_ok());
        let raw = r#"{"$serde_json::private::RawValue": "1"}"#;
        assert!(!is_clean(raw.as_bytes()));
    }

    /// JSON values with texts and lists around the limits, under the names that have limits.
    fn value_strategy() -> impl Strategy<Value = Value> {
        let name = proptest::sample::select(vec!["notes", "phone", "data", "items", "ids", "name", "x", "fields"]);
        let length = proptest::sample::select(vec![0, 1, MAX_PHONE_LEN, MAX_PHONE_LEN + 1, MAX_NAME_LEN + 1]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            (length, proptest::sample::select(vec!['a', 'é'])).prop_map(|(n, c)| Value::from(c.to_string().repeat(n))),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::vec((name.clone(), inner), 0..6).prop_map(|members| {
                    Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn the_streaming_pass_agrees_with_the_walk(value in value_strategy()) {
            let raw = value.to_string();
            proptest::prop_assert_eq!(is_clean(raw.as_bytes()), walked(raw.as_bytes()).is_ok(), "{}", raw);
        }
    }

    #[test]
    fn query_values_are_limited_by_name_and_the_whole_query_by_size() {
        let pairs = |q: &str| vec![("q".to_string(), q.to_string())];
        assert!(check_query("", &pairs(&"a".repeat(MAX_SEARCH_LEN))).is_ok());
        let err = check_query("", &pairs(&"a".repeat(MAX_SEARCH_LEN + 1))).unwrap_err();
        assert_eq!(field_of(err), (422, "validation_failed".into(), "q".into()));
        assert_eq!(check_query(&"a".repeat(MAX_QUERY_LEN + 1), &[]).unwrap_err().status().as_u16(), 400);
        let many = vec![("state".to_string(), "QUEUED".to_string()); MAX_QUERY_PAIRS + 1];
        assert_eq!(check_query("", &many).unwrap_err().status().as_u16(), 400);
    }
}
