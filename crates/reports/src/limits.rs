//! Hard limits for reading reports others send (RFC 9990 §8.1 "Report Contents as an Attack":
//! zip bombs, XML bombs). Every limit applies before the work it bounds.

use serde::{Deserialize, Serialize};

/// Bounds on the work and memory spent on one input to [`crate::extract_reports`] or
/// [`crate::parse_report_with`]. The defaults fit the largest real reports seen from big
/// receivers (tens of MB of XML) with room to spare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The raw input (message, mbox, archive or XML file), bytes.
    pub max_input_bytes: usize,
    /// One decompressed XML document, bytes.
    pub max_xml_bytes: usize,
    /// All decompressed data of one input together, bytes.
    pub max_total_xml_bytes: usize,
    /// Reports (attachments, zip entries, mbox messages) in one input.
    pub max_reports: usize,
    /// Entries in one zip archive.
    pub max_zip_entries: usize,
    /// Members (RFC 1952 §2.2) of all the gzip streams in one input together: each costs a
    /// fresh decompressor whatever it holds.
    pub max_gzip_members: usize,
    /// MIME parts in one message.
    pub max_mime_parts: usize,
    /// Nesting of multiparts and attached messages.
    pub max_mime_depth: usize,
    /// Messages in one mbox.
    pub max_mbox_messages: usize,
    /// `record` elements in one report.
    pub max_records: usize,
    /// XML element nesting.
    pub max_xml_depth: usize,
    /// The text of one XML element, bytes.
    pub max_field_len: usize,
    /// `dkim` + `spf` results in one record, `reason`s in one row, `error`s in one report.
    pub max_list_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 32 << 20,
            max_xml_bytes: 64 << 20,
            max_total_xml_bytes: 256 << 20,
            max_reports: 1000,
            max_zip_entries: 16,
            max_gzip_members: 2000,
            max_mime_parts: 256,
            max_mime_depth: 8,
            max_mbox_messages: 10_000,
            max_records: 200_000,
            max_xml_depth: 16,
            max_field_len: 4096,
            max_list_len: 1000,
        }
    }
}
