//! Comet's end-to-end tests: each starts a real server on port 0 with a temporary database and
//! drives it over real HTTP and WebSocket. One test binary for all the areas, so the suite links
//! once rather than once per area (each link is the whole server); `tests/logs.rs` and
//! `tests/stdout_queue.rs` stay apart because each installs the process's one log subscriber.
//!
//! Run one area with `cargo test -p comet-server --test e2e <area>::`, e.g. `rooms::`.

#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod api;
mod assets;
mod audit;
mod auth;
mod authz_matrix;
mod autotranslate;
mod avatars;
mod backup;
mod calls;
mod cluster;
mod commands;
mod crash;
mod custom_emoji;
mod custom_sounds;
mod custom_user_status;
mod ddp_admin_methods;
mod ddp_methods;
mod export;
mod files;
mod invites;
mod mail;
mod markup;
mod message_marks;
mod message_rules;
mod messages;
mod migrate;
mod moderation_reports;
mod moderation_rooms;
mod online_threads;
mod ops;
mod outbound_proxy;
mod previews;
mod realtime;
mod roles;
mod room_fields;
mod room_settings;
mod rooms;
mod s3;
mod search;
mod session_cache;
mod settings;
mod statistics;
mod subscriptions;
mod sync_removals;
mod teams;
mod thumbnails;
mod tokens;
mod two_factor;
mod users;
mod video_conference;
mod web;
