//! Access: API tokens, console users, sessions, per-user preferences (migrations 0004 and 0005).
//!
//! The changes that must go together do, each in one transaction or one statement: disabling a user
//! or giving them a new password ends their sessions in the same transaction; a failed sign-in
//! counts and locks in one `UPDATE … RETURNING`, which takes the row lock, so racing failures are all
//! counted and each sees its own count; a session is inserted only while its user is enabled.
//! Scopes are stored as JSON text (`NULL` = everything), as on SQLite.

use jiff::Timestamp;
use rebound_domain::access::{Role, Scope};
use rebound_domain::model::{Session, User, UserId};
use rebound_store::{ApiToken, NewToken, StoreError, StoreResult, UserLogin};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PgStore;
use crate::codec::{from_json, get, get_named, get_opt_ts, get_ts, get_u32, ms, now_ms, opt_ms, to_json};
use crate::error::{Op, backend, constraint};

fn scope_to_json(scope: &Option<Scope>) -> Option<String> {
    scope.as_ref().map(to_json)
}

fn scope_from_json(row: &Row, idx: usize) -> StoreResult<Option<Scope>> {
    get::<Option<&str>>(row, idx)?.map(from_json).transpose()
}

/// Runs one statement on a pooled connection and answers the rows it changed.
async fn execute(store: &PgStore, sql: &str, params: &[&(dyn ToSql + Sync)], op: Op<'_>) -> StoreResult<u64> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(backend)?;
    let changed = client.execute(&statement, params).await.map_err(|e| constraint(e, op))?;
    if changed > 0 {
        store.committed();
    }
    Ok(changed)
}

/// Runs one query on a pooled connection and decodes the row it found, if any.
async fn query_opt<T>(
    store: &PgStore,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(backend)?;
    client.query_opt(&statement, params).await.map_err(backend)?.as_ref().map(decode).transpose()
}

/// Runs one query on a pooled connection and decodes every row.
async fn query_all<T>(
    store: &PgStore,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let client = store.client().await?;
    let statement = client.prepare_cached(sql).await.map_err(backend)?;
    client.query(&statement, params).await.map_err(backend)?.iter().map(decode).collect()
}

async fn count(store: &PgStore, sql: &str) -> StoreResult<u64> {
    let n = query_opt(store, sql, &[], |r| get::<i64>(r, 0)).await?.unwrap_or(0);
    Ok(n.max(0) as u64)
}

// ---- api token -----------------------------------------------------------------------------------

const TOKEN_COLS: &str = "api_token_id, name, role, scope, secret_hash, created_at, expires_at, revoked, last_used_at";

fn token_row(r: &Row) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: get(r, 0)?,
        name: get(r, 1)?,
        role: get_named(r, 2, Role::parse)?,
        scope: scope_from_json(r, 3)?,
        secret_hash: get(r, 4)?,
        created_at: get_ts(r, 5)?,
        expires_at: get_opt_ts(r, 6)?,
        revoked: get(r, 7)?,
        last_used_at: get_opt_ts(r, 8)?,
    })
}

fn missing_token(id: i64) -> StoreError {
    StoreError::not_found(format!("token {id}"))
}

/// Names need not be unique (the id tells tokens apart); a secret hash must be.
pub async fn create_token(store: &PgStore, token: NewToken) -> StoreResult<ApiToken> {
    let sql = format!(
        "insert into api_token (name, role, scope, secret_hash, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6) returning {TOKEN_COLS}"
    );
    let client = store.client().await?;
    let statement = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_one(
            &statement,
            &[
                &token.name,
                &token.role.as_str(),
                &scope_to_json(&token.scope),
                &token.secret_hash,
                &now_ms(),
                &opt_ms(token.expires_at),
            ],
        )
        .await
        .map_err(|e| constraint(e, Op::Write("token")))?;
    store.committed();
    token_row(&row)
}

pub async fn find_token(store: &PgStore, secret_hash: &str) -> StoreResult<Option<ApiToken>> {
    let sql = format!("select {TOKEN_COLS} from api_token where secret_hash = $1");
    query_opt(store, &sql, &[&secret_hash], token_row).await
}

