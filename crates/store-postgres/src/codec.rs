//! Between domain values and PostgreSQL columns: instants are bigint epoch milliseconds (the
//! precision every Rebound store keeps), callback ids native uuids, enums their `as_str` text.

use jiff::Timestamp;
use rebound_domain::model::CallbackId;

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

pub(crate) fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub(crate) fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) fn uuid(id: CallbackId) -> uuid::Uuid {
    id.0
}

pub(crate) fn id(uuid: uuid::Uuid) -> CallbackId {
    CallbackId(uuid)
}
