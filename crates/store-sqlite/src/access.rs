//! Access records: API tokens, console users and their sessions (migration 0004), and each user's
//! console preferences (0005).
//!
//! Every write runs on the writer thread as a guarded job (its own savepoint), so the changes that
//! must go together do: disabling a user or giving them a new password ends their sessions in the
//! same transaction, and a failed sign-in increments the counter and locks the user in one
//! statement, so two failures racing each other are both counted. Reads go through the read pool.
//! Scopes are stored as JSON text (`NULL` = everything).

use jiff::Timestamp;
use rebound_domain::access::{Role, Scope};
use rebound_domain::model::{Session, User, UserId};
use rebound_store::{ApiToken, NewToken, StoreError, StoreResult, UserLogin};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::codec::*;
use crate::error::{Op, ResultExt};

fn scope_to_json(scope: &Option<Scope>) -> Option<String> {
    scope.as_ref().map(to_json)
}

fn scope_from_json(idx: usize, text: Option<String>) -> rusqlite::Result<Option<Scope>> {
    text.map(|s| from_json(idx, &s)).transpose()
}

// ---- api token -----------------------------------------------------------------------------------

const TOKEN_COLS: &str = "api_token_id, name, role, scope, secret_hash, created_at, expires_at, revoked, last_used_at";

fn token_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        role: named(2, &r.get::<_, String>(2)?, Role::parse)?,
        scope: scope_from_json(3, r.get(3)?)?,
        secret_hash: r.get(4)?,
        created_at: ts(5, r.get(5)?)?,
        expires_at: opt_ts(6, r.get(6)?)?,
        revoked: r.get(7)?,
        last_used_at: opt_ts(8, r.get(8)?)?,
    })
}

fn get_token(conn: &Connection, id: i64) -> StoreResult<Option<ApiToken>> {
    let sql = format!("select {TOKEN_COLS} from api_token where api_token_id = ?1");
    conn.prepare_cached(&sql).db()?.query_row([id], token_row).optional().db()
}

/// Names need not be unique (the id tells tokens apart); a secret hash must be.
pub(crate) fn create_token(conn: &Connection, t: &NewToken) -> StoreResult<ApiToken> {
    conn.prepare_cached(
        "insert into api_token (name, role, scope, secret_hash, created_at, expires_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute(params![t.name, t.role.as_str(), scope_to_json(&t.scope), t.secret_hash, now_ms(), opt_ms(t.expires_at)])
    .on(Op::Write("token"))?;
    let id = conn.last_insert_rowid();
    get_token(conn, id)?.ok_or_else(|| StoreError::not_found(format!("token {id}")))
}

pub(crate) fn find_token(conn: &Connection, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
    let sql = format!("select {TOKEN_COLS} from api_token where secret_hash = ?1");
    conn.prepare_cached(&sql).db()?.query_row([secret_hash], token_row).optional().db()
}

pub(crate) fn list_tokens(conn: &Connection) -> StoreResult<Vec<ApiToken>> {
    let sql = format!("select {TOKEN_COLS} from api_token order by api_token_id");
    conn.prepare_cached(&sql).db()?.query_map([], token_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn count_tokens(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn.prepare_cached("select count(*) from api_token").db()?.query_row([], |r| r.get(0)).db()?;
    Ok(n as u64)
}

/// Marks the token revoked (again, if it already was) and returns it.
pub(crate) fn revoke_token(conn: &Connection, id: i64) -> StoreResult<ApiToken> {
    conn.prepare_cached("update api_token set revoked = 1 where api_token_id = ?1").db()?.execute([id]).db()?;
    get_token(conn, id)?.ok_or_else(|| StoreError::not_found(format!("token {id}")))
}

/// Records uses; `last_used_at` only moves forward, so the newest use wins whatever order the
/// batch (or two racing batches) came in. Unknown ids are ignored: there is nothing to record.
pub(crate) fn touch_tokens(conn: &Connection, used: &[(i64, Timestamp)]) -> StoreResult<()> {
    let mut st = conn
        .prepare_cached(
            "update api_token set last_used_at = ?2 where api_token_id = ?1 \
             and (last_used_at is null or last_used_at < ?2)",
        )
        .db()?;
    for (id, at) in used {
        st.execute(params![id, ms(*at)]).db()?;
    }
    Ok(())
}

// ---- user ----------------------------------------------------------------------------------------

const USER_COLS: &str = "user_id, username, display_name, timezone, role, agent_id, scope, disabled, created_at, \
    updated_at, password_hash, failed_logins, locked_until";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        timezone: r.get(3)?,
        role: named(4, &r.get::<_, String>(4)?, Role::parse)?,
        agent_id: r.get(5)?,
        scope: scope_from_json(6, r.get(6)?)?,
        disabled: r.get(7)?,
        created_at: ts(8, r.get(8)?)?,
        updated_at: ts(9, r.get(9)?)?,
    })
}