pub async fn count_tokens(store: &PgStore) -> StoreResult<u64> {
    count(store, "select count(*) from api_token").await
}

pub async fn list_tokens(store: &PgStore) -> StoreResult<Vec<ApiToken>> {
    let sql = format!("select {TOKEN_COLS} from api_token order by api_token_id");
    query_all(store, &sql, &[], token_row).await
}

/// Marks the token revoked (again, if it already was) and returns it.
pub async fn revoke_token(store: &PgStore, id: i64) -> StoreResult<ApiToken> {
    let sql = format!("update api_token set revoked = true where api_token_id = $1 returning {TOKEN_COLS}");
    let token = query_opt(store, &sql, &[&id], token_row).await?.ok_or_else(|| missing_token(id))?;
    store.committed();
    Ok(token)
}

/// Records uses in one statement; `last_used_at` only moves forward, so the newest use wins whatever
/// order the batch (or two racing batches) came in. Unknown ids are ignored: there is nothing to
/// record. The rows are locked in id order first, so two nodes touching the same tokens at once
/// queue behind each other instead of deadlocking.
pub async fn touch_tokens(store: &PgStore, used: Vec<(i64, Timestamp)>) -> StoreResult<()> {
    if used.is_empty() {
        return Ok(());
    }
    let (ids, ats): (Vec<i64>, Vec<i64>) = used.iter().map(|(id, at)| (*id, ms(*at))).unzip();
    execute(
        store,
        "with newest as (select id, max(at) as at from unnest($1::bigint[], $2::bigint[]) as u (id, at) group by id), \
         locked as (select t.api_token_id from api_token t join newest n on n.id = t.api_token_id \
                    order by t.api_token_id for update of t) \
         update api_token t set last_used_at = n.at from newest n \
         where t.api_token_id = n.id and t.api_token_id in (select api_token_id from locked) \
         and (t.last_used_at is null or t.last_used_at < n.at)",
        &[&ids, &ats],
        Op::Write("token"),
    )
    .await?;
    Ok(())
}

// ---- user ----------------------------------------------------------------------------------------

const USER_COLS: &str = "user_id, username, display_name, timezone, role, agent_id, scope, disabled, created_at, \
    updated_at, password_hash, failed_logins, locked_until";

fn user_row(r: &Row) -> StoreResult<User> {
    Ok(User {
        id: get(r, 0)?,
        username: get(r, 1)?,
        display_name: get(r, 2)?,
        timezone: get(r, 3)?,
        role: get_named(r, 4, Role::parse)?,
        agent_id: get(r, 5)?,
        scope: scope_from_json(r, 6)?,
        disabled: get(r, 7)?,
        created_at: get_ts(r, 8)?,
        updated_at: get_ts(r, 9)?,
    })
}

fn login_row(r: &Row) -> StoreResult<UserLogin> {
    Ok(UserLogin {
        user: user_row(r)?,
        password_hash: get(r, 10)?,
        failed_logins: get_u32(r, 11)?,
        locked_until: get_opt_ts(r, 12)?,
    })
}

fn missing_user(id: UserId) -> StoreError {
    StoreError::not_found(format!("user {id}"))
}

pub async fn create_user(store: &PgStore, user: User, password_hash: &str) -> StoreResult<User> {
    let sql = format!(
        "insert into app_user (username, display_name, timezone, role, agent_id, scope, disabled, password_hash, \
         created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) returning {USER_COLS}"
    );
    let client = store.client().await?;
    let statement = client.prepare_cached(&sql).await.map_err(backend)?;
    let row = client
        .query_one(
            &statement,
            &[
                &user.username,
                &user.display_name,
                &user.timezone,
                &user.role.as_str(),
                &user.agent_id,
                &scope_to_json(&user.scope),
                &user.disabled,
                &password_hash,
                &now_ms(),
            ],
        )
        .await
        .map_err(|e| constraint(e, Op::Write("user")))?;
    store.committed();
    user_row(&row)
}

