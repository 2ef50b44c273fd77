//! Runtime settings: a cache over the store, typed getters, and the settings operations.

use crate::Settings;
use crate::authz::Required;
use crate::{Service, Session, store_error};
use comet_core::setting::{Setting, SettingType};
use comet_core::{Error, Result};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Every setting by id. The service is the only writer, so the cache is refreshed on each write.
#[derive(Default)]
pub(crate) struct SettingsCache {
    by_id: RwLock<BTreeMap<String, Setting>>,
    /// The default user preferences (`Accounts_Default_User_Preferences_*`, without the
    /// prefix), which every `me` answer starts from: made once, then again after a write.
    default_preferences: RwLock<Option<Arc<Map<String, Value>>>>,
}

impl SettingsCache {
    pub(crate) fn replace_all(&self, settings: Vec<Setting>) {
        let map = settings.into_iter().map(|s| (s.id.clone(), s)).collect();
        match self.by_id.write() {
            Ok(mut guard) => *guard = map,
            Err(poisoned) => *poisoned.into_inner() = map,
        }
        self.forget_derived();
    }

    /// Drops what is made from the settings (after any write).
    fn forget_derived(&self) {
        match self.default_preferences.write() {
            Ok(mut guard) => *guard = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }

    /// The default user preferences, by preference name.
    pub(crate) fn default_preferences(&self) -> Arc<Map<String, Value>> {
        let made = match self.default_preferences.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(made) = made {
            return made;
        }
        let prefix = comet_core::catalog::USER_PREFERENCE_PREFIX;
        // Made and stored under the write lock, so a write between the two cannot leave the
        // old defaults behind (a writer forgets them after changing `by_id`).
        let mut slot = match self.default_preferences.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let made = Arc::new(self.read(|m| {
            m.range(prefix.to_owned()..)
                .take_while(|(id, _)| id.starts_with(prefix))
                .map(|(id, s)| (id[prefix.len()..].to_owned(), s.value.clone()))
                .collect::<Map<String, Value>>()
        }));
        *slot = Some(made.clone());
        made
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<String, Setting>) -> T) -> T {
        match self.by_id.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub(crate) fn store_value(&self, id: &str, value: Value, at: comet_core::Timestamp) {
        let mut guard = match self.by_id.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(setting) = guard.get_mut(id) {
            setting.value = value;
            setting.updated_at = at;
        }
        drop(guard);
        self.forget_derived();
    }
}

/// A page of settings and the total before paging.
#[derive(Debug, Clone)]
pub struct SettingsPage {
    pub settings: Vec<Setting>,
    pub total: u64,
}

/// Which settings a listing returns.
#[derive(Debug, Clone, Default)]
pub struct SettingsQuery {
    /// Only these ids (the `_id=A,B` filter).
    pub ids: Option<Vec<String>>,
    pub offset: u64,
    pub count: Option<u64>,
}

fn page(settings: Vec<Setting>, query: &SettingsQuery) -> SettingsPage {
    let filtered: Vec<Setting> = match &query.ids {
        Some(ids) => settings
            .into_iter()
            .filter(|s| ids.iter().any(|id| id == &s.id))
            .collect(),
        None => settings,
    };
    let total = filtered.len() as u64;
    let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let settings = filtered
        .into_iter()
        .skip(offset)
        .take(
            query
                .count
                .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX)),
        )
        .collect();
    SettingsPage { settings, total }
}

impl Service {
    /// The current value of a setting.
    pub fn setting(&self, id: &str) -> Option<Value> {
        self.settings_cache
            .read(|m| m.get(id).map(|s| s.value.clone()))
    }

    pub fn setting_bool(&self, id: &str) -> bool {
        self.settings_cache
            .read(|m| m.get(id).and_then(|s| s.value.as_bool()))
            .unwrap_or(false)
    }

    /// A number setting as a whole number (a fractional value is truncated).
    pub fn setting_int(&self, id: &str) -> i64 {
        self.settings_cache
            .read(|m| {
                m.get(id).and_then(|s| {
                    s.value
                        .as_i64()
                        // Truncation is the intent; `as` saturates out-of-range values.
                        .or_else(|| s.value.as_f64().map(|f| f.trunc() as i64))
                })
            })
            .unwrap_or(0)
    }

    /// A number setting counted in minutes, fractions included, as a duration.
    pub fn setting_minutes(&self, id: &str) -> chrono::Duration {
        let minutes = self
            .settings_cache
            .read(|m| m.get(id).and_then(|s| s.value.as_f64()))
            .unwrap_or(0.0);
        // Milliseconds, rounded; `as` saturates, and no setting holds anything near that.
        chrono::Duration::milliseconds((minutes * 60_000.0).round() as i64)
    }

    pub fn setting_str(&self, id: &str) -> String {
        self.settings_cache
            .read(|m| m.get(id).and_then(|s| s.value.as_str().map(str::to_owned)))
            .unwrap_or_default()
    }

    /// Writes a setting value through to the store and the cache, without permission checks
    /// (boot configuration and the service's own bookkeeping).
    pub(crate) async fn write_setting(&self, id: &str, value: Value) -> Result<()> {
        let at = comet_core::now();
        let found = self
            .store
            .set_setting_value(id, &value, at)
            .await
            .map_err(store_error)?;
        if !found {
            return Err(Error::failure(""));
        }
        tracing::info!(setting = id, "setting changed");
        let public = self
            .settings_cache
            .read(|m| m.get(id).is_some_and(|s| s.public));
        self.settings_cache.store_value(id, value.clone(), at);
        self.publish(comet_events::Event::Setting {
            id: id.to_owned(),
            value,
            public,
            updated_at: at,
        });
        Ok(())
    }
}

