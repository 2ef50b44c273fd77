//! Roles and permissions.

use crate::Timestamp;

/// A role: global (`Users` scope) or per room (`Subscriptions` scope).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Role {
    /// For built-in roles the id equals the name; custom roles get a random id.
    pub id: String,
    pub name: String,
    pub scope: String,
    pub description: String,
    /// Built-in roles cannot be deleted or renamed.
    pub protected: bool,
    pub mandatory_2fa: bool,
    pub updated_at: Timestamp,
}

/// A permission and the roles that hold it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Permission {
    pub id: String,
    pub roles: Vec<String>,
    pub updated_at: Timestamp,
}
