//! Comet's operations. Every transport (REST, DDP) calls these; none of them knows HTTP.
//!
//! Each operation authorizes the caller, validates input, writes through the store (each store
//! call is atomic) and returns domain values. Caches of settings and permissions live here
//! because the service is the only writer of both.

pub mod abuse;
pub mod accounts;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod autotranslate;
pub mod avatars;
pub mod bans;
mod bootstrap;
pub mod calls;
pub mod commands;
pub mod custom_assets;
pub mod data_export;
pub mod discovery;
pub mod email_links;
pub mod email_two_factor;
pub mod export;
pub mod files;
mod hashing;
pub mod invites;
pub mod listening;
pub mod logs;
pub mod mail;
pub mod mail_templates;
pub mod message_marks;
pub mod messages;
pub mod moderation;
pub mod notification_settings;
pub mod notifications;
mod offline_mail;
pub mod outbound;
pub mod people;
pub mod pipeline;
pub mod presence;
pub mod previews;
mod quotes;
pub mod ratelimit;
pub mod roles;
pub mod room_admin;
pub mod room_settings;
pub mod rooms;
pub mod secrets;
pub mod session_cache;
pub mod settings;
pub mod statistics;
pub mod storage;
pub mod teams;
pub mod tokens;
pub mod two_factor;
pub mod user_query;
pub mod video_conferences;

// The message pipeline's last filter: each message's markup tree (`md`).
mod markup;

use comet_core::{Error, Result};
use comet_events::{Envelope, Event, EventBus};
use comet_store::{Store, StoreError};
use std::net::IpAddr;
use std::sync::Arc;

pub use auth::{LoginRequest, LoginResult, PasswordInput, Session, UserSelector};
pub use bootstrap::{AdminBootstrap, ServiceConfig};
/// The blob stores live in comet-media; re-exported for the server and its tests.
pub use comet_media::blobs;

/// The cause of the events published while serving one request (REST) or method call (DDP):
/// its logged-in user, if any, and an id of its own. Transports run the request inside
/// [`with_cause`].
pub fn request_cause(session: Option<&Session>, request_id: String) -> comet_events::Cause {
    comet_events::Cause {
        actor: match session {
            Some(session) => comet_events::Actor::User {
                id: session.user.id.clone(),
                username: session.user.username.clone(),
            },
            None => comet_events::Actor::Anonymous,
        },
        request_id: Some(request_id),
    }
}

pub use audit::with_client;
pub use comet_events::with_cause;

/// Runs `work` (one request or method call) with its cause (events) and its client (audit
/// entries): what every transport wraps a request in.
pub async fn with_request<F: std::future::Future>(
    cause: comet_events::Cause,
    client: ClientInfo,
    work: F,
) -> F::Output {
    with_cause(cause, with_client(client, work)).await
}

/// Who is calling, as far as the network tells: used for login blocking, rate limits and
/// remembering a second factor.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// The service: one per server process, shared by every transport. It is the context the
/// domain services share (store, bus, caches of settings and permissions, rate limits, blob
/// stores, configuration); its operations live on those domain services, reached with
/// [`Service::accounts`], [`Service::rooms`], [`Service::messages`], [`Service::files`],
/// [`Service::settings`], [`Service::permissions`] and [`Service::connections`].
pub struct Service {
    store: Arc<dyn Store>,
    events: Arc<dyn EventBus>,
    settings_cache: settings::SettingsCache,
    permission_cache: authz::PermissionCache,
    /// Sessions recently authenticated, by hashed token (`session_cache`).
    session_cache: session_cache::SessionCache,
    rate_limiter: ratelimit::RateLimiter,
    /// The message pipeline's filters, in order (see `pipeline`).
    filters: Vec<Box<dyn pipeline::Filter>>,
    /// The local filesystem store (`FileSystem:Uploads`). Which store a write or read uses is
    /// decided per upload: see `blob_store_for_writing` and `blob_store_named` (storage.rs).
    blobs: Arc<dyn blobs::BlobStore>,
    /// The HTTP client of the S3 stores, made on first use.
    s3_http: std::sync::OnceLock<std::result::Result<reqwest::Client, String>>,
    /// Link previews waiting to be fetched, and the permits fetches take (`previews`).
    previews: previews::PreviewQueue,
    /// Messages waiting for automatic translation, and the translator in use (`autotranslate`).
    translation: autotranslate::TranslationQueue,
    /// Room exports waiting to be built (`export`).
    exports: export::ExportQueue,
    /// Outgoing mail's transport and the worker's wake-up (`mail`).
    mail: mail::MailQueue,
    /// Posted messages waiting for the decision to mail people who are away (`offline_mail`).
    offline_mail: offline_mail::OfflineMailQueue,
    config: ServiceConfig,
    /// When this process's service started (`statistics`' process uptime).
    started: std::time::Instant,
}

