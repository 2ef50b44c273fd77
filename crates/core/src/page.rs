//! Pagination and sorting as the REST API exposes them (`count`, `offset`, `sort`).

/// Sort direction of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// Fields users can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortKey {
    Username,
    Name,
    CreatedAt,
    UpdatedAt,
    Status,
    Active,
    LastLogin,
    Type,
    Email,
}

impl UserSortKey {
    /// Maps Rocket.Chat's field name (as used in `sort={"username":1}`) to a key.
    pub fn parse(field: &str) -> Option<Self> {
        Some(match field {
            "username" => UserSortKey::Username,
            "name" => UserSortKey::Name,
            "createdAt" => UserSortKey::CreatedAt,
            "_updatedAt" => UserSortKey::UpdatedAt,
            "status" => UserSortKey::Status,
            "active" => UserSortKey::Active,
            "lastLogin" => UserSortKey::LastLogin,
            "type" => UserSortKey::Type,
            "emails" | "emails.address" => UserSortKey::Email,
            _ => return None,
        })
    }
}

/// One page of a listing: skip `offset`, take `count` (`None` = all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<K> {
    pub offset: u64,
    pub count: Option<u64>,
    pub sort: Vec<(K, Direction)>,
}

impl<K> Page<K> {
    pub fn all() -> Self {
        Page {
            offset: 0,
            count: None,
            sort: Vec::new(),
        }
    }
}
