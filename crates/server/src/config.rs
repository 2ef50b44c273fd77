//! Boot configuration: flags and environment, with Rocket.Chat's names where they exist.
//! This is the one place it is documented; `comet --help` prints it.

use clap::Parser;
use std::path::PathBuf;

/// Comet: a self-hosted team chat server speaking Rocket.Chat's REST and realtime APIs.
///
/// With no arguments it serves on port 3000 with an embedded SQLite database under ./data.
/// Runtime settings (Rocket.Chat setting ids) live in the database; to force one at every
/// start use OVERWRITE_SETTING_<SettingId>=<value>; to seed one on first start only, set
/// <SettingId>=<value>.
#[derive(Parser, Clone)]
#[command(name = "comet", version, about, long_about)]
pub struct Config {
    /// TCP port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Address to bind.
    #[arg(long, env = "BIND_IP", default_value = "0.0.0.0")]
    pub bind: String,

    /// Public URL of the server (forced into the Site_Url setting).
    #[arg(long, env = "ROOT_URL")]
    pub root_url: Option<String>,

    /// Directory for the database and uploaded files.
    #[arg(long, env = "COMET_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Let users set their avatar from URLs on loopback, private, link-local and other
    /// non-public addresses. Off: such URLs are refused after name resolution, so that no user
    /// can make the server probe its own network (SSRF). Turn on only for tests or a trusted
    /// intranet.
    #[arg(long, env = "COMET_AVATAR_URL_ALLOW_PRIVATE", default_value_t = false)]
    pub avatar_url_allow_private: bool,

