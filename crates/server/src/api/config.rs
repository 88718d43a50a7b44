//! Handlers for the configuration resources: `/campaigns`, `/lists`, `/leads`, `/queues`, `/agents`,
//! `/wrap-codes`. Reading needs `ReadConfig`; creating, changing and deleting need `WriteConfig`.
//! Each handler parses, calls `service::config` and answers; the rules live there.
//!
//! The four item operations are alike for every resource, so [`config_resource!`] writes them
//! (with their OpenAPI documentation); the list handlers differ (leads are paged in the store and
//! filter by list) and are written out.

use axum::extract::State;
use axum::http::StatusCode;
use rebound_domain::access::Permission;
use rebound_domain::model::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::*;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Json, Params, Path};
use crate::service::{config as service, page_request};

/// Generates `create`, `get`, `patch` and `delete` handlers for one configuration resource.
macro_rules! config_resource {
    (
        tag: $tag:tt, collection: $collection:tt, item: $item:tt,
        model: $model:ident, create: $create:ident, patch: $patch:ident,
        handlers: [$create_h:ident, $get_h:ident, $patch_h:ident, $delete_h:ident],
        service: [$create_s:ident, $get_s:ident, $patch_s:ident, $delete_s:ident] $(,)?
    ) => {
        #[utoipa::path(post, path = $collection, tag = $tag, request_body = $create,
                            responses(
                                (status = 201, description = "Created", body = $model),
                                (status = 400, description = "Unreadable request", body = ErrorBody),
                                (status = 401, description = "No valid token", body = ErrorBody),
                                (status = 403, description = "Role may not configure", body = ErrorBody),
                                (status = 409, description = "Conflicts with stored configuration", body = ErrorBody),
                                (status = 422, description = "Invalid value", body = ErrorBody),
                            ))]
        pub async fn $create_h(
            State(state): State<AppState>,
            caller: Caller,
            body: Body<$create>,
        ) -> ApiResult<(StatusCode, Json<$model>)> {
            caller.require(Permission::WriteConfig)?;
            Ok((StatusCode::CREATED, Json(service::$create_s(&state, body.value()?).await?)))
        }

        #[utoipa::path(get, path = $item, tag = $tag,
                            params(("id" = i64, Path, description = "Numeric id")),
                            responses(
                                (status = 200, description = "Found", body = $model),
                                (status = 401, description = "No valid token", body = ErrorBody),
                                (status = 403, description = "Role may not read configuration", body = ErrorBody),
                                (status = 404, description = "No such object", body = ErrorBody),
                            ))]
        pub async fn $get_h(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<i64>,
        ) -> ApiResult<Json<$model>> {
            let principal = caller.require(Permission::ReadConfig)?;
            let found = service::$get_s(&state, id).await?;
            Ok(Json(service::shown(&state, principal, found).await?))
        }

        #[utoipa::path(patch, path = $item, tag = $tag, request_body = $patch,
                            params(("id" = i64, Path, description = "Numeric id")),
                            responses(
                                (status = 200, description = "Updated (only the fields given change)", body = $model),
                                (status = 400, description = "Unreadable request", body = ErrorBody),
                                (status = 401, description = "No valid token", body = ErrorBody),
                                (status = 403, description = "Role may not configure", body = ErrorBody),
                                (status = 404, description = "No such object", body = ErrorBody),
                                (status = 409, description = "Conflicts with stored configuration", body = ErrorBody),
                                (status = 422, description = "Invalid value", body = ErrorBody),
                            ))]
        pub async fn $patch_h(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<i64>,
            body: Body<$patch>,
        ) -> ApiResult<Json<$model>> {
            caller.require(Permission::WriteConfig)?;
            Ok(Json(service::$patch_s(&state, id, body.value()?).await?))
        }

        #[utoipa::path(delete, path = $item, tag = $tag,
                            params(("id" = i64, Path, description = "Numeric id")),
                            responses(
                                (status = 204, description = "Deleted"),
                                (status = 401, description = "No valid token", body = ErrorBody),
                                (status = 403, description = "Role may not configure", body = ErrorBody),
                                (status = 404, description = "No such object", body = ErrorBody),
                                (status = 409, description = "Still in use", body = ErrorBody),
                            ))]
        pub async fn $delete_h(
            State(state): State<AppState>,
            caller: Caller,
            Path(id): Path<i64>,
        ) -> ApiResult<StatusCode> {
            caller.require(Permission::WriteConfig)?;
            service::$delete_s(&state, id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

/// Generates the list handler of a resource listed in memory (everything but leads).
macro_rules! config_list {
    (tag: $tag:tt, collection: $collection:tt, model: $model:ident, handler: $h:ident, service: $s:ident $(,)?) => {
        #[utoipa::path(get, path = $collection, tag = $tag, params(PageParams),
                            responses(
                                (status = 200, description = "One page", body = Paged<$model>),
                                (status = 400, description = "Unreadable query", body = ErrorBody),
                                (status = 401, description = "No valid token", body = ErrorBody),
                                (status = 403, description = "Role may not read configuration", body = ErrorBody),
                                (status = 422, description = "Invalid paging", body = ErrorBody),
                            ))]
        pub async fn $h(
            State(state): State<AppState>,
            caller: Caller,
            params: Params,
        ) -> ApiResult<Json<Paged<$model>>> {
            let principal = caller.require(Permission::ReadConfig)?;
            params.only(&["page", "page_size"])?;
            Ok(Json(service::$s(&state, principal, page_request(&params)?).await?))
        }
    };
}

