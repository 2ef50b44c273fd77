//! Route table: one handler per upstream route.

mod auth;
mod avatars;
mod chat;
mod commands;
mod discovery;
mod export;
mod files;
mod info;
mod methods;
mod presence;
mod roles;
mod rooms;
mod settings;
mod users;

use crate::AppState;
use axum::Router;
use axum::http::Method;
use axum::routing::{get, post};
use comet_service::authz::Required;
use comet_service::{Accounts, Connections, Permissions, Rooms, Settings};

/// The requirement of the service operation a route runs, checked by the gate before the
/// request is read so that a caller lacking it gets 403 before any validation error, as
/// upstream's `permissionsRequired` does. The operations check it again themselves; the
/// requirements are declared in the service, next to them.
pub fn required_permissions(route: &str, method: &Method) -> Option<Required> {
    let post = method == Method::POST;
    Some(match route {
        "/api/v1/users.list" | "/api/v1/users.listByStatus" => Accounts::LIST_USERS,
        "/api/v1/users.delete" => Accounts::DELETE_USER,
        "/api/v1/users.setActiveStatus" => Accounts::SET_ACTIVE_STATUS,
        "/api/v1/users.deactivateIdle" => Accounts::DEACTIVATE_IDLE,
        "/api/v1/users.getPersonalAccessTokens" => Accounts::LIST_ACCESS_TOKENS,
        "/api/v1/groups.listAll"
        | "/api/v1/im.list.everyone"
        | "/api/v1/dm.list.everyone"
        | "/api/v1/im.messages.others"
        | "/api/v1/dm.messages.others" => Rooms::ADMINISTER_ROOMS,
        "/api/v1/channels.list" => Rooms::LIST_CHANNELS,
        "/api/v1/channels.getIntegrations" | "/api/v1/groups.getIntegrations" => {
            Rooms::LIST_INTEGRATIONS
        }
        "/api/v1/presence.getConnections" | "/api/v1/presence.enableBroadcast" => {
            Connections::MANAGE_USER_STATUS
        }
        "/api/v1/instances.get" => Connections::VIEW_STATISTICS,
        "/api/v1/stdout.queue" => Settings::VIEW_LOGS,
        "/api/v1/channels.messages" => Rooms::READ_CHANNEL_MESSAGES,
        "/api/v1/settings/{id}" if post => Settings::EDIT_PRIVILEGED,
        "/api/v1/settings/{id}" => Settings::READ_PRIVILEGED,
        "/api/v1/permissions.update"
        | "/api/v1/roles.create"
        | "/api/v1/roles.delete"
        | "/api/v1/roles.removeUserFromRole"
        | "/api/v1/roles.getUsersInRole" => Permissions::MANAGE,
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
        .route("/api/v1/users.listByStatus", get(users::list_by_status))
        .route("/api/v1/users.create", post(users::create))
        .route("/api/v1/users.update", post(users::update))
        .route(
            "/api/v1/users.updateOwnBasicInfo",
            post(users::update_own_basic_info),
        )
        .route("/api/v1/users.delete", post(users::delete))
        .route(
            "/api/v1/users.setActiveStatus",
            post(users::set_active_status),
        )
        .route("/api/v1/users.getPresence", get(users::get_presence))
        .route("/api/v1/users.presence", get(users::presence))
        .route(
            "/api/v1/users.requestDataDownload",
            get(users::request_data_download),
        )
        .route("/api/v1/users.autocomplete", get(users::autocomplete))
        .route("/api/v1/users.deactivateIdle", post(users::deactivate_idle))
        .route("/api/v1/users.getStatus", get(users::get_status))
        .route(
            "/api/v1/users.removeOtherTokens",
            post(users::remove_other_tokens),
        )
        .route(
            "/api/v1/users.logoutOtherClients",
            post(users::logout_other_clients),
        )
        .route("/api/v1/users.logout", post(users::logout))
        .route(
            "/api/v1/users.checkUsernameAvailability",
            get(users::check_username_availability),
        )
        .route(
            "/api/v1/users.getUsernameSuggestion",
            get(users::get_username_suggestion),
        )
        .route(
            "/api/v1/users.deleteOwnAccount",
            post(users::delete_own_account),
        )
        .route("/api/v1/pw.getPolicy", get(users::password_policy))
        .route("/api/v1/users.setAvatar", post(avatars::set_avatar))
        .route("/api/v1/users.resetAvatar", post(avatars::reset_avatar))
        .route("/api/v1/users.getAvatar", get(avatars::get_avatar))
        .route(
            "/api/v1/users.getAvatarSuggestion",
            get(avatars::get_avatar_suggestion),
        )
        .route("/avatar/room/{rid}", get(avatars::room_avatar))
        .route("/avatar/uid/{user_id}", get(avatars::user_avatar_by_id))
        .route("/avatar/{name}", get(avatars::user_avatar))
        .route("/api/v1/users.setStatus", post(users::set_status))
        .route("/api/v1/users.setPreferences", post(users::set_preferences))
        .route("/api/v1/users.getPreferences", get(users::get_preferences))
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
        .route(
            "/api/v1/presence.getConnections",
            get(presence::get_connections),
        )
        .route(
            "/api/v1/presence.enableBroadcast",
            post(presence::enable_broadcast),
        )
        .route("/api/v1/instances.get", get(presence::instances))
        .route("/api/v1/shield.svg", get(presence::shield))
        .route("/api/v1/stdout.queue", get(settings::stdout_queue))
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
        .route("/api/v1/roles.update", post(roles::update))
        .route("/api/v1/roles.delete", post(roles::delete))
        .route("/api/v1/roles.addUserToRole", post(roles::add_user_to_role))
        .route(
            "/api/v1/roles.removeUserFromRole",
            post(roles::remove_user_from_role),
        )
        .route(
            "/api/v1/roles.getUsersInRole",
            get(roles::get_users_in_role),
        )
        .merge(room_routes())
        .merge(file_routes())
        .route("/api/v1/method.call/{method}", post(methods::call))
        .route("/api/v1/method.callAnon/{method}", post(methods::call_anon))
}

/// Uploads, file listings and downloads.
fn file_routes() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    use rooms::{CHANNELS, DIRECT, GROUPS, family_route};
    // Upload bodies are bounded per part while they stream (the file by
    // `FileUpload_MaxFileSize`, other parts by a small cap), not by the API's body limit.
    let uploads = Router::new()
        .route("/api/v1/rooms.upload/{rid}", post(files::upload))
        .route("/api/v1/rooms.media/{rid}", post(files::media))
        .layer(DefaultBodyLimit::disable());
    let mut router = uploads
        .route(
            "/api/v1/rooms.mediaConfirm/{rid}/{file_id}",
            post(files::media_confirm),
        )
        .route("/file-upload/{id}/{*name}", get(files::download))
        .route("/ufs/{store}/{id}/{*name}", get(files::legacy_download))
        .route("/api/v1/rooms.images", get(files::images))
        .route("/api/v1/rooms.export", post(export::export))
        .route(
            "/api/v1/channels.files",
            family_route!(get, files::files, CHANNELS),
        )
        .route(
            "/api/v1/groups.files",
            family_route!(get, files::files, GROUPS),
        );
    for prefix in ["im", "dm"] {
        router = router.route(
            &format!("/api/v1/{prefix}.files"),
            family_route!(get, files::files, DIRECT),
        );
    }
    router
}

/// `channels.*`, `groups.*`, `im.*`/`dm.*`, `chat.*`, `rooms.*`, `subscriptions.*`.
fn room_routes() -> Router<AppState> {
    use comet_service::room_settings::RoomRole::{Leader, Moderator, Owner};
    use rooms::{CHANNELS, DIRECT, GROUPS, Setter, family_route};
    let mut router = Router::new();
    for (prefix, family) in [("channels", CHANNELS), ("groups", GROUPS)] {
        let setters = [
            ("rename", Setter::Rename),
            ("setTopic", Setter::Topic),
            ("setDescription", Setter::Description),
            ("setPurpose", Setter::Purpose),
            ("setAnnouncement", Setter::Announcement),
            ("setReadOnly", Setter::ReadOnly),
            ("setType", Setter::Type),
            ("setCustomFields", Setter::CustomFields),
        ];
        for (name, setter) in setters {
            router = router.route(
                &format!("/api/v1/{prefix}.{name}"),
                family_route!(post, rooms::set, family, setter),
            );
        }
        let role_routes = [
            ("addOwner", Owner, true),
            ("removeOwner", Owner, false),
            ("addModerator", Moderator, true),
            ("removeModerator", Moderator, false),
            ("addLeader", Leader, true),
            ("removeLeader", Leader, false),
        ];
        for (name, role, grant) in role_routes {
            router = router.route(
                &format!("/api/v1/{prefix}.{name}"),
                family_route!(post, rooms::role, family, role, grant),
            );
        }
        router = router
            .route(
                &format!("/api/v1/{prefix}.archive"),
                family_route!(post, rooms::archive, family, true),
            )
            .route(
                &format!("/api/v1/{prefix}.unarchive"),
                family_route!(post, rooms::archive, family, false),
            )
            .route(
                &format!("/api/v1/{prefix}.delete"),
                family_route!(post, rooms::delete, family),
            )
            .route(
                &format!("/api/v1/{prefix}.roles"),
                family_route!(get, rooms::roles, family),
            )
            .route(
                &format!("/api/v1/{prefix}.counters"),
                family_route!(get, rooms::counters, family),
            )
            .route(
                &format!("/api/v1/{prefix}.moderators"),
                family_route!(get, rooms::moderators, family),
            )
            .route(
                &format!("/api/v1/{prefix}.getIntegrations"),
                family_route!(get, rooms::integrations, family),
            );
    }
    router = router
        .route(
            "/api/v1/channels.setJoinCode",
            family_route!(post, rooms::set, CHANNELS, Setter::JoinCode),
        )
        .route(
            "/api/v1/channels.setDefault",
            family_route!(post, rooms::set, CHANNELS, Setter::Default),
        )
        .route(
            "/api/v1/groups.setEncrypted",
            family_route!(post, rooms::set, GROUPS, Setter::Encrypted),
        )
        .route(
            "/api/v1/chat.pinMessage",
            family_route!(post, chat::pin, true),
        )
        .route(
            "/api/v1/chat.unPinMessage",
            family_route!(post, chat::pin, false),
        )
        .route(
            "/api/v1/chat.starMessage",
            family_route!(post, chat::star, true),
        )
        .route(
            "/api/v1/chat.unStarMessage",
            family_route!(post, chat::star, false),
        )
        .route(
            "/api/v1/chat.followMessage",
            family_route!(post, chat::follow, true),
        )
        .route(
            "/api/v1/chat.unfollowMessage",
            family_route!(post, chat::follow, false),
        )
        .route(
            "/api/v1/chat.getPinnedMessages",
            family_route!(get, chat::marked, chat::Marked::Pinned),
        )
        .route(
            "/api/v1/chat.getStarredMessages",
            family_route!(get, chat::marked, chat::Marked::Starred),
        )
        .route(
            "/api/v1/chat.getMentionedMessages",
            family_route!(get, chat::marked, chat::Marked::Mentioned),
        )
        .route("/api/v1/chat.getThreadMessages", get(chat::thread_messages))
        .route("/api/v1/chat.getThreadsList", get(chat::threads_list))
        .route(
            "/api/v1/chat.syncThreadMessages",
            get(chat::sync_thread_messages),
        )
        .route("/api/v1/chat.syncMessages", get(chat::sync_messages))
        .route(
            "/api/v1/chat.getDeletedMessages",
            get(chat::deleted_messages),
        )
        .route("/api/v1/rooms.favorite", post(chat::rooms_favorite))
        .route(
            "/api/v1/rooms.saveNotification",
            post(chat::rooms_save_notification),
        )
        .route(
            "/api/v1/subscriptions.unread",
            post(chat::subscriptions_unread),
        )
        .route("/api/v1/directory", get(discovery::directory))
        .route(
            "/api/v1/channels.online",
            family_route!(get, discovery::online, CHANNELS),
        )
        .route(
            "/api/v1/groups.online",
            family_route!(get, discovery::online, GROUPS),
        )
        .route(
            "/api/v1/chat.syncThreadsList",
            get(discovery::sync_threads_list),
        )
        .route("/api/v1/spotlight", get(discovery::spotlight))
        .route(
            "/api/v1/channels.addAll",
            family_route!(post, discovery::add_all, CHANNELS),
        )
        .route(
            "/api/v1/groups.addAll",
            family_route!(post, discovery::add_all, GROUPS),
        )
        .route(
            "/api/v1/rooms.saveRoomSettings",
            post(discovery::save_room_settings),
        )
        .route("/api/v1/rooms.adminRooms", get(discovery::admin_rooms))
        .route("/api/v1/rooms.cleanHistory", post(discovery::clean_history))
        .route(
            "/api/v1/rooms.createDiscussion",
            post(discovery::create_discussion),
        )
        .route(
            "/api/v1/rooms.getDiscussions",
            get(discovery::room_discussions),
        )
        .route(
            "/api/v1/chat.getDiscussions",
            get(discovery::chat_discussions),
        )
        .route("/api/v1/chat.ignoreUser", get(discovery::ignore_user))
        .route(
            "/api/v1/chat.getMessageReadReceipts",
            get(discovery::read_receipts),
        )
        .route(
            "/api/v1/channels.getAllUserMentionsByChannel",
            get(discovery::mentions_in_channel),
        )
        .route(
            "/api/v1/channels.create",
            family_route!(post, rooms::create, CHANNELS),
        )
        .route(
            "/api/v1/channels.info",
            family_route!(get, rooms::info, CHANNELS),
        )
        .route(
            "/api/v1/channels.list",
            family_route!(get, rooms::list, CHANNELS, false),
        )
        .route(
            "/api/v1/channels.list.joined",
            family_route!(get, rooms::list, CHANNELS, true),
        )
        .route("/api/v1/channels.join", family_route!(post, rooms::join))
        .route("/api/v1/rooms.join", family_route!(post, rooms::rooms_join))
        .route(
            "/api/v1/channels.leave",
            family_route!(post, rooms::leave, CHANNELS),
        )
        .route(
            "/api/v1/channels.invite",
            family_route!(post, rooms::invite, CHANNELS),
        )
        .route(
            "/api/v1/channels.kick",
            family_route!(post, rooms::kick, CHANNELS),
        )
        .route(
            "/api/v1/channels.history",
            family_route!(get, rooms::history, CHANNELS),
        )
        .route(
            "/api/v1/channels.messages",
            family_route!(get, rooms::messages, CHANNELS),
        )
        .route("/api/v1/channels.anonymousread", get(rooms::anonymous_read))
        .route(
            "/api/v1/channels.members",
            family_route!(get, rooms::members, CHANNELS),
        )
        .route(
            "/api/v1/channels.open",
            family_route!(post, rooms::set_open, CHANNELS, true),
        )
        .route(
            "/api/v1/channels.close",
            family_route!(post, rooms::set_open, CHANNELS, false),
        )
        .route(
            "/api/v1/groups.create",
            family_route!(post, rooms::create, GROUPS),
        )
        .route(
            "/api/v1/groups.info",
            family_route!(get, rooms::info, GROUPS),
        )
        .route(
            "/api/v1/groups.list",
            family_route!(get, rooms::list, GROUPS, true),
        )
        .route(
            "/api/v1/groups.listAll",
            family_route!(get, rooms::list, GROUPS, false),
        )
        .route(
            "/api/v1/groups.leave",
            family_route!(post, rooms::leave, GROUPS),
        )
        .route(
            "/api/v1/groups.invite",
            family_route!(post, rooms::invite, GROUPS),
        )
        .route(
            "/api/v1/groups.kick",
            family_route!(post, rooms::kick, GROUPS),
        )
        .route(
            "/api/v1/groups.history",
            family_route!(get, rooms::history, GROUPS),
        )
        .route(
            "/api/v1/groups.messages",
            family_route!(get, rooms::messages, GROUPS),
        )
        .route(
            "/api/v1/groups.members",
            family_route!(get, rooms::members, GROUPS),
        )
        .route(
            "/api/v1/groups.open",
            family_route!(post, rooms::set_open, GROUPS, true),
        )
        .route(
            "/api/v1/groups.close",
            family_route!(post, rooms::set_open, GROUPS, false),
        )
        .route("/api/v1/chat.postMessage", post(chat::post_message))
        .route("/api/v1/chat.sendMessage", post(chat::send_message))
        .route("/api/v1/chat.update", post(chat::update))
        .route("/api/v1/chat.delete", post(chat::delete))
        .route("/api/v1/chat.getMessage", get(chat::get_message))
        .route("/api/v1/chat.getURLPreview", get(chat::url_preview))
        .route("/api/v1/chat.react", post(chat::react))
        .route("/api/v1/chat.search", get(chat::search))
        .route("/api/v1/rooms.get", get(chat::rooms_get))
        .route("/api/v1/rooms.info", get(chat::rooms_info))
        .route("/api/v1/rooms.isMember", get(chat::rooms_is_member))
        .route(
            "/api/v1/rooms.membersOrderedByRole",
            get(chat::rooms_members_ordered_by_role),
        )
        .route(
            "/api/v1/rooms.muteUser",
            rooms::family_route!(post, chat::rooms_mute_user, true),
        )
        .route(
            "/api/v1/rooms.unmuteUser",
            rooms::family_route!(post, chat::rooms_mute_user, false),
        )
        .route("/api/v1/commands.get", get(commands::get))
        .route("/api/v1/commands.list", get(commands::list))
        .route("/api/v1/commands.run", post(commands::run))
        .route(
            "/api/v1/commands.preview",
            get(commands::preview).post(commands::execute_preview),
        )
        .route("/api/v1/rooms.leave", post(chat::rooms_leave))
        .route("/api/v1/rooms.hide", post(chat::rooms_hide))
        .route("/api/v1/rooms.open", post(chat::rooms_open))
        .route("/api/v1/rooms.nameExists", get(chat::rooms_name_exists))
        .route("/api/v1/rooms.delete", post(chat::rooms_delete))
        .route(
            "/api/v1/rooms.autocomplete.channelAndPrivate",
            get(chat::rooms_autocomplete_channel_and_private),
        )
        .route(
            "/api/v1/rooms.autocomplete.channelAndPrivate.withPagination",
            get(chat::rooms_autocomplete_channel_and_private_paged),
        )
        .route(
            "/api/v1/rooms.autocomplete.adminRooms",
            get(chat::rooms_autocomplete_admin_rooms),
        )
        .route("/api/v1/subscriptions.get", get(chat::subscriptions_get))
        .route(
            "/api/v1/subscriptions.getOne",
            get(chat::subscriptions_get_one),
        )
        .route("/api/v1/subscriptions.read", post(chat::subscriptions_read));
    // Every direct-message route exists as both `im.*` and `dm.*`.
    for prefix in ["im", "dm"] {
        router = router
            .route(
                &format!("/api/v1/{prefix}.create"),
                family_route!(post, rooms::create_direct),
            )
            .route(
                &format!("/api/v1/{prefix}.list"),
                family_route!(get, rooms::list, DIRECT, true),
            )
            .route(
                &format!("/api/v1/{prefix}.list.everyone"),
                family_route!(get, rooms::list, DIRECT, false),
            )
            .route(
                &format!("/api/v1/{prefix}.history"),
                family_route!(get, rooms::history, DIRECT),
            )
            .route(
                &format!("/api/v1/{prefix}.messages"),
                family_route!(get, rooms::messages, DIRECT),
            )
            .route(
                &format!("/api/v1/{prefix}.members"),
                family_route!(get, rooms::members, DIRECT),
            )
            .route(
                &format!("/api/v1/{prefix}.messages.others"),
                family_route!(get, rooms::messages_others),
            )
            .route(
                &format!("/api/v1/{prefix}.open"),
                family_route!(post, rooms::set_open, DIRECT, true),
            )
            .route(
                &format!("/api/v1/{prefix}.close"),
                family_route!(post, rooms::set_open, DIRECT, false),
            )
            .route(
                &format!("/api/v1/{prefix}.setTopic"),
                family_route!(post, rooms::set_direct_topic),
            )
            .route(
                &format!("/api/v1/{prefix}.delete"),
                family_route!(post, rooms::delete, DIRECT),
            )
            .route(
                &format!("/api/v1/{prefix}.counters"),
                family_route!(get, rooms::counters, DIRECT),
            );
    }
    router
}
