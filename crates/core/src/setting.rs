//! Runtime settings, identified by Rocket.Chat's setting ids.

use crate::Timestamp;
use serde_json::Value;

/// The value type of a setting, as upstream's `ISetting.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingType {
    Boolean,
    String,
    Int,
    Select,
    Code,
    Password,
    Language,
    /// Upstream's `multiSelect`: a list of strings (e.g. the sidebar's section order).
    MultiSelect,
    /// Upstream's `asset`: `{url?, defaultUrl?}`, changed through `assets.setAsset`.
    Asset,
}

impl SettingType {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingType::Boolean => "boolean",
            SettingType::String => "string",
            SettingType::Int => "int",
            SettingType::Select => "select",
            SettingType::Code => "code",
            SettingType::Password => "password",
            SettingType::Language => "language",
            SettingType::MultiSelect => "multiSelect",
            SettingType::Asset => "asset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "boolean" => SettingType::Boolean,
            "string" => SettingType::String,
            "int" => SettingType::Int,
            "select" => SettingType::Select,
            "code" => SettingType::Code,
            "password" => SettingType::Password,
            "language" => SettingType::Language,
            "multiSelect" => SettingType::MultiSelect,
            "asset" => SettingType::Asset,
            _ => return None,
        })
    }

    /// Whether `value` has this type's JSON shape.
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            SettingType::Boolean => value.is_boolean(),
            // Upstream checks `int` settings as any `Number`: fractional values are accepted
            // (e.g. half a minute in `Block_Multiple_Failed_Logins_*`).
            SettingType::Int => value.as_f64().is_some_and(f64::is_finite),
            SettingType::String
            | SettingType::Select
            | SettingType::Code
            | SettingType::Password
            | SettingType::Language => value.is_string(),
            SettingType::MultiSelect => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            SettingType::Asset => value.as_object().is_some_and(|fields| {
                fields
                    .iter()
                    .all(|(k, v)| matches!(k.as_str(), "url" | "defaultUrl") && v.is_string())
            }),
        }
    }

    /// Converts an environment string (`OVERWRITE_SETTING_<id>=...`) to this type's value.
    pub fn value_from_env(self, raw: &str) -> Option<Value> {
        match self {
            SettingType::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(Value::Bool(true)),
                "false" | "0" | "no" => Some(Value::Bool(false)),
                _ => None,
            },
            SettingType::Int => {
                let raw = raw.trim();
                raw.parse::<i64>().ok().map(Value::from).or_else(|| {
                    raw.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(Value::from)
                })
            }
            SettingType::Asset => serde_json::from_str(raw)
                .ok()
                .filter(|value| self.accepts(value)),
            _ => Some(Value::String(raw.to_owned())),
        }
    }
}

/// A setting with its current value.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub id: String,
    pub value: Value,
    /// The value the server ships with (`packageValue`).
    pub package_value: Value,
    pub setting_type: SettingType,
    /// Readable without login (`settings.public`).
    pub public: bool,
    pub group: String,
    pub section: Option<String>,
    /// Allowed values of a `select` setting.
    pub choices: Vec<String>,
    pub updated_at: Timestamp,
}