    /// Let link previews (`API_Embed`) fetch pages on loopback, private, link-local and other
    /// non-public addresses. Off: such pages are refused after name resolution and on every
    /// redirect, whatever `API_EmbedIgnoredHosts` says. Turn on only for tests or a trusted
    /// intranet.
    #[arg(
        long,
        env = "COMET_LINK_PREVIEW_ALLOW_PRIVATE",
        default_value_t = false
    )]
    pub link_preview_allow_private: bool,

    /// The built-in translation engine's models: a directory of `<src>-<trg>/` pair
    /// directories (docs/translation-models.md). Without it, `AutoTranslate_ServiceProvider`
    /// `comet-builtin` translates nothing and says so to admins (`stdout.queue`, the log).
    #[arg(long, env = "COMET_TRANSLATION_MODELS")]
    pub translation_models: Option<PathBuf>,

    /// Store no markup tree (`md`) with messages, as upstream's variable of the same name: clients
    /// then parse `msg` themselves.
    #[arg(long, env = "DISABLE_MESSAGE_PARSER", default_value_t = false)]
    pub disable_message_parser: bool,

    /// Seconds before a failed mail delivery is tried again; each further failure doubles the
    /// wait, up to an hour. Mail waits in the database meanwhile (see the `SMTP_*` settings).
    #[arg(long, env = "COMET_MAIL_RETRY_SECONDS", default_value_t = 10)]
    pub mail_retry_seconds: u64,

    /// Seconds a direct call rings before, unanswered, it is cancelled (upstream's 40).
    #[arg(long, env = "COMET_CALL_RING_SECONDS", default_value_t = 40)]
    pub call_ring_seconds: u64,

    /// Database URL: `sqlite://path` (default: <data dir>/comet.db), or
    /// `postgres://user:password@host:port/database` (also `postgresql://`) for PostgreSQL
    /// (tested with 15) with the unaccent extension (postgresql-contrib), where the query may
    /// add `max_connections=N` (pool size, default 16) and `acquire_timeout=SECONDS` (default
    /// 10) to libpq's parameters such as `sslmode`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// How a SQLite commit reaches the disk (SQLite's `synchronous`): `full` syncs it before
    /// the write is acknowledged, so acknowledged messages survive a power cut (writes
    /// committing together share one sync); `normal` syncs only at checkpoints: a crash of the
    /// process loses nothing, a power cut may lose the last moments' writes, and neither
    /// corrupts the database. PostgreSQL keeps its own setting (`synchronous_commit`).
    #[arg(
        long,
        env = "COMET_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value_t = SqliteSynchronous::Full
    )]
    pub sqlite_synchronous: SqliteSynchronous,

    /// NATS server carrying events between instances (`nats://host:4222`); unset: one instance,
    /// events stay in the process.
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,

    /// Username of the admin created at start when no admin exists (needs ADMIN_PASS).
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// Password of that admin; without it no admin is created.
    #[arg(long, env = "ADMIN_PASS", hide_env_values = true)]
    pub admin_pass: Option<String>,

    /// Email of that admin.
    #[arg(long, env = "ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Mark that admin's email as verified.
    #[arg(long, env = "ADMIN_EMAIL_VERIFIED", default_value_t = false)]
    pub admin_email_verified: bool,

    /// Display name of that admin.
    #[arg(long, env = "ADMIN_NAME", default_value = "Administrator")]
    pub admin_name: String,

    /// A user created once at start (Rocket.Chat's INITIAL_USER): a JSON user document with its
    /// `_id`, e.g. `{"_id":"bot1","username":"bot","name":"Bot","emails":[{"address":
    /// "bot@example.com","verified":true}],"roles":["user","bot"],"type":"bot","password":"..."}`
    /// (`password` in plain text, or `services.password.bcrypt` as Rocket.Chat stores it).
    #[arg(long, env = "INITIAL_USER", hide_env_values = true)]
    pub initial_user: Option<String>,

    /// Enable users.createToken (tokens for other users, for bots and integrations).
    #[arg(long, env = "CREATE_TOKENS_FOR_USERS", default_value_t = false)]
    pub create_tokens_for_users: bool,

    /// When set, users.createToken requires this value as `secret` (Rocket.Chat 8 behaviour).
    #[arg(long, env = "CREATE_TOKENS_FOR_USERS_SECRET", hide_env_values = true)]
    pub create_tokens_secret: Option<String>,

    /// The key sealing secrets the server keeps at rest (users' TOTP secrets): 64 hexadecimal
    /// digits (32 bytes, AES-256-GCM). Unset: read from <data dir>/secret.key, which is created
    /// (mode 0600) on first start. Instances sharing one database must share the key; losing
    /// it makes enrolled users' TOTP unusable (an admin can then turn their 2FA off).
    #[arg(long, env = "COMET_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Number of reverse proxies in front of Comet that append to X-Forwarded-For.
    #[arg(long, env = "HTTP_FORWARDED_COUNT", default_value_t = 0)]
    pub http_forwarded_count: usize,

    /// REST requests handled at once at most; more are refused at once with 503 and
    /// `Retry-After: 1` (an overload then costs bounded memory and no client waits unanswered).
    #[arg(long, env = "COMET_MAX_REQUESTS_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_requests_in_flight: u32,

    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `comet=debug`.
    #[arg(long, env = "COMET_LOG", default_value = "info")]
    pub log: String,

    /// Log format: `text` or `json`.
    #[arg(long, env = "COMET_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// Seconds without a heartbeat after which an instance's connections count as gone (several
    /// instances); instances beat three times per period.
    #[arg(long, env = "COMET_INSTANCE_TIMEOUT", default_value_t = 45, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub instance_timeout: u64,

    /// bcrypt cost for new password hashes (Rocket.Chat uses 10; lower only for tests).
    #[arg(long, env = "COMET_BCRYPT_COST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// Something to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `OVERWRITE_SETTING_<id>` pairs, read from the environment.
    #[arg(skip)]
    pub setting_overrides: Vec<(String, String)>,

    /// `<SettingId>=<value>` first-start defaults, read from the environment.
    #[arg(skip)]
    pub setting_defaults: Vec<(String, String)>,
}

/// `COMET_SQLITE_SYNCHRONOUS`: how a SQLite commit reaches the disk.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

impl From<SqliteSynchronous> for comet_store_sqlite::Synchronous {
    fn from(mode: SqliteSynchronous) -> Self {
        match mode {
            SqliteSynchronous::Full => comet_store_sqlite::Synchronous::Full,
            SqliteSynchronous::Normal => comet_store_sqlite::Synchronous::Normal,
        }
    }
}

