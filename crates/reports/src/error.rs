//! The crate's error type.

/// Errors from building, writing, parsing and extracting DMARC reports. Each names the problem
/// so that a refused report can be explained to its sender (RFC 9990 §3.1.1, §8.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportsError {
    /// An aggregate report needs at least one record (RFC 9990 §3.1.1.2).
    #[error("no observations for the report")]
    NoRecords,
    /// Writing XML or a message failed (cannot happen when writing to memory).
    #[error("cannot write the report: {0}")]
    Write(String),
    /// A value given to a report builder cannot be used (an address, a domain).
    #[error("invalid {what}: {value:?}")]
    InvalidInput {
        /// What the value is.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The XML is not well-formed.
    #[error("malformed XML at byte {offset}: {message}")]
    Xml {
        /// Byte offset of the problem in the document.
        offset: u64,
        /// What quick-xml or the parser found.
        message: String,
    },
    /// The document declares an encoding other than UTF-8, UTF-16 and windows-1252 (ISO-8859-1)
    /// and is not UTF-8 (XML 1.0 §4.3.3).
    #[error(
        "the document is in the encoding {0:?}, which is not read (UTF-8, UTF-16 and ISO-8859-1/windows-1252 are)"
    )]
    UnsupportedEncoding(String),
    /// A document with a UTF-16 byte order mark is not UTF-16 (XML 1.0 Appendix F).
    #[error("the document has a UTF-16 byte order mark but is not UTF-16")]
    BadUtf16,
    /// The document is not UTF-8 and declares no other encoding read here.
    #[error("the document is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: u64,
    },
    /// The document has a `DOCTYPE`; DTDs are refused, so no entity can expand.
    #[error("a DOCTYPE/DTD is not allowed in a report (entity expansion refused)")]
    DtdRefused,
    /// A reference to an entity other than the five predefined ones, or a bad character
    /// reference.
    #[error("unknown or invalid entity reference {0}")]
    UnknownEntity(String),
    /// The document is not a DMARC aggregate report.
    #[error("not a DMARC aggregate report: {0}")]
    NotAReport(String),
    /// A required element is missing.
    #[error("missing <{element}> in <{parent}>")]
    MissingElement {
        /// The missing element.
        element: String,
        /// Where it should be.
        parent: String,
    },
    /// An element that may appear once appears again.
    #[error("duplicate <{element}> in <{parent}>")]
    DuplicateElement {
        /// The repeated element.
        element: String,
        /// Where.
        parent: String,
    },
    /// An element holds a value outside its type.
    #[error("invalid value {value:?} in <{element}>")]
    InvalidValue {
        /// The element.
        element: String,
        /// The value (first 64 characters).
        value: String,
    },
    /// An element appears where only text is allowed.
    #[error("unexpected element <{element}> inside <{parent}>")]
    UnexpectedElement {
        /// The element found.
        element: String,
        /// The text-only element it is in.
        parent: String,
    },
    /// Elements nest deeper than the limit.
    #[error("XML nested deeper than {limit} elements")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// An element's text is longer than the limit.
    #[error("<{element}> longer than {limit} bytes")]
    FieldTooLong {
        /// The element.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// More items of some kind than the limit (records, results, parts, entries...).
    #[error("more than {limit} {what}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Data larger than the limit (input, decompressed XML, all XML of one input).
    #[error("{what} larger than {limit} bytes")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// A gzip stream is broken.
    #[error("bad gzip data: {0}")]
    Gzip(String),
    /// A zip archive is broken or uses an unsupported feature (only stored and deflate).
    #[error("bad zip archive: {0}")]
    Zip(String),
    /// A MIME message is broken (bad base64, no boundary...).
    #[error("bad MIME message: {0}")]
    Mime(String),
    /// The input is none of XML, gzip, zip, an RFC 5322 message or an mbox.
    #[error("unrecognised input: {0}")]
    UnknownFormat(String),
}
