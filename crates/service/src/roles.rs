//! Roles and permissions administration.

use crate::Permissions;
use crate::audit::AuditTarget;
use crate::authz::Required;
use crate::{Session, store_error};
use comet_core::catalog::{SCOPE_SUBSCRIPTIONS, SCOPE_USERS};
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::role::{Permission, Role};
use comet_core::user::User;
use comet_core::{Error, Result, id, now};
use comet_store::{Conflict, StoreError, UserFilter};
use serde_json::json;

/// How many holders of each public role `users_in_public_roles` lists: the list is for
/// showing role badges, and a role held by more people than this is no badge.
const PUBLIC_ROLE_HOLDERS_MAX: u64 = 1000;

/// `roles.create` input.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    pub name: String,
    pub scope: Option<String>,
    pub description: Option<String>,
    pub mandatory_2fa: bool,
}

/// How `roles.addUserToRole` names the role.
#[derive(Debug, Clone)]
pub enum RoleRef {
    Id(String),
    Name(String),
}

impl Permissions<'_> {
    /// Who may change permissions and roles and see who holds a role.
    pub const MANAGE: Required = Required::All(&["access-permissions"]);

    /// `permissions.listAll`: every permission, or those changed after `since`.
    pub fn permissions(&self, since: Option<comet_core::Timestamp>) -> Vec<Permission> {
        self.ctx.permission_cache.read(|m| {
            m.values()
                .filter(|p| since.is_none_or(|since| p.updated_at > since))
                .cloned()
                .collect()
        })
    }

    /// `permissions.update`: replaces the roles of each listed permission.
    pub async fn update_permissions(
        &self,
        session: &Session,
        changes: &[(String, Vec<String>)],
    ) -> Result<Vec<Permission>> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let roles = self.ctx.store.roles().await.map_err(store_error)?;
        for (permission, granted) in changes {
            if self
                .ctx
                .permission_cache
                .read(|m| !m.contains_key(permission))
            {
                return Err(Error::failure_typed(
                    "Invalid permission",
                    "error-invalid-permission",
                ));
            }
            if granted
                .iter()
                .any(|g| !roles.iter().any(|r| &r.id == g || &r.name == g))
            {
                return Err(Error::failure_typed("Invalid role", "error-invalid-role"));
            }
        }
        let at = now();
        for (permission, granted) in changes {
            let mut unique: Vec<String> = Vec::with_capacity(granted.len());
            for role in granted {
                if !unique.contains(role) {
                    unique.push(role.clone());
                }
            }
            let before = self
                .ctx
                .permission_cache
                .read(|m| m.get(permission).map(|p| p.roles.clone()));
            self.ctx
                .store
                .set_permission_roles(permission, &unique, at)
                .await
                .map_err(store_error)?;
            tracing::info!(by = %session.user.id, permission = %permission, roles = ?unique, "permission changed");
            self.ctx
                .audit_by(
                    session,
                    "permission.update",
                    AuditTarget::permission(permission),
                    Some(json!({"roles": before})),
                    Some(json!({"roles": unique})),
                )
                .await?;
        }
        self.ctx.reload_permissions().await?;
        let all = self.permissions(None);
        for changed in all
            .iter()
            .filter(|p| changes.iter().any(|(id, _)| id == &p.id))
        {
            self.ctx
                .publish(comet_events::Event::Permission(changed.clone()));
        }
        Ok(all)
    }

    /// `permissions.addRole` / `permissions.removeRole`: grants one permission to one role,
    /// or takes it back, leaving the permission's other roles as they are. Taking back a role
    /// the permission does not hold succeeds without change, as upstream.
    pub async fn set_permission_role(
        &self,
        session: &Session,
        permission: &str,
        role: &str,
        granted: bool,
    ) -> Result<Vec<Permission>> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let Some(mut roles) = self
            .ctx
            .permission_cache
            .read(|m| m.get(permission).map(|p| p.roles.clone()))
        else {
            return Err(Error::failure_typed(
                "Invalid permission",
                "error-invalid-permission",
            ));
        };
        if granted {
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_owned());
            }
        } else {
            let known = self.find_role(&RoleRef::Id(role.to_owned())).await?;
            if known.is_none() {
                return Err(Error::failure_typed("Invalid role", "error-invalid-role"));
            }
            roles.retain(|r| r != role);
        }
        self.update_permissions(session, &[(permission.to_owned(), roles)])
            .await
    }

    /// `roles.getUsersInPublicRoles` and the `getUserRoles` method: the users holding a
    /// public role (a global role with a description, as upstream defines them), each with
    /// only those of their roles that are public, ordered by username.
    pub async fn users_in_public_roles(&self) -> Result<Vec<User>> {
        let public: Vec<String> = self
            .roles()
            .await?
            .into_iter()
            .filter(|r| r.scope == SCOPE_USERS && !r.description.is_empty())
            .map(|r| r.id)
            .collect();
        let mut users: Vec<User> = Vec::new();
        for role in &public {
            let filter = UserFilter {
                role: Some(role.clone()),
                ..UserFilter::default()
            };
            let page = Page {
                offset: 0,
                count: Some(PUBLIC_ROLE_HOLDERS_MAX),
                sort: vec![(UserSortKey::Username, Direction::Ascending)],
            };
            let (holders, _) = self
                .ctx
                .store
                .list_users(&filter, &page)
                .await
                .map_err(store_error)?;
            for mut user in holders {
                if users.iter().any(|u| u.id == user.id) {
                    continue;
                }
                user.roles.retain(|r| public.contains(r));
                users.push(user);
            }
        }
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    /// `roles.list`.
    pub async fn roles(&self) -> Result<Vec<Role>> {
        self.ctx.store.roles().await.map_err(store_error)
    }

    async fn find_role(&self, role: &RoleRef) -> Result<Option<Role>> {
        let roles = self.ctx.store.roles().await.map_err(store_error)?;
        Ok(roles.into_iter().find(|r| match role {
            RoleRef::Id(id) => &r.id == id,
            RoleRef::Name(name) => &r.name == name,
        }))
    }

    /// `roles.create`: a custom role, protected from nothing, holding no permissions yet.
    pub async fn create_role(&self, session: &Session, new_role: NewRole) -> Result<Role> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let name = new_role.name.trim();
        if name.is_empty() {
            return Err(Error::invalid_params("must have required property 'name'"));
        }
        let scope = new_role.scope.unwrap_or_else(|| SCOPE_USERS.to_owned());
        if scope != SCOPE_USERS && scope != SCOPE_SUBSCRIPTIONS {
            return Err(Error::meteor("error-invalid-scope", "Invalid scope"));
        }
        let role = Role {
            id: id::new_id(),
            name: name.to_owned(),
            scope,
            description: new_role.description.unwrap_or_default(),
            protected: false,
            mandatory_2fa: new_role.mandatory_2fa,
            updated_at: now(),
        };
        match self.ctx.store.insert_role(&role).await {
            Ok(()) => {
                tracing::info!(by = %session.user.id, role = %role.name, "role created");
                self.ctx
                    .audit_by(
                        session,
                        "role.create",
                        AuditTarget::role(&role.id, &role.name),
                        None,
                        Some(role_fields(&role)),
                    )
                    .await?;
                self.ctx
                    .publish(comet_events::Event::RoleDefined(role.clone()));
                Ok(role)
            }
            Err(StoreError::Conflict(Conflict::RoleName | Conflict::Id)) => Err(Error::meteor(
                "error-duplicate-role-names-not-allowed",
                "Role name already exists",
            )),
            Err(e) => Err(store_error(e)),
        }
    }

    /// `roles.update` (an enterprise route upstream, like `roles.create`): a role's name,
    /// scope, description and 2FA flag; a protected role keeps its name and scope.
    pub async fn update_role(
        &self,
        session: &Session,
        role_id: &str,
        changes: NewRole,
    ) -> Result<Role> {
        let Some(mut role) = self.find_role(&RoleRef::Id(role_id.to_owned())).await? else {
            return Err(Error::meteor(
                "error-invalid-roleId",
                "This role does not exist",
            ));
        };
        if !self.ctx.meets(&session.user, Self::MANAGE) {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "Accessing permissions is not allowed",
            ));
        }
        let name = changes.name.trim();
        if name.is_empty() {
            return Err(Error::invalid_params("must have required property 'name'"));
        }
        let scope = changes.scope.unwrap_or_else(|| SCOPE_USERS.to_owned());
        if scope != SCOPE_USERS && scope != SCOPE_SUBSCRIPTIONS {
            return Err(Error::meteor("error-invalid-scope", "Invalid scope"));
        }
        let before = role_fields(&role);
        if role.protected && (name != role.name || scope != role.scope) {
            return Err(Error::meteor("error-role-protected", "Role is protected"));
        }
        role.name = name.to_owned();
        role.scope = scope;
        role.description = changes.description.unwrap_or_default();
        role.mandatory_2fa = changes.mandatory_2fa;
        role.updated_at = now();
        match self.ctx.store.update_role(&role).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::meteor(
                    "error-invalid-roleId",
                    "This role does not exist",
                ));
            }
            Err(StoreError::Conflict(Conflict::RoleName)) => {
                return Err(Error::meteor(
                    "error-duplicate-role-names-not-allowed",
                    "Role name already exists",
                ));
            }
            Err(e) => return Err(store_error(e)),
        }
        tracing::info!(by = %session.user.id, role = %role.id, "role updated");
        self.ctx
            .audit_by(
                session,
                "role.update",
                AuditTarget::role(&role.id, &role.name),
                Some(before),
                Some(role_fields(&role)),
            )
            .await?;
        self.ctx
            .publish(comet_events::Event::RoleDefined(role.clone()));
        Ok(role)
    }

    /// `roles.delete`: by id or name; protected roles and roles someone holds stay.
    pub async fn delete_role(&self, session: &Session, role: &str) -> Result<()> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let found = match self.find_role(&RoleRef::Id(role.to_owned())).await? {
            Some(found) => Some(found),
            None => self.find_role(&RoleRef::Name(role.to_owned())).await?,
        };
        let Some(role) = found else {
            return Err(Error::meteor(
                "error-invalid-roleId",
                "This role does not exist",
            ));
        };
        if role.protected {
            return Err(Error::meteor(
                "error-role-protected",
                "Cannot delete a protected role",
            ));
        }
        // Room-scoped roles can only be held through subscriptions, which Comet gives only to
        // its protected room roles; so counting users covers every holder.
        let holders = self
            .ctx
            .store
            .count_users_with_role(&role.id)
            .await
            .map_err(store_error)?;
        if holders > 0 {
            return Err(Error::meteor(
                "error-role-in-use",
                "Cannot delete role because it's in use",
            ));
        }
        self.ctx
            .store
            .delete_role(&role.id)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, role = %role.id, "role deleted");
        self.ctx
            .audit_by(
                session,
                "role.delete",
                AuditTarget::role(&role.id, &role.name),
                Some(role_fields(&role)),
                None,
            )
            .await?;
        self.ctx.publish(comet_events::Event::RoleRemoved(role));
        Ok(())
    }

    /// `roles.addUserToRole` (global roles; room roles arrive with rooms).
    pub async fn add_user_to_role(
        &self,
        session: &Session,
        role: &RoleRef,
        user: &User,
        room_id: Option<&str>,
    ) -> Result<Role> {
        if !self.ctx.meets(&session.user, Self::MANAGE) {
            return Err(Error::meteor("error-action-not-allowed", "Accessing permissions is not allowed")
                .with_details(serde_json::json!({"method": "authorization:addUserToRole", "action": "Accessing_permissions"})));
        }
        let Some(role) = self.find_role(role).await? else {
            return Err(Error::failure_typed(
                "error-role-not-found",
                "Role not found",
            ));
        };
        if role.id == "admin" && !self.ctx.has_permission(&session.user, "assign-admin-role") {
            return Err(Error::meteor("error-action-not-allowed", "Assigning admin is not allowed")
                .with_details(serde_json::json!({"method": "authorization:addUserToRole", "action": "Assign_admin"})));
        }
        if role.scope == SCOPE_SUBSCRIPTIONS || room_id.is_some() {
            return Err(Error::meteor("error-invalid-room", "Invalid room"));
        }
        if user.has_role(&role.id) {
            return Err(Error::meteor(
                "error-user-already-in-role",
                "User already in role",
            ));
        }
        let mut user = user.clone();
        user.roles.push(role.id.clone());
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, user = %user.id, role = %role.id, "role granted");
        self.ctx
            .audit_by(
                session,
                "user.role.add",
                AuditTarget::user(&user),
                None,
                Some(json!({"role": role.id})),
            )
            .await?;
        self.ctx.publish(comet_events::Event::RoleChanged {
            added: true,
            role: role.id.clone(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            room_id: None,
        });
        Ok(role)
    }

    /// `roles.removeUserFromRole`.
    pub async fn remove_user_from_role(
        &self,
        session: &Session,
        role: &RoleRef,
        username: &str,
    ) -> Result<Role> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let Some(mut user) = self
            .ctx
            .store
            .user_by_username(username)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor(
                "error-invalid-user",
                "There is no user with this username",
            ));
        };
        let Some(role) = self.find_role(role).await? else {
            return Err(Error::meteor(
                "error-invalid-roleId",
                "This role does not exist",
            ));
        };
        if !user.has_role(&role.id) {
            return Err(Error::meteor(
                "error-user-not-in-role",
                "User is not in this role",
            ));
        }
        if role.id == "admin"
            && self
                .ctx
                .store
                .count_active_users_with_role("admin")
                .await
                .map_err(store_error)?
                <= 1
            && user.active
        {
            return Err(Error::meteor(
                "error-admin-required",
                "You need to have at least one admin",
            ));
        }
        user.roles.retain(|r| r != &role.id);
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, user = %user.id, role = %role.id, "role revoked");
        self.ctx
            .audit_by(
                session,
                "user.role.remove",
                AuditTarget::user(&user),
                Some(json!({"role": role.id})),
                None,
            )
            .await?;
        self.ctx.publish(comet_events::Event::RoleChanged {
            added: false,
            role: role.id.clone(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            room_id: None,
        });
        Ok(role)
    }

    /// `roles.getUsersInRole`.
    pub async fn users_in_role(
        &self,
        session: &Session,
        role: &str,
        room_id: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<User>, u64)> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        if role.is_empty() {
            return Err(Error::meteor(
                "error-param-not-provided",
                "Query param \"role\" is required",
            ));
        }
        if room_id.is_some()
            && !self
                .ctx
                .has_permission(&session.user, "view-other-user-channels")
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed"));
        }
        let Some(found) = self
            .find_role(&RoleRef::Id(role.to_owned()))
            .await?
            .or(self.find_role(&RoleRef::Name(role.to_owned())).await?)
        else {
            return Err(Error::meteor("error-invalid-roleId", ""));
        };
        if room_id.is_some() {
            return Err(Error::meteor("error-invalid-room", "Invalid room"));
        }
        let filter = UserFilter {
            role: Some(found.id),
            ..UserFilter::default()
        };
        let page = Page {
            offset,
            count,
            sort: vec![(UserSortKey::Username, Direction::Ascending)],
        };
        self.ctx
            .store
            .list_users(&filter, &page)
            .await
            .map_err(store_error)
    }
}

/// A role's fields as an audit entry shows them.
fn role_fields(role: &Role) -> serde_json::Value {
    json!({
        "name": role.name,
        "scope": role.scope,
        "description": role.description,
        "mandatory2fa": role.mandatory_2fa,
    })
}
