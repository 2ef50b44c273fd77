//! The Comet server as a library: `launch` runs it on a listener until `shutdown` resolves.
//! The `comet` binary and the end-to-end tests both start it this way.

pub mod audit;
pub mod backup;
pub mod config;
pub mod logging;
pub mod migrate;
mod ops;
pub mod web;

use comet_api_rest::AppState;
use comet_service::secrets::SecretKey;
use comet_service::{AdminBootstrap, Service, ServiceConfig};
use comet_store::Store;
use comet_store_postgres::PostgresStore;
use comet_store_sqlite::{SqliteDatabase, SqliteStore};
pub use config::{Command, Config};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often expired login tokens are purged.
const TOKEN_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
pub struct LaunchError(pub String);

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LaunchError {}

/// Opens the backend `DATABASE_URL`'s scheme names: `sqlite:` or `postgres:`/`postgresql:`.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, LaunchError> {
    let url = config.database_url();
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => {
            if config.database_url.is_none() {
                std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                    LaunchError(format!(
                        "cannot create data dir {}: {e}",
                        config.data_dir.display()
                    ))
                })?;
            }
            let db = SqliteDatabase::open_url_with(&url, config.sqlite_synchronous.into())
                .await
                .map_err(|e| LaunchError(format!("cannot open database: {e}")))?;
            Ok(Arc::new(SqliteStore::new(db)))
        }
        "postgres" | "postgresql" => {
            let store = PostgresStore::connect(&url)
                .await
                .map_err(|e| LaunchError(format!("cannot open database: {e}")))?;
            Ok(Arc::new(store))
        }
        other => Err(LaunchError(format!(
            "unsupported DATABASE_URL scheme {other:?}; use sqlite:// or postgres://"
        ))),
    }
}

/// The event bus: NATS when `NATS_URL` is set (several instances), else in-process.
async fn open_bus(
    config: &Config,
    instance_id: &str,
) -> Result<Arc<dyn comet_events::EventBus>, LaunchError> {
    match config.nats_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => {
            let name = format!("comet-{instance_id}");
            let bus = comet_events::NatsBus::connect(url, &name)
                .await
                .map_err(|e| LaunchError(e.to_string()))?;
            tracing::info!(instance = %name, "events go through NATS");
            Ok(Arc::new(bus))
        }
        None => Ok(Arc::new(comet_events::InProcessBus::default())),
    }
}

/// The key sealing secrets at rest: `COMET_SECRET_KEY`, else `<data dir>/secret.key`, made
/// with a new random key (readable by the owner only) when absent.
fn secret_key(config: &Config) -> Result<SecretKey, LaunchError> {
    if let Some(hex) = config
        .secret_key
        .as_deref()
        .filter(|k| !k.trim().is_empty())
    {
        return SecretKey::from_hex(hex).map_err(|e| LaunchError(format!("COMET_SECRET_KEY {e}")));
    }
    let path = config.data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            SecretKey::from_hex(&text).map_err(|e| LaunchError(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_new_key_file(&path, &key.to_hex())
                .map_err(|e| LaunchError(format!("cannot write {}: {e}", path.display())))?;
            tracing::info!(path = %path.display(), "created the secret key");
            Ok(key)
        }
        Err(e) => Err(LaunchError(format!("cannot read {}: {e}", path.display()))),
    }
}

fn write_new_key_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn service_config(config: &Config, instance_id: &str, secret_key: SecretKey) -> ServiceConfig {
    ServiceConfig {
        secret_key,
        instance_id: instance_id.to_owned(),
        clustered: config.nats_url.as_deref().is_some_and(|u| !u.is_empty()),
        instance_timeout: Duration::from_secs(config.instance_timeout),
        create_tokens_for_users: config.create_tokens_for_users,
        create_tokens_secret: config
            .create_tokens_secret
            .clone()
            .filter(|s| !s.is_empty()),
        admin: config
            .admin_pass
            .clone()
            .filter(|p| !p.is_empty())
            .map(|password| AdminBootstrap {
                username: config.admin_username.clone(),
                password,
                email: config.admin_email.clone(),
                email_verified: config.admin_email_verified,
                name: config.admin_name.clone(),
            }),
        initial_user: config.initial_user.clone().filter(|u| !u.trim().is_empty()),
        setting_defaults: config.setting_defaults.clone(),
        setting_overrides: config.setting_overrides.clone(),
        site_url: config.root_url.clone(),
        bcrypt_cost: config.bcrypt_cost,
        uploads_dir: config.data_dir.join("uploads"),
        avatar_url_allow_private: config.avatar_url_allow_private,
        link_preview_allow_private: config.link_preview_allow_private,
        disable_message_parser: config.disable_message_parser,
        translation_models: config
            .translation_models
            .clone()
            .filter(|dir| !dir.as_os_str().is_empty()),
        mail_retry_initial: std::time::Duration::from_secs(config.mail_retry_seconds.max(1)),
        call_ring_time: std::time::Duration::from_secs(config.call_ring_seconds.max(1)),
        database_kind: if config.database_url().starts_with("postgres") {
            "postgresql"
        } else {
            "sqlite"
        },
    }
}