pub async fn get_user(store: &PgStore, id: UserId) -> StoreResult<Option<User>> {
    let sql = format!("select {USER_COLS} from app_user where user_id = $1");
    query_opt(store, &sql, &[&id], user_row).await
}

/// Case-insensitive through the unique index on `lower(username)`.
pub async fn find_user_login(store: &PgStore, username: &str) -> StoreResult<Option<UserLogin>> {
    let sql = format!("select {USER_COLS} from app_user where lower(username) = lower($1)");
    query_opt(store, &sql, &[&username], login_row).await
}

/// By username ignoring case (SQLite's `collate nocase` order), then id.
pub async fn list_users(store: &PgStore) -> StoreResult<Vec<User>> {
    let sql = format!("select {USER_COLS} from app_user order by lower(username), user_id");
    query_all(store, &sql, &[], user_row).await
}

/// Replaces the record but not the password or the sign-in state; a disabled user's sessions end
/// in the same transaction.
pub async fn update_user(store: &PgStore, user: User) -> StoreResult<User> {
    let sql = format!(
        "update app_user set username = $2, display_name = $3, timezone = $4, role = $5, agent_id = $6, \
         scope = $7, disabled = $8, updated_at = $9 where user_id = $1 returning {USER_COLS}"
    );
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let statement = tx.prepare_cached(&sql).await.map_err(backend)?;
    let row = tx
        .query_opt(
            &statement,
            &[
                &user.id,
                &user.username,
                &user.display_name,
                &user.timezone,
                &user.role.as_str(),
                &user.agent_id,
                &scope_to_json(&user.scope),
                &user.disabled,
                &now_ms(),
            ],
        )
        .await
        .map_err(|e| constraint(e, Op::Write("user")))?
        .ok_or_else(|| missing_user(user.id))?;
    if user.disabled {
        end_sessions_of(&tx, user.id).await?;
    }
    tx.commit().await.map_err(backend)?;
    store.committed();
    user_row(&row)
}

async fn end_sessions_of(tx: &deadpool_postgres::Transaction<'_>, id: UserId) -> StoreResult<()> {
    let statement = tx.prepare_cached("delete from session where user_id = $1").await.map_err(backend)?;
    tx.execute(&statement, &[&id]).await.map_err(backend)?;
    Ok(())
}

/// A new password: failed attempts and lockout cleared, every session ended (whoever knew the old
/// password is signed out), in one transaction.
pub async fn set_user_password(store: &PgStore, id: UserId, password_hash: &str) -> StoreResult<()> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(backend)?;
    let statement = tx
        .prepare_cached(
            "update app_user set password_hash = $2, failed_logins = 0, locked_until = null, updated_at = $3 \
             where user_id = $1",
        )
        .await
        .map_err(backend)?;
    let changed = tx.execute(&statement, &[&id, &password_hash, &now_ms()]).await.map_err(backend)?;
    if changed == 0 {
        return Err(missing_user(id));
    }
    end_sessions_of(&tx, id).await?;
    tx.commit().await.map_err(backend)?;
    store.committed();
    Ok(())
}

/// One statement counts the failure and, at the threshold, locks: each failure at or past it
/// (while locked, or right after a lockout ran out) locks again until the new `locked_until`.
/// `lock_after = 0` never locks. `RETURNING` answers the state this failure left, under its lock.
pub async fn record_login_failure(
    store: &PgStore,
    id: UserId,
    lock_after: u32,
    locked_until: Timestamp,
) -> StoreResult<UserLogin> {
    let sql = format!(
        "update app_user set failed_logins = failed_logins + 1, \
         locked_until = case when $2::bigint > 0 and failed_logins + 1 >= $2::bigint then $3 else locked_until end \
         where user_id = $1 returning {USER_COLS}"
    );
    let login = query_opt(store, &sql, &[&id, &i64::from(lock_after), &ms(locked_until)], login_row)
        .await?
        .ok_or_else(|| missing_user(id))?;
    store.committed();
    Ok(login)
}

pub async fn record_login_success(store: &PgStore, id: UserId) -> StoreResult<()> {
    let changed = execute(
        store,
        "update app_user set failed_logins = 0, locked_until = null where user_id = $1",
        &[&id],
        Op::Write("user"),
    )
    .await?;
    if changed == 0 { Err(missing_user(id)) } else { Ok(()) }
}

