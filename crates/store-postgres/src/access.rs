//! Access: API tokens, console users, sessions, per-user preferences.

#![allow(unused_imports, unused_variables)] // stubs until the section is written (issue 7)

use jiff::Timestamp;
use rebound_domain::model::*;
use rebound_store::*;

use crate::{PgStore, not_yet};

pub async fn create_token(store: &PgStore, token: NewToken) -> StoreResult<ApiToken> {
    let _ = (store, token);
    Err(not_yet("create_token"))
}

pub async fn find_token(store: &PgStore, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
    let _ = (store, secret_hash);
    Err(not_yet("find_token"))
}

pub async fn count_tokens(store: &PgStore) -> StoreResult<u64> {
    let _ = store;
    Err(not_yet("count_tokens"))
}

pub async fn list_tokens(store: &PgStore) -> StoreResult<Vec<ApiToken>> {
    let _ = store;
    Err(not_yet("list_tokens"))
}

pub async fn revoke_token(store: &PgStore, id: i64) -> StoreResult<ApiToken> {
    let _ = (store, id);
    Err(not_yet("revoke_token"))
}

pub async fn touch_tokens(store: &PgStore, used: Vec<(i64, Timestamp)>) -> StoreResult<()> {
    let _ = (store, used);
    Err(not_yet("touch_tokens"))
}

pub async fn create_user(store: &PgStore, user: User, password_hash: &str) -> StoreResult<User> {
    let _ = (store, user, password_hash);
    Err(not_yet("create_user"))
}

pub async fn get_user(store: &PgStore, id: UserId) -> StoreResult<Option<User>> {
    let _ = (store, id);
    Err(not_yet("get_user"))
}

pub async fn find_user_login(store: &PgStore, username: &str) -> StoreResult<Option<UserLogin>> {
    let _ = (store, username);
    Err(not_yet("find_user_login"))
}

pub async fn list_users(store: &PgStore) -> StoreResult<Vec<User>> {
    let _ = store;
    Err(not_yet("list_users"))
}

pub async fn update_user(store: &PgStore, user: User) -> StoreResult<User> {
    let _ = (store, user);
    Err(not_yet("update_user"))
}

pub async fn set_user_password(store: &PgStore, id: UserId, password_hash: &str) -> StoreResult<()> {
    let _ = (store, id, password_hash);
    Err(not_yet("set_user_password"))
}

pub async fn record_login_failure(
    store: &PgStore,
    id: UserId,
    lock_after: u32,
    locked_until: Timestamp,
) -> StoreResult<UserLogin> {
    let _ = (store, id, lock_after, locked_until);
    Err(not_yet("record_login_failure"))
}

pub async fn record_login_success(store: &PgStore, id: UserId) -> StoreResult<()> {
    let _ = (store, id);
    Err(not_yet("record_login_success"))
}

pub async fn count_users(store: &PgStore) -> StoreResult<u64> {
    let _ = store;
    Err(not_yet("count_users"))
}

pub async fn get_user_prefs(store: &PgStore, id: UserId) -> StoreResult<Option<String>> {
    let _ = (store, id);
    Err(not_yet("get_user_prefs"))
}

pub async fn put_user_prefs(store: &PgStore, id: UserId, prefs: &str) -> StoreResult<()> {
    let _ = (store, id, prefs);
    Err(not_yet("put_user_prefs"))
}

pub async fn create_session(store: &PgStore, session: Session) -> StoreResult<()> {
    let _ = (store, session);
    Err(not_yet("create_session"))
}

pub async fn find_session(store: &PgStore, id_hash: &str) -> StoreResult<Option<Session>> {
    let _ = (store, id_hash);
    Err(not_yet("find_session"))
}

pub async fn touch_session(store: &PgStore, id_hash: &str, at: Timestamp) -> StoreResult<()> {
    let _ = (store, id_hash, at);
    Err(not_yet("touch_session"))
}

pub async fn delete_session(store: &PgStore, id_hash: &str) -> StoreResult<()> {
    let _ = (store, id_hash);
    Err(not_yet("delete_session"))
}

pub async fn purge_sessions(store: &PgStore, idle_before: Timestamp, now: Timestamp) -> StoreResult<u64> {
    let _ = (store, idle_before, now);
    Err(not_yet("purge_sessions"))
}
