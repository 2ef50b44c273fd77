//! The Comet server as a library: `launch` runs it on a listener until `shutdown` resolves.
//! The `comet` binary and the end-to-end tests both start it this way.

pub mod config;
pub mod web;

use comet_api_rest::AppState;
use comet_service::{AdminBootstrap, Service, ServiceConfig};
use comet_store::Store;
use comet_store_sqlite::SqliteStore;
pub use config::Config;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
pub struct LaunchError(pub String);

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LaunchError {}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>, LaunchError> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        if config.database_url.is_none() {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                LaunchError(format!(
                    "cannot create data dir {}: {e}",
                    config.data_dir.display()
                ))
            })?;
        }
        let store = SqliteStore::open_url(&url)
            .await
            .map_err(|e| LaunchError(format!("cannot open database: {e}")))?;
        return Ok(Arc::new(store));
    }
    Err(LaunchError(format!(
        "unsupported DATABASE_URL scheme in {:?}; this build supports sqlite://",
        url.split(':').next().unwrap_or_default()
    )))
}

fn service_config(config: &Config) -> ServiceConfig {
    ServiceConfig {
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
        setting_defaults: config.setting_defaults.clone(),
        setting_overrides: config.setting_overrides.clone(),
        site_url: config.root_url.clone(),
        bcrypt_cost: config.bcrypt_cost,
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
    let store = open_store(&config).await?;
    let events: Arc<dyn comet_events::EventBus> = Arc::new(comet_events::InProcessBus::default());
    let service = Service::start(store, events, service_config(&config))
        .await
        .map_err(|e| LaunchError(format!("cannot start: {e}")))?;

    let purger = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match service.purge_expired_tokens().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired login tokens purged"),
                    Err(e) => tracing::warn!(error = %e, "purging expired tokens failed"),
                }
            }
        })
    };

    let realtime = comet_realtime::Realtime::start(service.clone());
    let state = AppState {
        service,
        forwarded_count: config.http_forwarded_count,
    };
    let app = app(
        comet_api_rest::router(state),
        comet_realtime::router(realtime).merge(web::router()),
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
    served.map_err(|e| LaunchError(format!("server error: {e}")))
}
