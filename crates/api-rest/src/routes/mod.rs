//! Route table: one handler per upstream route.

mod auth;
mod info;
mod methods;
mod roles;
mod settings;
mod users;

use crate::AppState;
use axum::Router;
use axum::http::Method;
use axum::routing::{get, post};

/// Permissions a route declares, checked before its handler runs (upstream's
/// `permissionsRequired`): a caller lacking them gets 403 "forbidden".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    All(&'static [&'static str]),
    Any(&'static [&'static str]),
}

/// The declared permissions of a route, by its path pattern and method.
pub fn required_permissions(route: &str, method: &Method) -> Option<Required> {
    let post = method == Method::POST;
    Some(match route {
        "/api/v1/users.list" => Required::All(&["view-d-room"]),
        "/api/v1/users.delete" => Required::All(&["delete-user"]),
        "/api/v1/users.setActiveStatus" => {
            Required::Any(&["edit-other-user-active-status", "manage-moderation-actions"])
        }
        "/api/v1/users.getPersonalAccessTokens" => {
            Required::All(&["create-personal-access-tokens"])
        }
        "/api/v1/settings/{id}" if post => Required::All(&["edit-privileged-setting"]),
        "/api/v1/settings/{id}" => Required::All(&["view-privileged-setting"]),
        "/api/v1/permissions.update"
        | "/api/v1/roles.create"
        | "/api/v1/roles.removeUserFromRole"
        | "/api/v1/roles.getUsersInRole" => Required::All(&["access-permissions"]),
        _ => return None,
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/info", get(info::info))
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/logout", get(auth::logout).post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/users.register", post(users::register))
        .route("/api/v1/users.info", get(users::info))
        .route("/api/v1/users.list", get(users::list))
        .route("/api/v1/users.create", post(users::create))
        .route("/api/v1/users.update", post(users::update))
        .route("/api/v1/users.delete", post(users::delete))
        .route(
            "/api/v1/users.setActiveStatus",
            post(users::set_active_status),
        )
        .route("/api/v1/users.getPresence", get(users::get_presence))
        .route("/api/v1/users.setStatus", post(users::set_status))
        .route("/api/v1/users.createToken", post(users::create_token))
        .route(
            "/api/v1/users.generatePersonalAccessToken",
            post(users::generate_personal_access_token),
        )
        .route(
            "/api/v1/users.regeneratePersonalAccessToken",
            post(users::regenerate_personal_access_token),
        )
        .route(
            "/api/v1/users.getPersonalAccessTokens",
            get(users::get_personal_access_tokens),
        )
        .route(
            "/api/v1/users.removePersonalAccessToken",
            post(users::remove_personal_access_token),
        )
        .route("/api/v1/settings.public", get(settings::public))
        .route("/api/v1/settings", get(settings::list))
        .route(
            "/api/v1/settings/{id}",
            get(settings::get).post(settings::update),
        )
        .route(
            "/api/v1/permissions.listAll",
            get(roles::permissions_list_all),
        )
        .route(
            "/api/v1/permissions.update",
            post(roles::permissions_update),
        )
        .route("/api/v1/roles.list", get(roles::list))
        .route("/api/v1/roles.create", post(roles::create))
        .route("/api/v1/roles.addUserToRole", post(roles::add_user_to_role))
        .route(
            "/api/v1/roles.removeUserFromRole",
            post(roles::remove_user_from_role),
        )
        .route(
            "/api/v1/roles.getUsersInRole",
            get(roles::get_users_in_role),
        )
        .route("/api/v1/method.call/{method}", post(methods::call))
        .route("/api/v1/method.callAnon/{method}", post(methods::call_anon))
}