/// Sends `/api` and below to the REST API (whose own fallback answers unknown API routes), and
/// everything else to the realtime endpoints and the web client.
fn app(api: axum::Router, site: axum::Router) -> axum::Router {
    use tower::ServiceExt as _;
    axum::Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let target = if web::is_api_path(req.uri().path()) {
            api.clone()
        } else {
            site.clone()
        };
        target.oneshot(req)
    }))
}

/// Starts the service and serves HTTP on `listener` until `shutdown` completes, then drains
/// in-flight requests.
pub async fn launch(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let instance_id = comet_core::id::new_id();
    let store = open_store(&config).await?;
    let events = open_bus(&config, &instance_id).await?;
    let secret_key = secret_key(&config)?;
    let service = Service::start(
        store,
        events,
        service_config(&config, &instance_id, secret_key),
    )
    .await
    .map_err(|e| LaunchError(format!("cannot start: {e}")))?;

    let purger = {
        let service = service.clone();
        tokio::spawn(async move {
            // Heartbeat and cluster housekeeping often; the lease holder purges expired login
            // tokens hourly.
            let mut tick = tokio::time::interval(
                Duration::from_secs(config.instance_timeout / 3).max(Duration::from_secs(1)),
            );
            let mut last_purge: Option<tokio::time::Instant> = None;
            loop {
                tick.tick().await;
                let leader = match service.connections().housekeeping().await {
                    Ok(leader) => leader,
                    Err(e) => {
                        tracing::warn!(error = %e, "housekeeping failed");
                        continue;
                    }
                };
                if !leader || last_purge.is_some_and(|at| at.elapsed() < TOKEN_PURGE_EVERY) {
                    continue;
                }
                last_purge = Some(tokio::time::Instant::now());
                match service.purge_expired_tokens().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired login tokens purged"),
                    Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
                }
                match service.accounts().purge_expired_email_tokens().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired email links purged"),
                    Err(e) => tracing::warn!(error = %e, "purging expired email links failed"),
                }
                // Unconfirmed `rooms.media` uploads expire after a day, like upstream's.
                match service.files().purge_expired_uploads().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "unconfirmed uploads purged"),
                    Err(e) => tracing::warn!(error = %e, "purging unconfirmed uploads failed"),
                }
                // `Audit_Retention_Days`: old audit entries go, the chain stays verifiable.
                match service.audit().apply_retention().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "old audit entries pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
                }
            }
        })
    };

    let realtime = comet_realtime::Realtime::start(service.clone());
    let ops = ops::router(service.clone(), config.http_forwarded_count);
    let stopping = service.clone();
    let state = AppState {
        service,
        forwarded_count: config.http_forwarded_count,
        listen_addr: listener.local_addr().ok(),
        max_requests_in_flight: usize::try_from(config.max_requests_in_flight)
            .unwrap_or(usize::MAX),
    };
    let app = app(
        comet_api_rest::router(state),
        comet_realtime::router(realtime)
            .merge(ops)
            .merge(web::router()),
    );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "comet listening");
    }
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    purger.abort();
    if let Err(e) = stopping.connections().leave_cluster().await {
        tracing::warn!(error = %e, "could not withdraw this instance's connections");
    }
    served.map_err(|e| LaunchError(format!("server error: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_database_schemes_are_refused_by_name() {
        let mut config = Config::for_data_dir(std::env::temp_dir());
        config.database_url = Some("mysql://db/comet".to_owned());
        let Err(error) = open_store(&config).await else {
            panic!("mysql:// opened a store");
        };
        assert!(error.0.contains("\"mysql\""), "{error}");
    }
}