fn login_row(r: &Row<'_>) -> rusqlite::Result<UserLogin> {
    Ok(UserLogin {
        user: user_row(r)?,
        password_hash: r.get(10)?,
        failed_logins: r.get(11)?,
        locked_until: opt_ts(12, r.get(12)?)?,
    })
}

fn missing_user(id: UserId) -> StoreError {
    StoreError::not_found(format!("user {id}"))
}

/// Fails with `NotFound` when a statement about user `id` touched no row.
fn touched_user(changed: usize, id: UserId) -> StoreResult<()> {
    if changed == 0 { Err(missing_user(id)) } else { Ok(()) }
}

fn end_sessions_of(conn: &Connection, id: UserId) -> StoreResult<()> {
    conn.prepare_cached("delete from session where user_id = ?1").db()?.execute([id]).db()?;
    Ok(())
}

fn get_login(conn: &Connection, id: UserId) -> StoreResult<Option<UserLogin>> {
    let sql = format!("select {USER_COLS} from app_user where user_id = ?1");
    conn.prepare_cached(&sql).db()?.query_row([id], login_row).optional().db()
}

pub(crate) fn get_user(conn: &Connection, id: UserId) -> StoreResult<Option<User>> {
    Ok(get_login(conn, id)?.map(|l| l.user))
}

/// The `username` column collates NOCASE, so `=` here ignores case.
pub(crate) fn find_user_login(conn: &Connection, username: &str) -> StoreResult<Option<UserLogin>> {
    let sql = format!("select {USER_COLS} from app_user where username = ?1");
    conn.prepare_cached(&sql).db()?.query_row([username], login_row).optional().db()
}

pub(crate) fn list_users(conn: &Connection) -> StoreResult<Vec<User>> {
    let sql = format!("select {USER_COLS} from app_user order by username, user_id");
    conn.prepare_cached(&sql).db()?.query_map([], user_row).db()?.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn count_users(conn: &Connection) -> StoreResult<u64> {
    let n: i64 = conn.prepare_cached("select count(*) from app_user").db()?.query_row([], |r| r.get(0)).db()?;
    Ok(n as u64)
}

pub(crate) fn create_user(conn: &Connection, u: &User, password_hash: &str) -> StoreResult<User> {
    conn.prepare_cached(
        "insert into app_user (username, display_name, timezone, role, agent_id, scope, disabled, password_hash, \
         created_at, updated_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )
    .db()?
    .execute(params![
        u.username,
        u.display_name,
        u.timezone,
        u.role.as_str(),
        u.agent_id,
        scope_to_json(&u.scope),
        u.disabled,
        password_hash,
        now_ms()
    ])
    .on(Op::Write("user"))?;
    let id = conn.last_insert_rowid();
    get_user(conn, id)?.ok_or_else(|| missing_user(id))
}

/// Replaces the record but not the password or the sign-in state; a disabled user's sessions end
/// in the same transaction.
pub(crate) fn update_user(conn: &Connection, u: &User) -> StoreResult<User> {
    let n = conn
        .prepare_cached(
            "update app_user set username = ?2, display_name = ?3, timezone = ?4, role = ?5, agent_id = ?6, \
             scope = ?7, disabled = ?8, updated_at = ?9 where user_id = ?1",
        )
        .db()?
        .execute(params![
            u.id,
            u.username,
            u.display_name,
            u.timezone,
            u.role.as_str(),
            u.agent_id,
            scope_to_json(&u.scope),
            u.disabled,
            now_ms()
        ])
        .on(Op::Write("user"))?;
    touched_user(n, u.id)?;
    if u.disabled {
        end_sessions_of(conn, u.id)?;
    }
    get_user(conn, u.id)?.ok_or_else(|| missing_user(u.id))
}

/// A new password: failed attempts and lockout cleared, every session ended (whoever knew the old
/// password is signed out).
pub(crate) fn set_user_password(conn: &Connection, id: UserId, password_hash: &str) -> StoreResult<()> {
    let n = conn
        .prepare_cached(
            "update app_user set password_hash = ?2, failed_logins = 0, locked_until = null, updated_at = ?3 \
             where user_id = ?1",
        )
        .db()?
        .execute(params![id, password_hash, now_ms()])
        .db()?;
    touched_user(n, id)?;
    end_sessions_of(conn, id)
}

/// One statement counts the failure and, at the threshold, locks: each failure at or past it
/// (while locked, or right after a lockout ran out) locks again until the new `locked_until`.
/// `lock_after = 0` never locks.
pub(crate) fn record_login_failure(
    conn: &Connection,
    id: UserId,
    lock_after: u32,
    locked_until: Timestamp,
) -> StoreResult<UserLogin> {
    let n = conn
        .prepare_cached(
            "update app_user set failed_logins = failed_logins + 1, \
             locked_until = case when ?2 > 0 and failed_logins + 1 >= ?2 then ?3 else locked_until end \
             where user_id = ?1",
        )
        .db()?
        .execute(params![id, lock_after, ms(locked_until)])
        .db()?;
    touched_user(n, id)?;
    get_login(conn, id)?.ok_or_else(|| missing_user(id))
}

pub(crate) fn record_login_success(conn: &Connection, id: UserId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("update app_user set failed_logins = 0, locked_until = null where user_id = ?1")
        .db()?
        .execute([id])
        .db()?;
    touched_user(n, id)
}

// ---- user preferences ------------------------------------------------------------------------

pub(crate) fn get_user_prefs(conn: &Connection, id: UserId) -> StoreResult<Option<String>> {
    conn.prepare_cached("select prefs from user_prefs where user_id = ?1")
        .db()?
        .query_row([id], |r| r.get(0))
        .optional()
        .db()
}

/// Inserts or replaces in one statement; selecting from `app_user` makes an unknown user write
/// nothing (`NotFound`) rather than fail the foreign key.
pub(crate) fn put_user_prefs(conn: &Connection, id: UserId, prefs: &str) -> StoreResult<()> {
    let n = conn
        .prepare_cached(
            "insert into user_prefs (user_id, prefs, updated_at) select user_id, ?2, ?3 from app_user \
             where user_id = ?1 on conflict (user_id) do update set prefs = excluded.prefs, updated_at = excluded.updated_at",
        )
        .db()?
        .execute(params![id, prefs, now_ms()])
        .on(Op::Write("user preferences"))?;
    touched_user(n, id)
}

// ---- session -------------------------------------------------------------------------------------

const SESSION_COLS: &str = "id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at";

fn session_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id_hash: r.get(0)?,
        user_id: r.get(1)?,
        csrf_token: r.get(2)?,
        created_at: ts(3, r.get(3)?)?,
        last_seen_at: ts(4, r.get(4)?)?,
        expires_at: ts(5, r.get(5)?)?,
    })
}

