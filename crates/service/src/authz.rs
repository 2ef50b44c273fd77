//! Permissions: the one place that decides whether a user may do something.

use crate::{Service, store_error};
use comet_core::role::Permission;
use comet_core::user::User;
use comet_core::{Error, Result};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Permissions an operation requires of its caller before anything else about the call is
/// looked at (upstream's `permissionsRequired`); lacking them is 403 "forbidden". Each is
/// declared as a constant next to the operation it guards, which checks it itself; the REST
/// edge also checks it before reading the request, so that the refusal comes first as
/// upstream's does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Every one of these.
    All(&'static [&'static str]),
    /// At least one of these.
    Any(&'static [&'static str]),
}

/// Every permission by id, refreshed on each write (the service is the only writer).
#[derive(Default)]
pub(crate) struct PermissionCache {
    by_id: RwLock<BTreeMap<String, Permission>>,
}

impl PermissionCache {
    pub(crate) fn replace_all(&self, permissions: Vec<Permission>) {
        let map = permissions.into_iter().map(|p| (p.id.clone(), p)).collect();
        match self.by_id.write() {
            Ok(mut guard) => *guard = map,
            Err(poisoned) => *poisoned.into_inner() = map,
        }
    }

    pub(crate) fn upsert(&self, permission: Permission) {
        match self.by_id.write() {
            Ok(mut guard) => guard.insert(permission.id.clone(), permission),
            Err(poisoned) => poisoned
                .into_inner()
                .insert(permission.id.clone(), permission),
        };
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&BTreeMap<String, Permission>) -> T) -> T {
        match self.by_id.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}

impl Service {
    /// Whether any of the user's global roles holds the permission.
    pub fn has_permission(&self, user: &User, permission: &str) -> bool {
        self.permission_cache.read(|m| {
            m.get(permission)
                .is_some_and(|p| p.roles.iter().any(|role| user.has_role(role)))
        })
    }

    /// Whether the user holds at least one of the permissions.
    pub fn has_any_permission(&self, user: &User, permissions: &[&str]) -> bool {
        permissions.iter().any(|p| self.has_permission(user, p))
    }

    /// Whether the user meets an operation's requirement.
    pub fn meets(&self, user: &User, required: Required) -> bool {
        match required {
            Required::All(permissions) => permissions.iter().all(|p| self.has_permission(user, p)),
            Required::Any(permissions) => self.has_any_permission(user, permissions),
        }
    }

    /// Refuses (403, upstream's `permissionsRequired` text) unless the user meets an
    /// operation's requirement.
    pub fn authorize(&self, user: &User, required: Required) -> Result<()> {
        if self.meets(user, required) {
            Ok(())
        } else {
            Err(Error::permission_required())
        }
    }

    /// Refuses with 403 "unauthorized" (an operation's own `API.v1.forbidden()`) unless the
    /// user holds the permission.
    pub fn require_permission(&self, user: &User, permission: &str) -> Result<()> {
        if self.has_permission(user, permission) {
            Ok(())
        } else {
            Err(Error::forbidden())
        }
    }

    pub(crate) async fn reload_permissions(&self) -> Result<()> {
        let permissions = self.store.permissions().await.map_err(store_error)?;
        self.permission_cache.replace_all(permissions);
        Ok(())
    }
}
