//! A bounded pull reader over quick-xml events for the report parser: namespace prefixes
//! dropped, depth and text length limited, `DOCTYPE` refused, only the predefined entities and
//! character references resolved (RFC 9990 §8.1 "XML bomb").

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::ReportsError;
use crate::limits::Limits;

/// An element just opened.
pub(crate) struct Child {
    /// Local name (namespace prefix removed).
    pub name: String,
    /// `<name/>`: no content, no end tag.
    pub empty: bool,
}

/// The reader and its position in the element tree.
pub(crate) struct Cursor<'a, 'l> {
    reader: Reader<&'a [u8]>,
    depth: usize,
    pub limits: &'l Limits,
}

impl<'a, 'l> Cursor<'a, 'l> {
    /// A reader over `text` within `limits`.
    pub(crate) fn new(text: &'a str, limits: &'l Limits) -> Self {
        Cursor {
            reader: Reader::from_str(text),
            depth: 0,
            limits,
        }
    }

    fn xml_error(&self, e: quick_xml::Error) -> ReportsError {
        ReportsError::Xml {
            offset: self.reader.error_position(),
            message: e.to_string(),
        }
    }

    fn event(&mut self) -> Result<Event<'a>, ReportsError> {
        match self.reader.read_event() {
            Ok(Event::DocType(_)) => Err(ReportsError::DtdRefused),
            Ok(e) => Ok(e),
            Err(e) => Err(self.xml_error(e)),
        }
    }

    /// The attributes of an element are well-formed: no undeclared entity in a value (XML 1.0
    /// §4.1 "Entity Declared"), no attribute twice (§3.1). Their values are not read.
    fn check_attributes(&self, start: &BytesStart<'_>) -> Result<(), ReportsError> {
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| ReportsError::Xml {
                offset: self.reader.buffer_position(),
                message: format!("bad attribute: {e}"),
            })?;
            attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| {
                    // the first reference in the value, as the error names it elsewhere
                    let value: &str = &attribute.value;
                    let reference = value
                        .find('&')
                        .and_then(|at| value.get(at..))
                        .map(|rest| {
                            rest.find(';')
                                .and_then(|end| rest.get(..=end))
                                .unwrap_or(rest)
                        })
                        .unwrap_or(value);
                    ReportsError::UnknownEntity(reference.chars().take(64).collect())
                })?;
        }
        Ok(())
    }

    fn opened(&mut self, name: &str, empty: bool) -> Result<Child, ReportsError> {
        let local = match name.rsplit_once(':') {
            Some((_, local)) => local,
            None => name,
        };
        if !empty {
            self.depth += 1;
            if self.depth > self.limits.max_xml_depth {
                return Err(ReportsError::TooDeep {
                    limit: self.limits.max_xml_depth,
                });
            }
        }
        Ok(Child {
            name: local.to_string(),
            empty,
        })
    }

    /// The root element; only the XML declaration, comments, processing instructions and
    /// whitespace may come before it (white space before the declaration, which XML 1.0 §2.8
    /// does not allow, is tolerated: it changes nothing read).
    pub(crate) fn root(&mut self) -> Result<Child, ReportsError> {
        loop {
            match self.event()? {
                Event::Start(s) => {
                    self.check_attributes(&s)?;
                    return self.opened(s.name().as_ref(), false);
                }
                Event::Empty(s) => {
                    self.check_attributes(&s)?;
                    return self.opened(s.name().as_ref(), true);
                }
                Event::Text(t) if t.xml10_content().trim().is_empty() => {}
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => return Err(ReportsError::NotAReport("empty document".into())),
                _ => {
                    return Err(ReportsError::NotAReport(
                        "text before the root element".into(),
                    ));
                }
            }
        }
    }

    /// After the root element: nothing but whitespace, comments and PIs.
    pub(crate) fn finish(&mut self) -> Result<(), ReportsError> {
        loop {
            match self.event()? {
                Event::Eof => return Ok(()),
                Event::Text(t) if t.xml10_content().trim().is_empty() => {}
                Event::Comment(_) | Event::PI(_) => {}
                _ => {
                    return Err(ReportsError::Xml {
                        offset: self.reader.buffer_position(),
                        message: "content after the root element".into(),
                    });
                }
            }
        }
    }

    /// The next child element of the open element `parent`, or `None` at its end tag.
    /// Text between children is ignored.
    pub(crate) fn next_child(&mut self, parent: &Child) -> Result<Option<Child>, ReportsError> {
        self.next_child_or_text(parent, &mut None)
    }

    /// [`Self::next_child`], adding the text between children to `text` when it is `Some`
    /// (a reporter that writes an element's value as text where the schema has children:
    /// rspamd's `<reason>sampled_out</reason>`), within the limit of one element's text.
    pub(crate) fn next_child_or_text(
        &mut self,
        parent: &Child,
        text: &mut Option<String>,
    ) -> Result<Option<Child>, ReportsError> {
        if parent.empty {
            return Ok(None);
        }
        loop {
            let event = self.event()?;
            if let (Some(out), Event::Text(t)) = (text.as_mut(), &event) {
                // layout whitespace between children is not text, and costs nothing
                out.push_str(t.xml10_content().trim());
                if out.len() > self.limits.max_field_len {
                    return Err(ReportsError::FieldTooLong {
                        element: parent.name.clone(),
                        limit: self.limits.max_field_len,
                    });
                }
            }
            match event {
                Event::Start(s) => {
                    self.check_attributes(&s)?;
                    return self.opened(s.name().as_ref(), false).map(Some);
                }
                Event::Empty(s) => {
                    self.check_attributes(&s)?;
                    return self.opened(s.name().as_ref(), true).map(Some);
                }
                // an undeclared entity is not well-formed wherever it stands (XML 1.0 §4.1)
                Event::GeneralRef(r) => {
                    let c = resolve_reference(&r)?;
                    if let Some(out) = text.as_mut() {
                        out.push(c);
                        if out.len() > self.limits.max_field_len {
                            return Err(ReportsError::FieldTooLong {
                                element: parent.name.clone(),
                                limit: self.limits.max_field_len,
                            });
                        }
                    }
                }
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(None);
                }
                Event::Eof => return Err(self.unexpected_eof(&parent.name)),
                _ => {}
            }
        }
    }

    fn unexpected_eof(&self, inside: &str) -> ReportsError {
        ReportsError::Xml {
            offset: self.reader.buffer_position(),
            message: format!("document ends inside <{inside}>"),
        }
    }

    /// The text content of a leaf element, entities resolved, trimmed.
    pub(crate) fn text(&mut self, el: &Child) -> Result<String, ReportsError> {
        let mut out = String::new();
        if el.empty {
            return Ok(out);
        }
        loop {
            match self.event()? {
                Event::Text(t) => out.push_str(&t.xml10_content()),
                Event::CData(t) => out.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => out.push(resolve_reference(&r)?),
                Event::Comment(_) | Event::PI(_) => {}
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    if let Some(bad) = out.chars().find(|&c| !is_xml_char(c)) {
                        return Err(ReportsError::Xml {
                            offset: self.reader.buffer_position(),
                            message: format!(
                                "<{}> holds U+{:04X}, which XML 1.0 does not allow (§2.2)",
                                el.name, bad as u32
                            ),
                        });
                    }
                    return Ok(out.trim().to_string());
                }
                Event::Start(s) | Event::Empty(s) => {
                    return Err(ReportsError::UnexpectedElement {
                        element: s.local_name().as_ref().to_string(),
                        parent: el.name.clone(),
                    });
                }
                Event::Eof => return Err(self.unexpected_eof(&el.name)),
                Event::Decl(_) | Event::DocType(_) => {
                    return Err(ReportsError::Xml {
                        offset: self.reader.buffer_position(),
                        message: format!("declaration inside <{}>", el.name),
                    });
                }
            }
            if out.len() > self.limits.max_field_len {
                return Err(ReportsError::FieldTooLong {
                    element: el.name.clone(),
                    limit: self.limits.max_field_len,
                });
            }
        }
    }

    /// Skips an element and everything in it (extensions, unknown elements).
    pub(crate) fn skip(&mut self, el: &Child) -> Result<(), ReportsError> {
        if el.empty {
            return Ok(());
        }
        let base = self.depth;
        loop {
            match self.event()? {
                Event::Start(s) => {
                    self.check_attributes(&s)?;
                    self.opened(s.name().as_ref(), false)?;
                }
                Event::Empty(s) => self.check_attributes(&s)?,
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth < base {
                        return Ok(());
                    }
                }
                Event::GeneralRef(r) => {
                    resolve_reference(&r)?;
                }
                Event::Eof => return Err(self.unexpected_eof(&el.name)),
                _ => {}
            }
        }
    }
}

/// XML 1.0 §2.2 Char: tab, LF, CR and U+0020 on, without the surrogates, U+FFFE and U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `&name;` or `&#N;`: the five predefined entities and character references only.
fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, ReportsError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(ReportsError::UnknownEntity(format!("&{};", &**r))),
        };
    }
    match &**r {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(ReportsError::UnknownEntity(format!(
            "&{};",
            other.chars().take(64).collect::<String>()
        ))),
    }
}