pub async fn count_users(store: &PgStore) -> StoreResult<u64> {
    count(store, "select count(*) from app_user").await
}

// ---- user preferences ----------------------------------------------------------------------------

pub async fn get_user_prefs(store: &PgStore, id: UserId) -> StoreResult<Option<String>> {
    query_opt(store, "select prefs from user_prefs where user_id = $1", &[&id], |r| get(r, 0)).await
}

/// Inserts or replaces in one statement; selecting from `app_user` makes an unknown user write
/// nothing (`NotFound`) rather than fail the foreign key.
pub async fn put_user_prefs(store: &PgStore, id: UserId, prefs: &str) -> StoreResult<()> {
    let changed = execute(
        store,
        "insert into user_prefs (user_id, prefs, updated_at) select user_id, $2, $3 from app_user \
         where user_id = $1 on conflict (user_id) do update set prefs = excluded.prefs, updated_at = excluded.updated_at",
        &[&id, &prefs, &now_ms()],
        Op::Write("user preferences"),
    )
    .await?;
    if changed == 0 { Err(missing_user(id)) } else { Ok(()) }
}

// ---- session -------------------------------------------------------------------------------------

const SESSION_COLS: &str = "id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at";

fn session_row(r: &Row) -> StoreResult<Session> {
    Ok(Session {
        id_hash: get(r, 0)?,
        user_id: get(r, 1)?,
        csrf_token: get(r, 2)?,
        created_at: get_ts(r, 3)?,
        last_seen_at: get_ts(r, 4)?,
        expires_at: get_ts(r, 5)?,
    })
}

/// Inserts the session only while its user exists and is enabled: a sign-in that checked the user
/// just before an admin disabled them cannot leave a session behind (the disable's UPDATE and this
/// INSERT … SELECT serialise on the user's row: `for share` waits for the disable to commit and then
/// reads the disabled row).
pub async fn create_session(store: &PgStore, session: Session) -> StoreResult<()> {
    let changed = execute(
        store,
        "insert into session (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
         select $1, user_id, $3, $4, $5, $6 from app_user where user_id = $2 and not disabled for share",
        &[
            &session.id_hash,
            &session.user_id,
            &session.csrf_token,
            &ms(session.created_at),
            &ms(session.last_seen_at),
            &ms(session.expires_at),
        ],
        Op::Write("session"),
    )
    .await?;
    if changed == 1 {
        return Ok(());
    }
    match get_user(store, session.user_id).await? {
        Some(_) => Err(StoreError::Conflict(format!("user {} is disabled", session.user_id))),
        None => Err(missing_user(session.user_id)),
    }
}

pub async fn find_session(store: &PgStore, id_hash: &str) -> StoreResult<Option<Session>> {
    let sql = format!("select {SESSION_COLS} from session where id_hash = $1");
    query_opt(store, &sql, &[&id_hash], session_row).await
}

/// Moves `last_seen_at` forward only (two requests touching out of order cannot shorten the
/// session). A session that ended meanwhile is not an error: there is nothing left to touch.
pub async fn touch_session(store: &PgStore, id_hash: &str, at: Timestamp) -> StoreResult<()> {
    execute(
        store,
        "update session set last_seen_at = $2 where id_hash = $1 and last_seen_at < $2",
        &[&id_hash, &ms(at)],
        Op::Write("session"),
    )
    .await?;
    Ok(())
}

/// Signing out twice is not an error.
pub async fn delete_session(store: &PgStore, id_hash: &str) -> StoreResult<()> {
    execute(store, "delete from session where id_hash = $1", &[&id_hash], Op::Delete("session")).await?;
    Ok(())
}

pub async fn purge_sessions(store: &PgStore, idle_before: Timestamp, now: Timestamp) -> StoreResult<u64> {
    execute(
        store,
        "delete from session where last_seen_at < $1 or expires_at <= $2",
        &[&ms(idle_before), &ms(now)],
        Op::Delete("session"),
    )
    .await
}
