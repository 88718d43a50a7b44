//! The fields of the configuration forms, and the [`Draft`] they show.
//!
//! A form is drawn from a draft: the stored object's values when the page opens, or exactly what
//! was posted when a service refused it (so nothing typed is lost), together with the field the
//! refusal named (that input gets `aria-invalid`). Form fields are named after the API's fields
//! (`slot_capacity`, `add_to_queue.queue_id`, `scope.campaigns`), so a refusal's `details.field`
//! points at its input without a mapping table.
//!
//! Every input has a `<label for>`; ids are `{form}-{field}` with `.` and `_` written as `-`
//! (`queue-slot-capacity`), so tests and scripts can find them.

use std::str::FromStr;
use std::sync::LazyLock;

use maud::{Markup, html};

use crate::error::{ApiError, ApiResult};

use super::super::forms::Form;

/// The values a form shows, and the field a refusal named.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pairs: Vec<(String, String)>,
    invalid: Option<String>,
}

impl Draft {
    pub fn new() -> Draft {
        Draft::default()
    }

    /// What was posted (blank fields included: paired inputs stay paired).
    pub fn posted(form: &Form) -> Draft {
        Draft { pairs: form.pairs().to_vec(), invalid: None }
    }

    /// The same values, marking the field `error` names (its `details.field`).
    pub fn refused(mut self, error: &ApiError) -> Draft {
        let details = error.to_object().details;
        self.invalid = details.get("field").and_then(|f| f.as_str()).map(str::to_string);
        self
    }

    pub fn with(mut self, name: &str, value: impl ToString) -> Draft {
        self.pairs.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_all<T: ToString>(mut self, name: &str, values: impl IntoIterator<Item = T>) -> Draft {
        for value in values {
            self.pairs.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// A ticked checkbox when `on` (an unticked one is simply absent, as a browser posts it).
    pub fn flag(self, name: &str, on: bool) -> Draft {
        if on { self.with(name, "on") } else { self }
    }

    /// The first value of `name`, trimmed; `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.trim()).unwrap_or("")
    }

    /// The first value of `name` exactly as typed (a password: spaces at its ends belong to it).
    pub fn untrimmed(&self, name: &str) -> String {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).unwrap_or_default()
    }

    /// Every value of `name` in order, blanks included.
    pub fn raw_all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| value.trim()).collect()
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.raw_all(name).into_iter().filter(|value| !value.is_empty()).collect()
    }

    pub fn has(&self, name: &str, value: &str) -> bool {
        self.all(name).contains(&value)
    }

    pub fn checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, value)| key == name && !value.is_empty() && value != "false")
    }

    /// The value of `name`, `None` when blank.
    pub fn text(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|value| !value.is_empty()).map(str::to_string)
    }

    /// A number field: `None` when blank, a 422 naming the field when it is not a whole number.
    pub fn number<T: FromStr>(&self, name: &str) -> ApiResult<Option<T>> {
        match self.get(name) {
            "" => Ok(None),
            text => text
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_field(name, format!("{} must be a whole number", label_of(name)))),
        }
    }

    /// Every id ticked or chosen in `name`.
    pub fn ids(&self, name: &str) -> ApiResult<Vec<i64>> {
        self.all(name)
            .into_iter()
            .map(|text| text.parse().map_err(|_| ApiError::invalid_field(name, format!("'{text}' is not an id"))))
            .collect()
    }

    /// Whether a refusal named this field (or a part of it: `lead_calling_hours` marks
    /// `lead_calling_hours.start`; `add_to_queue.queue_id` marks itself).
    pub fn invalid(&self, name: &str) -> bool {
        self.invalid
            .as_deref()
            .is_some_and(|field| field == name || name.strip_prefix(field).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// The words of a field name, for messages (`slot_capacity` → `slot capacity`).
fn label_of(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).replace('_', " ")
}

/// The id of field `name` of form `form`.
pub fn field_id(form: &str, name: &str) -> String {
    format!("{form}-{}", name.replace(['.', '_'], "-"))
}

/// A hint under an input, referenced by `aria-describedby`.
fn hint_markup(id: &str, hint: Option<&str>) -> Markup {
    html! {
        @if let Some(hint) = hint {
            small.hint id=(format!("{id}-hint")) { (hint) }
        }
    }
}

fn described_by(id: &str, hint: Option<&str>) -> Option<String> {
    hint.map(|_| format!("{id}-hint"))
}

/// What kind of single-line input a field is.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    /// `HH:MM` (a text input: `24:00` may end a range, which a time input cannot hold).
    Time,
    Number {
        min: u32,
        max: u32,
    },
    Date,
    Password,
}