config_resource! {
    tag: "campaigns", collection: "/campaigns", item: "/campaigns/{id}",
    model: Campaign, create: CampaignCreate, patch: CampaignPatch,
    handlers: [create_campaign, get_campaign, patch_campaign, delete_campaign],
    service: [create_campaign, get_campaign, update_campaign, delete_campaign],
}
config_list! { tag: "campaigns", collection: "/campaigns", model: Campaign, handler: list_campaigns, service: list_campaigns }

config_resource! {
    tag: "lists", collection: "/lists", item: "/lists/{id}",
    model: List, create: ListCreate, patch: ListPatch,
    handlers: [create_list, get_list, patch_list, delete_list],
    service: [create_list, get_list, update_list, delete_list],
}
config_list! { tag: "lists", collection: "/lists", model: List, handler: list_lists, service: list_lists }

config_resource! {
    tag: "leads", collection: "/leads", item: "/leads/{id}",
    model: Lead, create: LeadCreate, patch: LeadPatch,
    handlers: [create_lead, get_lead, patch_lead, delete_lead],
    service: [create_lead, get_lead, update_lead, delete_lead],
}

#[utoipa::path(get, path = "/leads", tag = "leads", params(LeadListParams),
    responses(
        (status = 200, description = "One page", body = Paged<Lead>),
        (status = 400, description = "Unreadable query", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role may not read configuration", body = ErrorBody),
        (status = 422, description = "Invalid paging", body = ErrorBody),
    ))]
pub async fn list_leads(State(state): State<AppState>, caller: Caller, params: Params) -> ApiResult<Json<Paged<Lead>>> {
    let principal = caller.require(Permission::ReadConfig)?;
    params.only(&["list_id", "page", "page_size"])?;
    let list_id = params.number::<ListId>("list_id")?;
    Ok(Json(service::list_leads(&state, principal, list_id, page_request(&params)?).await?))
}

config_resource! {
    tag: "queues", collection: "/queues", item: "/queues/{id}",
    model: Queue, create: QueueCreate, patch: QueuePatch,
    handlers: [create_queue, get_queue, patch_queue, delete_queue],
    service: [create_queue, get_queue, update_queue, delete_queue],
}
config_list! { tag: "queues", collection: "/queues", model: Queue, handler: list_queues, service: list_queues }

config_resource! {
    tag: "agents", collection: "/agents", item: "/agents/{id}",
    model: Agent, create: AgentCreate, patch: AgentPatch,
    handlers: [create_agent, get_agent, patch_agent, delete_agent],
    service: [create_agent, get_agent, update_agent, delete_agent],
}
config_list! { tag: "agents", collection: "/agents", model: Agent, handler: list_agents, service: list_agents }

config_resource! {
    tag: "wrap-codes", collection: "/wrap-codes", item: "/wrap-codes/{id}",
    model: WrapCode, create: WrapCodeCreate, patch: WrapCodePatch,
    handlers: [create_wrap_code, get_wrap_code, patch_wrap_code, delete_wrap_code],
    service: [create_wrap_code, get_wrap_code, update_wrap_code, delete_wrap_code],
}
config_list! { tag: "wrap-codes", collection: "/wrap-codes", model: WrapCode, handler: list_wrap_codes, service: list_wrap_codes }

/// Every configuration route (authenticated by the caller's layer).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(get_campaign, patch_campaign, delete_campaign))
        .routes(routes!(list_lists, create_list))
        .routes(routes!(get_list, patch_list, delete_list))
        .routes(routes!(list_leads, create_lead))
        .routes(routes!(get_lead, patch_lead, delete_lead))
        .routes(routes!(list_queues, create_queue))
        .routes(routes!(get_queue, patch_queue, delete_queue))
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, patch_agent, delete_agent))
        .routes(routes!(list_wrap_codes, create_wrap_code))
        .routes(routes!(get_wrap_code, patch_wrap_code, delete_wrap_code))
}
