//! How PostgreSQL failures become [`StoreError`]s, with the SQLite store's policy: a schema rule that
//! refused the write (unique, check, not null, or a foreign key on delete) is the caller's business
//! and becomes `Conflict` with a sentence naming the rule; a foreign key that points nowhere on insert
//! or update becomes `NotFound`; everything else (connection, I/O, a bug) is `Backend`, logged by the
//! server and shown as a 500.

use rebound_store::StoreError;
use tokio_postgres::error::SqlState;

/// What the failing statement was doing, so a constraint failure can be explained.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op<'a> {
    /// Inserting or updating the named kind of record.
    Write(&'a str),
    /// Deleting the named kind of record.
    Delete(&'a str),
}

/// Maps a failure of a statement doing `op`.
pub(crate) fn constraint(err: tokio_postgres::Error, op: Op<'_>) -> StoreError {
    let Some(db) = err.as_db_error() else { return backend(err) };
    let code = db.code();
    let what = match op {
        Op::Write(what) | Op::Delete(what) => what,
    };
    if *code == SqlState::FOREIGN_KEY_VIOLATION {
        return match op {
            Op::Delete(_) => StoreError::Conflict(format!("the {what} is still in use and cannot be deleted")),
            Op::Write(_) => StoreError::not_found(format!("a record this {what} refers to")),
        };
    }
    if *code == SqlState::UNIQUE_VIOLATION {
        let columns = db.detail().and_then(unique_columns).unwrap_or_else(|| "key".to_string());
        return StoreError::Conflict(format!("a {what} with the same {columns} already exists"));
    }
    if *code == SqlState::CHECK_VIOLATION || *code == SqlState::NOT_NULL_VIOLATION {
        return StoreError::Conflict(format!("the {what} breaks a rule of the schema ({})", db.message()));
    }
    backend(err)
}

/// `Key (name)=(x) already exists.` → `name`; `Key (lower(username))=…` → `username`.
fn unique_columns(detail: &str) -> Option<String> {
    let inside = detail.strip_prefix("Key (")?.split(")=(").next()?;
    let inside = inside.trim_start_matches("lower(").trim_end_matches(')');
    Some(inside.split(", ").collect::<Vec<_>>().join(" and "))
}

/// Any other failure.
pub(crate) fn backend(err: impl Into<Described>) -> StoreError {
    StoreError::Backend(err.into().0)
}

/// A failure as a sentence: for a database error its message, not only "db error".
pub(crate) struct Described(pub String);

impl From<tokio_postgres::Error> for Described {
    fn from(err: tokio_postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => Described(format!("{}: {}", db.code().code(), db.message())),
            None => Described(err.to_string()),
        }
    }
}

impl From<String> for Described {
    fn from(message: String) -> Self {
        Described(message)
    }
}

impl From<deadpool_postgres::BuildError> for Described {
    fn from(err: deadpool_postgres::BuildError) -> Self {
        Described(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_details_name_their_columns() {
        assert_eq!(unique_columns("Key (name)=(London) already exists.").as_deref(), Some("name"));
        assert_eq!(
            unique_columns("Key (campaign_id, code)=(1, X) already exists.").as_deref(),
            Some("campaign_id and code")
        );
        assert_eq!(unique_columns("Key (lower(username))=(ann) already exists.").as_deref(), Some("username"));
        assert_eq!(unique_columns("something else"), None);
    }
}