/// Declares a domain service: a view of the shared [`Service`] holding one domain's
/// operations, and the accessor that yields it.
macro_rules! domain_services {
    ($($(#[$doc:meta])* $accessor:ident => $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy)]
            pub struct $name<'a> {
                pub(crate) ctx: &'a Service,
            }

            impl std::fmt::Debug for $name<'_> {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.debug_struct(stringify!($name)).finish_non_exhaustive()
                }
            }
        )*

        impl Service {
            $(
                $(#[$doc])*
                pub fn $accessor(&self) -> $name<'_> {
                    $name { ctx: self }
                }
            )*
        }
    };
}

domain_services! {
    /// Accounts: registration, login and sessions, profiles, preferences, access tokens.
    accounts => Accounts;
    /// Rooms: creation, membership, subscriptions, room settings, administration, discovery.
    rooms => Rooms;
    /// Messages: the posting pipeline, history, edits, reactions, pins, stars, threads, read
    /// marks and notifications.
    messages => Messages;
    /// Files: uploads, downloads, thumbnails, avatars and the blob stores they live in.
    files => Files;
    /// Settings: the administrators' view of settings (reading them is shared: `setting_*`).
    settings => Settings;
    /// Roles and permissions: who holds what (checking is shared: `has_permission`).
    permissions => Permissions;
    /// Connections: presence of users across their connections, and instance liveness.
    connections => Connections;
    /// Slash commands: the built-in `/commands` run from a room's composer.
    commands => Commands;
    /// Moderation: reports of messages and users, and the console that handles them.
    moderation => Moderation;
    /// The audit log: recording privileged actions, reading and pruning the chain.
    audit => Audit;
    /// Invite links: creating, listing, removing and using them.
    invites => Invites;
    /// The workspace: its statistics and its assets (logo, favicons).
    workspace => Workspace;
    /// Teams: their members, main rooms and the rooms that belong to them.
    teams => Teams;
    /// The workspace's custom emoji, user statuses and sounds.
    custom_assets => CustomAssets;
    /// Automatic translation: members' choices per room, messages' translations.
    auto_translate => AutoTranslate;
    /// Video conferences: calls in rooms and DMs, the built-in Jitsi provider and Comet's own
    /// (`calls.rs`).
    video_conferences => VideoConferences;
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl Service {
    /// Loads settings and permissions, seeds a new database and applies boot configuration.
    /// Events of committed changes go to `events`.
    pub async fn start(
        store: Arc<dyn Store>,
        events: Arc<dyn EventBus>,
        config: ServiceConfig,
    ) -> Result<Arc<Service>> {
        let (previews, waiting_previews) = previews::PreviewQueue::new();
        let (exports, waiting_exports) = export::ExportQueue::new();
        let (offline_mail, waiting_offline_mail) = offline_mail::OfflineMailQueue::new();
        let (translation, waiting_translations) = autotranslate::TranslationQueue::new();
        let service = Service {
            previews,
            translation,
            exports,
            mail: mail::MailQueue::new(Arc::new(comet_mail::SmtpTransport)),
            offline_mail,
            settings_cache: settings::SettingsCache::default(),
            permission_cache: authz::PermissionCache::default(),
            session_cache: session_cache::SessionCache::default(),
            rate_limiter: ratelimit::RateLimiter::default(),
            filters: pipeline::built_in_filters(),
            blobs: Arc::new(blobs::LocalBlobStore::new(config.uploads_dir.clone())),
            s3_http: std::sync::OnceLock::new(),
            store,
            events,
            config,
            started: std::time::Instant::now(),
        };
        service.bootstrap().await?;
        let service = Arc::new(service);
        service.follow_bus();
        service.run_preview_worker(waiting_previews);
        service.run_translation_worker(waiting_translations);
        service.run_export_worker(waiting_exports);
        service.run_mail_worker();
        service.run_offline_mail_worker(waiting_offline_mail);
        service.run_call_sweeper();
        Ok(service)
    }

    /// Keeps the settings, permission and session caches in step with changes made by other
    /// instances (their events arrive over the bus; this instance's own are applied again,
    /// harmlessly).
    fn follow_bus(self: &Arc<Self>) {
        let mut events = self.events.subscribe();
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "fell behind the bus: reloading settings and permissions"
                        );
                        let Some(service) = service.upgrade() else {
                            break;
                        };
                        // A missed event may have revoked any session.
                        service
                            .session_cache
                            .invalidate(session_cache::Stale::Everyone);
                        if let Err(e) = service.reload_caches().await {
                            tracing::error!(error = %e, "reloading caches failed");
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let Some(service) = service.upgrade() else {
                    break;
                };
                // This instance's own events dropped their sessions when published.
                if event.instance != service.config.instance_id
                    && let Some(stale) = session_cache::user_whose_sessions_change(&event.event)
                {
                    service.session_cache.invalidate(stale);
                }
                match &event.event {
                    Event::Setting {
                        id,
                        value,
                        updated_at,
                        ..
                    } => service
                        .settings_cache
                        .store_value(id, value.clone(), *updated_at),
                    Event::Permission(permission) => {
                        service.permission_cache.upsert(permission.clone())
                    }
                    _ => {}
                }
            }
        });
    }

    async fn reload_caches(&self) -> Result<()> {
        let settings = self.store.settings().await.map_err(store_error)?;
        self.settings_cache.replace_all(settings);
        self.reload_permissions().await
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The bus this service publishes on; transports subscribe to it.
    pub fn events(&self) -> &Arc<dyn EventBus> {
        &self.events
    }

    /// Publishes an event, in an envelope naming this instance and the running request's
    /// actor and id (`comet_events::with_cause`); call only after the change it describes has
    /// committed.
    pub(crate) fn publish(&self, event: Event) {
        // Before the event leaves, so that no request after the change's own reply can
        // still be served from a session the change revoked.
        if let Some(stale) = session_cache::user_whose_sessions_change(&event) {
            self.session_cache.invalidate(stale);
        }
        comet_metrics::EVENTS_PUBLISHED.inc();
        self.events
            .publish(Envelope::new(&self.config.instance_id, event));
    }

    /// Removes login tokens older than `Accounts_LoginExpiration`; run periodically.
    pub async fn purge_expired_tokens(&self) -> Result<u64> {
        let cutoff = comet_core::now() - self.accounts().login_expiration();
        self.store
            .delete_login_tokens_before(cutoff)
            .await
            .map_err(store_error)
    }
}