/// A labelled single-line input.
pub fn input(draft: &Draft, form: &str, name: &str, label: &str, kind: Kind, hint: Option<&str>) -> Markup {
    let id = field_id(form, name);
    let (kind_attr, pattern, inputmode, min, max) = match kind {
        Kind::Text => ("text", None, None, None, None),
        Kind::Time => ("text", Some("([01]?[0-9]|2[0-4]):[0-5][0-9]"), Some("numeric"), None, None),
        Kind::Number { min, max } => ("number", None, None, Some(min), Some(max)),
        Kind::Date => ("date", None, None, None, None),
        Kind::Password => ("password", None, None, None, None),
    };
    let value = if matches!(kind, Kind::Password) { "" } else { draft.get(name) };
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind_attr) value=(value)
                pattern=[pattern] inputmode=[inputmode] min=[min] max=[max]
                placeholder=[matches!(kind, Kind::Time).then_some("HH:MM")]
                autocomplete=[matches!(kind, Kind::Password).then_some("new-password")]
                aria-invalid=[draft.invalid(name).then_some("true")]
                aria-describedby=[described_by(&id, hint)];
            (hint_markup(&id, hint))
        }
    }
}

/// A labelled timezone input offering the bundled tz database's names.
pub fn timezone(draft: &Draft, form: &str, name: &str, label: &str) -> Markup {
    let id = field_id(form, name);
    let list = format!("{id}-zones");
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type="text" value=(draft.get(name)) list=(list) autocomplete="off"
                spellcheck="false" placeholder="Europe/London"
                aria-invalid=[draft.invalid(name).then_some("true")];
            datalist id=(list) {
                @for zone in zone_names() {
                    option value=(zone) {}
                }
            }
        }
    }
}

/// The IANA names of the bundled tz database, sorted (the `Area/City` ones and `UTC`), read once.
fn zone_names() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|name| name.as_str().to_string())
            .filter(|name| (name.contains('/') && !name.starts_with("Etc/")) || name == "UTC")
            .collect();
        names.sort();
        names
    });
    &NAMES
}

/// A labelled checkbox.
pub fn checkbox(draft: &Draft, form: &str, name: &str, label: &str, hint: Option<&str>) -> Markup {
    let id = field_id(form, name);
    html! {
        div.field.check {
            input id=(id) name=(name) type="checkbox" value="on" checked[draft.checked(name)]
                aria-invalid=[draft.invalid(name).then_some("true")]
                aria-describedby=[described_by(&id, hint)];
            label for=(id) { (label) }
            (hint_markup(&id, hint))
        }
    }
}

/// A labelled drop-down of `(value, text)` options; `blank` adds an empty first option.
pub fn select(
    draft: &Draft,
    form: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    blank: Option<&str>,
) -> Markup {
    let id = field_id(form, name);
    let current = draft.get(name);
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) aria-invalid=[draft.invalid(name).then_some("true")] {
                @if let Some(blank) = blank {
                    option value="" selected[current.is_empty()] { (blank) }
                }
                @for (value, text) in options {
                    option value=(value) selected[current == value] { (text) }
                }
            }
        }
    }
}

/// A fieldset of checkboxes, one per `(value, text)`, all posted as `name`.
pub fn checkboxes(
    draft: &Draft,
    form: &str,
    name: &str,
    legend: &str,
    options: &[(String, String)],
    hint: Option<&str>,
) -> Markup {
    let id = field_id(form, name);
    html! {
        fieldset.choices id=(id) aria-invalid=[draft.invalid(name).then_some("true")]
            aria-describedby=[described_by(&id, hint)] {
            legend { (legend) }
            @if options.is_empty() {
                p.muted { "None configured yet." }
            }
            @for (value, text) in options {
                @let box_id = format!("{id}-{value}");
                span.choice {
                    input id=(box_id) name=(name) type="checkbox" value=(value) checked[draft.has(name, value)];
                    label for=(box_id) { (text) }
                }
            }
            (hint_markup(&id, hint))
        }
    }
}

/// A labelled multi-line text field.
pub fn textarea(draft: &Draft, form: &str, name: &str, label: &str, hint: Option<&str>) -> Markup {
    let id = field_id(form, name);
    html! {
        div.field {
            label for=(id) { (label) }
            textarea id=(id) name=(name) rows="4" spellcheck="false"
                aria-invalid=[draft.invalid(name).then_some("true")]
                aria-describedby=[described_by(&id, hint)] { (draft.get(name)) }
            (hint_markup(&id, hint))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_keeps_blanks_in_order_and_reads_numbers_and_ids() {
        let form = Form::parse(b"thu_start=08:30&thu_end=19:00&thu_start=&thu_end=&n=12&bad=1x&ids=3&ids=&ids=5");
        let draft = Draft::posted(&form);
        assert_eq!(draft.raw_all("thu_start"), vec!["08:30", ""]);
        assert_eq!(draft.number::<u32>("n").unwrap(), Some(12));
        assert_eq!(draft.number::<u32>("missing").unwrap(), None);
        let refused = draft.number::<u32>("bad").unwrap_err();
        assert_eq!(refused.to_object().details["field"], "bad");
        assert_eq!(draft.ids("ids").unwrap(), vec![3, 5]);
    }

    #[test]
    fn a_refusal_marks_its_field_and_the_fields_inside_it() {
        let error = ApiError::invalid_field("lead_calling_hours", "no");
        let draft = Draft::new().refused(&error);
        assert!(draft.invalid("lead_calling_hours.start"));
        assert!(draft.invalid("lead_calling_hours"));
        assert!(!draft.invalid("lead_calling_hours_x"));
        assert!(!draft.invalid("name"));
        assert_eq!(field_id("queue", "add_to_queue.queue_id"), "queue-add-to-queue-queue-id");
    }
}
