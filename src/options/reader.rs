//! The one field reader behind every options object (`new ChatAuth`'s
//! options, `refresh.*`, `validation.*`, `verifyToken`'s options): each
//! member is read by one function, and a wrong type or unusable value is
//! `invalid_config` naming the option's path (`validation.issuer`,
//! `refresh.maxRetries`, `audience`).

use crate::error::{Error, Result};
use crate::wire::json::{Object, Value};

/// An options object being read: its members, the path prefix of their
/// names (`""`, `"refresh."`, `"validation."`), and whether `null` means
/// "not set" (the page's options) or is refused (`verifyToken`'s, where only
/// `customerIdClaim` takes `null`).
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    object: &'a Object,
    prefix: &'static str,
    null_is_unset: bool,
}

impl<'a> Fields<'a> {
    /// The members of `object`, named `prefix` + name.
    pub(crate) fn new(object: &'a Object, prefix: &'static str, null_is_unset: bool) -> Self {
        Fields {
            object,
            prefix,
            null_is_unset,
        }
    }

    /// The option's full path, for an error message.
    pub(crate) fn path(&self, name: &str) -> String {
        let mut path = String::from(self.prefix);
        path.push_str(name);
        path
    }

    /// `invalid_config` naming the option.
    pub(crate) fn fail(&self, name: &str, problem: &'static str) -> Error {
        Error::invalid_config(&self.path(name), problem)
    }

    /// Refuses a member not in `allowed` (`is not a known option`).
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.object.iter().find(|(k, _)| !allowed.contains(k)) {
            Some((name, _)) => Err(self.fail(name, "is not a known option")),
            None => Ok(()),
        }
    }

    /// The member as written, `null` included.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name)
    }

    /// The member, or `None` when it is absent (or `null`, where `null`
    /// means "not set").
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.raw(name)
            .filter(|v| !(self.null_is_unset && matches!(v, Value::Null)))
    }

    /// A non-empty string.
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>> {
        self.get(name)
            .map(|v| self.string_value(name, v))
            .transpose()
    }

    fn string_value(&self, name: &str, v: &Value) -> Result<String> {
        match v {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            Value::String(_) => Err(self.fail(name, "must not be empty")),
            _ => Err(self.fail(name, "must be a non-empty string")),
        }
    }

    /// A string, or a non-empty array of strings, none empty.
    pub(crate) fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        self.get(name)
            .map(|v| match v {
                Value::Array(items) if items.is_empty() => {
                    Err(self.fail(name, "must not be empty"))
                }
                Value::Array(items) => items.iter().map(|i| self.string_value(name, i)).collect(),
                other => Ok(vec![self.string_value(name, other)?]),
            })
            .transpose()
    }

    /// An `http(s)` URL.
    pub(crate) fn url(&self, name: &str) -> Result<Option<String>> {
        let Some(s) = self.string(name)? else {
            return Ok(None);
        };
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            Ok(Some(s))
        } else {
            Err(self.fail(name, "must be an http(s) URL"))
        }
    }

    /// A number within `[min, max]`.
    pub(crate) fn number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) if *n >= min && *n <= max => Ok(Some(*n)),
            Some(_) => Err(self.fail(name, "must be a number in range")),
        }
    }

    /// A boolean.
    pub(crate) fn boolean(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.fail(name, "must be a boolean")),
        }
    }

    /// An object, read with `prefix` for its members' paths.
    pub(crate) fn object(&self, name: &str, prefix: &'static str) -> Result<Option<Fields<'a>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Fields::new(o, prefix, self.null_is_unset))),
            Some(_) => Err(self.fail(name, "must be an object")),
        }
    }
}