/// Inserts the session only while its user exists and is enabled: a sign-in that checked the user
/// just before an admin disabled them cannot leave a session behind.
pub(crate) fn create_session(conn: &Connection, s: &Session) -> StoreResult<()> {
    let n = conn
        .prepare_cached(
            "insert into session (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
             select ?1, user_id, ?3, ?4, ?5, ?6 from app_user where user_id = ?2 and disabled = 0",
        )
        .db()?
        .execute(params![s.id_hash, s.user_id, s.csrf_token, ms(s.created_at), ms(s.last_seen_at), ms(s.expires_at)])
        .on(Op::Write("session"))?;
    if n == 1 {
        return Ok(());
    }
    match get_user(conn, s.user_id)? {
        Some(_) => Err(StoreError::Conflict(format!("user {} is disabled", s.user_id))),
        None => Err(missing_user(s.user_id)),
    }
}

pub(crate) fn find_session(conn: &Connection, id_hash: &str) -> StoreResult<Option<Session>> {
    let sql = format!("select {SESSION_COLS} from session where id_hash = ?1");
    conn.prepare_cached(&sql).db()?.query_row([id_hash], session_row).optional().db()
}

/// Moves `last_seen_at` forward only (two requests touching out of order cannot shorten the
/// session). A session that ended meanwhile is not an error: there is nothing left to touch.
pub(crate) fn touch_session(conn: &Connection, id_hash: &str, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached("update session set last_seen_at = ?2 where id_hash = ?1 and last_seen_at < ?2")
        .db()?
        .execute(params![id_hash, ms(at)])
        .db()?;
    Ok(())
}

/// Signing out twice is not an error.
pub(crate) fn delete_session(conn: &Connection, id_hash: &str) -> StoreResult<()> {
    conn.prepare_cached("delete from session where id_hash = ?1").db()?.execute([id_hash]).db()?;
    Ok(())
}

pub(crate) fn purge_sessions(conn: &Connection, idle_before: Timestamp, now: Timestamp) -> StoreResult<u64> {
    let n = conn
        .prepare_cached("delete from session where last_seen_at < ?1 or expires_at <= ?2")
        .db()?
        .execute(params![ms(idle_before), ms(now)])
        .db()?;
    Ok(n as u64)
}
