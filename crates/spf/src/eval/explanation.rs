//! The explanation string of a `fail` (RFC 7208 §6.2): `exp=` fetched and expanded, or the
//! configured default.

use super::Session;
use crate::macros::{MacroKind, MacroString};

impl Session<'_> {
    /// The explanation for `fail` (RFC 7208 §6.2): the `exp=` text when it can be fetched and
    /// expanded, else the configured default. Lookups here count toward no limit.
    pub(super) async fn explain(
        &mut self,
        exp: Option<&MacroString>,
        domain: &str,
    ) -> Option<String> {
        if let Some(spec) = exp
            && let Some(text) = self.fetch_explanation(spec, domain).await
        {
            return Some(text);
        }
        let default = self.config.default_explanation.clone()?;
        match MacroString::parse(default.as_bytes(), MacroKind::Explanation) {
            Ok(m) => self.expand_explanation(&m, domain).await.or(Some(default)),
            Err(_) => Some(default),
        }
    }

    /// The `exp=` domain's single TXT record, expanded (§6.2: anything else means no text).
    async fn fetch_explanation(&mut self, spec: &MacroString, domain: &str) -> Option<String> {
        let target = self.target(spec, domain, false).await.ok()??;
        let txts = self.resolver.txt(&target).await.ok()?;
        let [text] = txts.as_slice() else {
            return None;
        };
        let parsed = MacroString::parse(text, MacroKind::Explanation).ok()?;
        self.expand_explanation(&parsed, domain).await
    }

    /// The text with its macros expanded, ASCII only and bounded in length (§6.2, §7).
    async fn expand_explanation(&mut self, text: &MacroString, domain: &str) -> Option<String> {
        let validated = if text.uses_validated_name() {
            self.validated_name(domain, false).await.ok()
        } else {
            None
        };
        let ctx = self.context(domain, validated.as_deref());
        let mut bytes = text.expand(&ctx).ok()?;
        if !bytes.is_ascii() {
            return None;
        }
        bytes.truncate(self.config.max_explanation_len);
        String::from_utf8(bytes).ok()
    }
}