/// Converts a storage failure that the caller did not anticipate into an internal error.
pub(crate) fn store_error(e: StoreError) -> Error {
    tracing::error!(error = %e, "store operation failed");
    Error::internal(e)
}

/// What `/ready` reports: each dependency and whether it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub bus: bool,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database && self.bus
    }
}

impl Service {
    /// Whether the database answers and the event bus reaches the other instances.
    pub async fn readiness(&self) -> Readiness {
        let database = match self.store.ping().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness: the database does not answer");
                false
            }
        };
        Readiness {
            database,
            bus: self.events.connected(),
        }
    }

    /// Samples only the service can take (database pools, bus counters), for `/metrics`.
    pub fn metric_samples(&self) -> Vec<comet_metrics::Sample> {
        let mut samples = Vec::new();
        for pool in self.store.pool_stats() {
            for (state, value) in [
                ("idle", pool.idle),
                ("busy", pool.size.saturating_sub(pool.idle)),
            ] {
                samples.push(comet_metrics::Sample {
                    name: "comet_db_pool_connections",
                    help: "Database pool connections by pool and state.",
                    kind: "gauge",
                    labels: vec![("pool", pool.pool.to_owned()), ("state", state.to_owned())],
                    value: f64::from(value),
                });
            }
        }
        samples.push(comet_metrics::Sample {
            name: "comet_bus_connected",
            help: "1 when events reach the other instances (always 1 for a single instance).",
            kind: "gauge",
            labels: Vec::new(),
            value: if self.events.connected() { 1.0 } else { 0.0 },
        });
        for (what, value) in self.events.counters() {
            samples.push(comet_metrics::Sample {
                name: "comet_bus_events_total",
                help: "Events relayed through NATS, by outcome.",
                kind: "counter",
                labels: vec![("outcome", what.to_owned())],
                value: value as f64,
            });
        }
        samples
    }
}
