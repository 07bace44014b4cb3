//! Authentication-Results header model, builder and parser, RFC 8601.
//!
//! Build the header value the milter adds, with one method result per folded line:
//!
//! ```
//! use authres::{AuthenticationResults, FormatOptions, MethodResult};
//! let ar = AuthenticationResults::new("mx.example.com")
//!     .with(MethodResult::new("spf", "pass").with_property("smtp", "mailfrom", "user@example.net"))
//!     .with(MethodResult::new("dkim", "fail").with_reason("body hash did not verify")
//!         .with_property("header", "d", "example.net"));
//! let value = ar.format(&FormatOptions::milter());
//! assert_eq!(value, "mx.example.com;\n\tspf=pass smtp.mailfrom=user@example.net;\n\t\
//!     dkim=fail reason=\"body hash did not verify\" header.d=example.net");
//! assert_eq!(authres::parse(value.as_bytes()).unwrap(), ar);
//! ```
//!
//! Find incoming fields that claim our authserv-id (RFC 8601 §5), without a full parse:
//!
//! ```
//! assert!(authres::claims_authserv_id(b" MX.Example.COM; spf=pass", "mx.example.com"));
//! assert!(!authres::claims_authserv_id(b" example.net (mx.example.com); none", "mx.example.com"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod claims;
mod error;
mod format;
#[doc(hidden)]
pub mod fuzzing;
mod parse;

use std::borrow::Cow;
use std::fmt;

pub use claims::claims_authserv_id;
pub use error::AuthResError;
pub use format::FormatOptions;
pub use parse::{authserv_id, parse, parse_arc, parse_lenient};

/// One Authentication-Results field (RFC 8601 §2.2 `authres-payload`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthenticationResults {
    /// The authentication service identifier (RFC 8601 §2.5). Empty only from
    /// [`parse_lenient`] on a field that has none.
    pub authserv_id: String,
    /// `authres-version` after the authserv-id (RFC 8601 §2.6); absent means 1.
    pub version: Option<u32>,
    /// The method results; empty is the `none` form (RFC 8601 §2.2 `no-result`).
    pub results: Vec<MethodResult>,
    /// A comment after `none` when there are no results (RFC 8601 §2.2: CFWS may follow),
    /// e.g. why nothing was checked.
    pub none_comment: Option<String>,
}

/// One `resinfo`: a method, its result, an optional reason and properties
/// (RFC 8601 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MethodResult {
    /// The method, lowercase (`spf`, `dkim`, `dmarc`, `iprev`, `arc`, `auth`, ...; RFC 8601 §2.7).
    pub method: String,
    /// The method version (`dkim/1`), RFC 8601 §2.6.
    pub method_version: Option<u32>,
    /// The result keyword, lowercase (`pass`, `fail`, `temperror`, ...; RFC 8601 §2.7).
    pub result: String,
    /// A comment right after the result, e.g. `(2048-bit key)` (RFC 8601 §2.7.6).
    pub result_comment: Option<String>,
    /// The `reason=` value (RFC 8601 §2.2 `reasonspec`).
    pub reason: Option<String>,
    /// The properties, in order (RFC 8601 §2.3).
    pub properties: Vec<Property>,
}

/// One `ptype.property=pvalue` (RFC 8601 §2.2 `propspec`, §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Property {
    /// The property type, lowercase: `smtp`, `header`, `body`, `policy` (RFC 8601 §2.3).
    /// Empty only from [`parse_lenient`] for vendor `name=value` items.
    pub ptype: Cow<'static, str>,
    /// The property, lowercase (`mailfrom`, `d`, `from`, `iprev`, ...).
    pub name: Cow<'static, str>,
    /// The value (unquoted).
    pub value: String,
    /// A comment right after the value, e.g. `policy.iprev=192.0.2.1 (mail.example.com)`.
    pub comment: Option<String>,
}

impl AuthenticationResults {
    /// An empty field for `authserv_id` (formats as `<id>; none` until results are added).
    pub fn new(authserv_id: impl Into<String>) -> Self {
        AuthenticationResults {
            authserv_id: authserv_id.into(),
            version: None,
            results: Vec::new(),
            none_comment: None,
        }
    }

    /// Sets the comment written after `none` when the field has no results.
    pub fn set_comment(&mut self, comment: impl Into<String>) {
        self.none_comment = Some(comment.into());
    }

    /// Adds a method result (builder style).
    pub fn with(mut self, result: MethodResult) -> Self {
        self.results.push(result);
        self
    }

    /// Adds a method result.
    pub fn push(&mut self, result: MethodResult) {
        self.results.push(result);
    }

    /// The header field value (without the `Authentication-Results:` name), folded per
    /// `options` (RFC 8601 §2.2; RFC 5322 §2.2.3 folding).
    pub fn format(&self, options: &FormatOptions) -> String {
        format::format(self, options)
    }

    /// The results of `method` (case-insensitive).
    pub fn by_method<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a MethodResult> + 'a {
        self.results
            .iter()
            .filter(move |r| r.method.eq_ignore_ascii_case(method))
    }
}

impl fmt::Display for AuthenticationResults {
    /// The value on one line (no folding).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format::format(self, &FormatOptions::single_line()))
    }
}

impl MethodResult {
    /// A result for `method` (e.g. `"dmarc"`) with `result` rendered by `Display`
    /// (the checks' result enums display their lowercase RFC names). Both are lowercased.
    pub fn new(method: impl Into<String>, result: impl fmt::Display) -> Self {
        // lowercased in place: one allocation each, not two
        let mut method = method.into();
        method.make_ascii_lowercase();
        let mut result = result.to_string();
        result.make_ascii_lowercase();
        MethodResult {
            method,
            method_version: None,
            result,
            result_comment: None,
            reason: None,
            properties: Vec::new(),
        }
    }

    /// Sets the method version (`method/N`).
    pub fn with_version(mut self, version: u32) -> Self {
        self.method_version = Some(version);
        self
    }

    /// Sets the comment after the result.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.result_comment = Some(comment.into());
        self
    }

    /// Sets `reason=`.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds `ptype.name=value`.
    pub fn with_property(
        mut self,
        ptype: impl Into<Cow<'static, str>>,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        self.properties.push(Property::new(ptype, name, value));
        self
    }

    /// Adds a prepared property (e.g. one with a comment).
    pub fn with(mut self, property: Property) -> Self {
        self.properties.push(property);
        self
    }

    /// The value of the first property `ptype.name` (case-insensitive).
    pub fn property(&self, ptype: &str, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| p.ptype.eq_ignore_ascii_case(ptype) && p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }
}

impl Property {
    /// `ptype.name=value`; ptype and name are lowercased (a `&'static str` that already is
    /// lowercase is kept without a copy).
    pub fn new(
        ptype: impl Into<Cow<'static, str>>,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        Property {
            ptype: lowercase(ptype.into()),
            name: lowercase(name.into()),
            value: value.into(),
            comment: None,
        }
    }

    /// Sets the comment after the value.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// `s` in ASCII lowercase (RFC 8601 §2.2: ptype and property are case-insensitive).
fn lowercase(s: Cow<'static, str>) -> Cow<'static, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        s
    }
}
