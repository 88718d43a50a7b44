//! How SQLite failures become [`StoreError`]s. The policy: a schema rule that refused the write
//! (a UNIQUE, CHECK or NOT NULL constraint, or a foreign key on delete) is the caller's business and
//! becomes `Conflict` with a sentence naming the rule; a foreign key that points nowhere on insert or
//! update becomes `NotFound`; everything else (I/O, corruption, a bug) is `Backend`, logged by the
//! server and shown as a 500.

use rebound_store::StoreError;
use rusqlite::ffi;

/// What the failing statement was doing, so a constraint failure can be explained.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Inserting or updating the named kind of record.
    Write(&'a str),
    /// Deleting the named kind of record.
    Delete(&'a str),
}

/// Maps a failure of a statement doing `op`.
pub(crate) fn constraint(err: rusqlite::Error, op: Op<'_>) -> StoreError {
    let extended = match &err {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation => e.extended_code,
        _ => return backend(err),
    };
    let detail = match &err {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.as_str(),
        _ => "",
    };
    match (extended, op) {
        (ffi::SQLITE_CONSTRAINT_FOREIGNKEY, Op::Delete(what)) => {
            StoreError::Conflict(format!("the {what} is still in use and cannot be deleted"))
        }
        (ffi::SQLITE_CONSTRAINT_FOREIGNKEY, Op::Write(what)) => {
            StoreError::not_found(format!("a record this {what} refers to"))
        }
        (ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY, Op::Write(what) | Op::Delete(what)) => {
            StoreError::Conflict(format!("a {what} with the same {} already exists", unique_columns(detail)))
        }
        (_, Op::Write(what) | Op::Delete(what)) => {
            StoreError::Conflict(format!("the {what} breaks a rule of the schema ({detail})"))
        }
    }
}

/// `UNIQUE constraint failed: campaign.name` → `name`.
fn unique_columns(detail: &str) -> String {
    let cols = detail.rsplit(": ").next().unwrap_or(detail);
    let names: Vec<&str> = cols.split(", ").map(|c| c.rsplit('.').next().unwrap_or(c)).collect();
    if names.is_empty() || detail.is_empty() { "key".to_string() } else { names.join(" and ") }
}

/// Any other failure: the store itself is in trouble.
pub(crate) fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

pub(crate) trait ResultExt<T> {
    /// `?`-friendly [`backend`] mapping for statements that no constraint can refuse.
    fn db(self) -> Result<T, StoreError>;
    /// `?`-friendly [`constraint`] mapping.
    fn on(self, op: Op<'_>) -> Result<T, StoreError>;
}

impl<T> ResultExt<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(backend)
    }

    fn on(self, op: Op<'_>) -> Result<T, StoreError> {
        self.map_err(|e| constraint(e, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_failures_name_the_columns() {
        assert_eq!(unique_columns("UNIQUE constraint failed: queue.campaign_id, queue.name"), "campaign_id and name");
        assert_eq!(unique_columns(""), "key");
    }
}