/// What `comet` does instead of serving, when given a subcommand.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Command {
    /// Copy a whole database into a new, empty one (e.g. SQLite to PostgreSQL).
    ///
    /// Copies every table in batches, then checks that each holds as many records on both
    /// sides. Stop every server using either database first; the source is only read.
    /// Example: comet migrate-db --from sqlite://./data/comet.db --to
    /// postgres://comet:secret@db:5432/comet
    MigrateDb(crate::migrate::MigrateDbArgs),
    /// Back up the database and uploaded files into a new directory, while the server runs.
    ///
    /// Uses the server's configuration (COMET_DATA_DIR, DATABASE_URL). A SQLite database is
    /// snapshotted consistently; PostgreSQL is left to pg_dump and only files are copied.
    /// Example: comet backup --to /backups/comet-2026-11-25
    Backup(crate::backup::BackupArgs),
    /// Restore a backup into the configured data directory, which must hold no database.
    ///
    /// Example: COMET_DATA_DIR=./data comet restore --from /backups/comet-2026-11-25
    Restore(crate::backup::RestoreArgs),
    /// Work with the audit log. `comet audit verify` checks its hash chain and exits non-zero
    /// at the first broken link, naming its sequence number.
    ///
    /// Uses the server's configuration (COMET_DATA_DIR, DATABASE_URL).
    Audit(crate::audit::AuditArgs),
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("root_url", &self.root_url)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("nats_url", &self.nats_url.as_ref().map(|_| "<set>"))
            .field("admin_username", &self.admin_username)
            .field(
                "admin_pass",
                &self.admin_pass.as_ref().map(|_| "<redacted>"),
            )
            .field("create_tokens_for_users", &self.create_tokens_for_users)
            .field("http_forwarded_count", &self.http_forwarded_count)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Parses flags and environment, then collects the setting overrides from the environment.
    pub fn from_env_and_args() -> Self {
        let mut config = Config::parse();
        config.read_setting_env(std::env::vars());
        config
    }

    /// The defaults, ignoring the process environment: what tests and embedding programs start
    /// from.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Config {
            port: 3000,
            bind: "0.0.0.0".to_owned(),
            root_url: None,
            data_dir,
            avatar_url_allow_private: false,
            link_preview_allow_private: false,
            disable_message_parser: false,
            translation_models: None,
            mail_retry_seconds: 10,
            call_ring_seconds: 40,
            database_url: None,
            sqlite_synchronous: SqliteSynchronous::Full,
            nats_url: None,
            admin_username: "admin".to_owned(),
            admin_pass: None,
            admin_email: None,
            admin_email_verified: false,
            admin_name: "Administrator".to_owned(),
            initial_user: None,
            create_tokens_for_users: false,
            create_tokens_secret: None,
            secret_key: None,
            http_forwarded_count: 0,
            max_requests_in_flight: 1024,
            log: "info".to_owned(),
            log_format: "text".to_owned(),
            bcrypt_cost: 10,
            instance_timeout: 45,
            setting_overrides: Vec::new(),
            setting_defaults: Vec::new(),
            command: None,
        }
    }

    /// Splits `OVERWRITE_SETTING_<id>=v` and `<SettingId>=v` (for known setting ids) out of
    /// an environment.
    pub fn read_setting_env(&mut self, vars: impl Iterator<Item = (String, String)>) {
        for (key, value) in vars {
            if let Some(id) = key.strip_prefix("OVERWRITE_SETTING_") {
                self.setting_overrides.push((id.to_owned(), value));
            } else if comet_core::catalog::DEFAULT_SETTINGS
                .iter()
                .any(|s| s.id == key)
            {
                self.setting_defaults.push((key, value));
            }
        }
    }

    /// The database URL in use.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("comet.db").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, SqliteSynchronous};
    use clap::Parser;

    #[test]
    fn sqlite_commits_are_full_unless_normal_is_asked_for() {
        let default = Config::try_parse_from(["comet"]).expect("no arguments");
        assert_eq!(default.sqlite_synchronous, SqliteSynchronous::Full);
        let normal =
            Config::try_parse_from(["comet", "--sqlite-synchronous", "normal"]).expect("normal");
        assert_eq!(normal.sqlite_synchronous, SqliteSynchronous::Normal);
        assert!(Config::try_parse_from(["comet", "--sqlite-synchronous", "off"]).is_err());
    }
}
