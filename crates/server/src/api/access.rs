//! Handlers for API tokens (`ManageAccess`: admins only): create, list, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use rebound_domain::access::Permission;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json, Params, Path};
use crate::service::{access as service, page_request};

#[utoipa::path(post, path = "/tokens", tag = "access", request_body = TokenCreate,
    responses(
        (status = 201, description = "Created; the secret `token` is shown only here", body = TokenCreated),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Only admins manage tokens", body = ErrorBody),
        (status = 422, description = "Invalid value", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<TokenCreate>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    caller.require(Permission::ManageAccess)?;
    Ok((StatusCode::CREATED, Json(service::create_token(&state, body.value()?).await?)))
}

#[utoipa::path(get, path = "/tokens", tag = "access", params(PageParams),
    responses(
        (status = 200, description = "One page of tokens (never their secrets)", body = Paged<TokenInfo>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Only admins manage tokens", body = ErrorBody),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Paged<TokenInfo>>> {
    caller.require(Permission::ManageAccess)?;
    params.only(&["page", "page_size"])?;
    Ok(Json(service::list_tokens(&state, page_request(&params)?).await?))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "access",
    params(("id" = i64, Path, description = "Token id")),
    responses(
        (status = 200, description = "Revoked: the token is kept (marked revoked) and answers 401 from now on", body = TokenInfo),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Only admins manage tokens", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<TokenInfo>> {
    caller.require(Permission::ManageAccess)?;
    Ok(Json(service::revoke_token(&state, id).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}
