//! SQL text with its parameters, independent of the driver that will run it.

use serde_json::Value;

/// One bound value. Every variant carries its SQL type even when NULL, because PostgreSQL
/// types each parameter: an untyped NULL sent as text would not fit a BIGINT column.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
    /// A list of strings: `TEXT[]` in PostgreSQL, a JSON array in SQLite.
    TextList(Vec<String>),
    /// A document: `JSONB` in PostgreSQL, JSON text in SQLite.
    Json(Option<Value>),
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl From<f64> for Param {
    fn from(value: f64) -> Self {
        Param::Float(Some(value))
    }
}

impl From<bool> for Param {
    fn from(value: bool) -> Self {
        Param::Bool(Some(value))
    }
}

impl From<Option<bool>> for Param {
    fn from(value: Option<bool>) -> Self {
        Param::Bool(value)
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param::Text(Some(value))
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(Some(value.to_owned()))
    }
}

impl From<&String> for Param {
    fn from(value: &String) -> Self {
        Param::Text(Some(value.clone()))
    }
}

impl From<Option<String>> for Param {
    fn from(value: Option<String>) -> Self {
        Param::Text(value)
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Param::Text(value.map(str::to_owned))
    }
}

impl From<&Option<String>> for Param {
    fn from(value: &Option<String>) -> Self {
        Param::Text(value.clone())
    }
}

impl From<&[String]> for Param {
    fn from(value: &[String]) -> Self {
        Param::TextList(value.to_vec())
    }
}

impl From<&Vec<String>> for Param {
    fn from(value: &Vec<String>) -> Self {
        Param::TextList(value.clone())
    }
}

impl From<Vec<String>> for Param {
    fn from(value: Vec<String>) -> Self {
        Param::TextList(value)
    }
}

impl From<&Value> for Param {
    fn from(value: &Value) -> Self {
        Param::Json(Some(value.clone()))
    }
}

impl From<Value> for Param {
    fn from(value: Value) -> Self {
        Param::Json(Some(value))
    }
}

/// A statement: SQL with `$1`, `$2`… placeholders (both drivers read them) and the values
/// they stand for, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    sql: String,
    params: Vec<Param>,
}

impl Query {
    /// A statement whose placeholders are already written; [`Query::bind`] supplies them.
    pub fn new(sql: impl Into<String>) -> Self {
        Query {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Supplies the next numbered parameter of SQL written with its placeholders.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a value's placeholder and binds the value.
    pub fn push_bind(&mut self, value: impl Into<Param>) -> &mut Self {
        let placeholder = self.param(value);
        self.sql.push_str(&placeholder);
        self
    }

    /// Binds a value and returns its placeholder, for SQL fragments built around it.
    pub fn param(&mut self, value: impl Into<Param>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The SQL text and the values, for the driver.
    pub fn into_parts(self) -> (String, Vec<Param>) {
        (self.sql, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_values_are_numbered_after_written_ones() {
        let mut q = Query::new("SELECT 1 WHERE a = $1").bind("x");
        q.push(" AND b = ").push_bind(2_i64);
        let c = q.param(true);
        q.push(&format!(" AND c = {c}"));
        assert_eq!(q.sql(), "SELECT 1 WHERE a = $1 AND b = $2 AND c = $3");
        assert_eq!(
            q.params(),
            [
                Param::Text(Some("x".into())),
                Param::Int(Some(2)),
                Param::Bool(Some(true))
            ]
        );
    }
}