impl Settings<'_> {
    /// `settings.public`: public settings, readable without login.
    pub fn public_settings(&self, query: &SettingsQuery) -> SettingsPage {
        let settings = self
            .ctx
            .settings_cache
            .read(|m| m.values().filter(|s| s.public).cloned().collect());
        page(settings, query)
    }

    /// `GET settings`: every setting for privileged callers, the public ones for others.
    pub fn list_settings(&self, session: &Session, query: &SettingsQuery) -> SettingsPage {
        let privileged = self.ctx.meets(&session.user, Self::READ_PRIVILEGED);
        let settings = self.ctx.settings_cache.read(|m| {
            m.values()
                .filter(|s| privileged || s.public)
                .cloned()
                .collect()
        });
        page(settings, query)
    }

    /// Upstream's `private-settings/get`: every setting for holders of
    /// `view-privileged-setting` or `edit-privileged-setting` (changed after `since` when
    /// given), nothing for anyone else. Upstream also opens single settings to holders of
    /// `manage-selected-settings` with a per-setting permission; Comet has no per-setting
    /// permissions, so they see nothing here.
    pub fn private_settings(
        &self,
        session: &Session,
        since: Option<comet_core::Timestamp>,
    ) -> Vec<Setting> {
        let user = &session.user;
        if !self.ctx.has_permission(user, "view-privileged-setting")
            && !self.ctx.has_permission(user, "edit-privileged-setting")
        {
            return Vec::new();
        }
        let mut settings: Vec<Setting> = self.ctx.settings_cache.read(|m| {
            m.values()
                .filter(|s| since.is_none_or(|since| s.updated_at > since))
                .cloned()
                .collect()
        });
        settings.sort_by(|a, b| a.id.cmp(&b.id));
        settings
    }

    /// Who may read every setting.
    pub const READ_PRIVILEGED: Required = Required::All(&["view-privileged-setting"]);
    /// Who may change settings.
    pub const EDIT_PRIVILEGED: Required = Required::All(&["edit-privileged-setting"]);

    /// `GET settings/:_id`.
    pub fn get_setting(&self, session: &Session, id: &str) -> Result<Setting> {
        self.ctx.authorize(&session.user, Self::READ_PRIVILEGED)?;
        self.ctx
            .settings_cache
            .read(|m| m.get(id).cloned())
            .ok_or_else(|| Error::failure(""))
    }

    /// `POST settings/:_id`: stores a value after checking its type (and choices).
    pub async fn update_setting(&self, session: &Session, id: &str, value: Value) -> Result<()> {
        self.ctx.authorize(&session.user, Self::EDIT_PRIVILEGED)?;
        let setting = self
            .ctx
            .settings_cache
            .read(|m| m.get(id).cloned())
            .ok_or_else(|| Error::failure(""))?;
        validate_value(&setting, &value)?;
        let secret =
            setting.setting_type == SettingType::Password || comet_core::audit::is_secret_key(id);
        let shown = |value: &Value| {
            if secret {
                json!({"value": comet_core::audit::REDACTED})
            } else {
                json!({"value": value})
            }
        };
        let (before, after) = (shown(&setting.value), shown(&value));
        self.ctx.write_setting(id, value).await?;
        self.ctx
            .audit_by(
                session,
                "setting.update",
                crate::audit::AuditTarget::setting(id),
                Some(before),
                Some(after),
            )
            .await
    }
}

/// A value as JavaScript's `Number()` reads it, for the bounds check; `None` for the values
/// upstream lets through unchecked (falsy ones) and for what is no number at all.
fn numeric_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64().filter(|n| *n != 0.0),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| *n != 0.0),
        Value::Bool(true) => Some(1.0),
        _ => None,
    }
}

fn validate_value(setting: &Setting, value: &Value) -> Result<()> {
    // Upstream checks the bounds first, on the value as a number, whatever its type.
    if let (Some((min, max)), Some(number)) = (
        comet_core::catalog::value_bounds(&setting.id),
        numeric_value(value),
    ) {
        if number < min {
            return Err(Error::meteor(
                "error-invalid-setting-value",
                format!(
                    "Value for setting {} must be greater than or equal to {min}",
                    setting.id
                ),
            ));
        }
        if number > max {
            return Err(Error::meteor(
                "error-invalid-setting-value",
                format!(
                    "Value for setting {} must be less than or equal to {max}",
                    setting.id
                ),
            ));
        }
    }
    if !setting.setting_type.accepts(value) {
        return Err(Error::failure_typed(
            format!(
                "Invalid value for setting {}: expected {}",
                setting.id,
                setting.setting_type.as_str()
            ),
            "error-setting-validation-failed",
        ));
    }
    if setting.setting_type == SettingType::Select
        && !setting.choices.is_empty()
        && !setting
            .choices
            .iter()
            .any(|c| Some(c.as_str()) == value.as_str())
    {
        return Err(Error::failure_typed(
            format!(
                "Invalid value for setting {}: must be one of {}",
                setting.id,
                setting.choices.join(", ")
            ),
            "error-setting-validation-failed",
        ));
    }
    Ok(())
}
