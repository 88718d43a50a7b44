//! Handlers for users (`ManageAccess`: admins only): create, list, get, change (including
//! disabling and setting a new password). Users are disabled, not deleted, so audit events keep
//! naming someone who existed. The rules live in `service::users`.

use axum::extract::State;
use axum::http::StatusCode;
use rebound_domain::access::Permission;
use rebound_domain::model::{User, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{PageParams, Paged};
use crate::dto_access::{UserCreate, UserPatch};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json, Params, Path};
use crate::service::{page_request, users as service};

#[utoipa::path(post, path = "/users", tag = "access", request_body = UserCreate,
    responses(
        (status = 201, description = "Created (the password is never answered)", body = User),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "Only admins manage users", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "Invalid value (username, password length, timezone, agent, scope)", body = ErrorBody),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<UserCreate>,
) -> ApiResult<(StatusCode, Json<User>)> {
    caller.require(Permission::ManageAccess)?;
    Ok((StatusCode::CREATED, Json(service::create_user(&state, body.value()?).await?)))
}

#[utoipa::path(get, path = "/users", tag = "access", params(PageParams),
    responses(
        (status = 200, description = "One page of users, by username", body = Paged<User>),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "Only admins manage users", body = ErrorBody),
        (status = 422, description = "Invalid paging", body = ErrorBody),
    ))]
pub async fn list_users(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Json<Paged<User>>> {
    caller.require(Permission::ManageAccess)?;
    params.only(&["page", "page_size"])?;
    Ok(Json(service::list_users(&state, page_request(&params)?).await?))
}

#[utoipa::path(get, path = "/users/{id}", tag = "access", params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "Only admins manage users", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn get_user(State(state): State<AppState>, caller: Caller, Path(id): Path<UserId>) -> ApiResult<Json<User>> {
    caller.require(Permission::ManageAccess)?;
    Ok(Json(service::get_user(&state, id).await?))
}

#[utoipa::path(patch, path = "/users/{id}", tag = "access", request_body = UserPatch,
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Updated; disabling or a new password ends the user's sessions", body = User),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "Only admins manage users", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Invalid value", body = ErrorBody),
    ))]
pub async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
    body: Body<UserPatch>,
) -> ApiResult<Json<User>> {
    caller.require(Permission::ManageAccess)?;
    Ok(Json(service::update_user(&state, id, body.value()?).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users, create_user)).routes(routes!(get_user, patch_user))
}
