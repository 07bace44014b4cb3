//! gzip (RFC 1952) and zip decompression with hard output limits: reading stops one byte past
//! the limit, so a bomb costs at most the limit in memory and the time to inflate it.

use std::io::{Cursor, Read};

use flate2::read::MultiGzDecoder;

use crate::error::ReportsError;
use crate::limits::Limits;

/// Whether `data` starts like a gzip stream (RFC 1952 §2.3.1 ID1 ID2).
pub(crate) fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// Whether `data` starts like a zip archive (local file header or empty archive).
pub(crate) fn is_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

/// Reads at most `limit` bytes from `reader`; more is an error.
fn read_limited<R: Read>(
    reader: R,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if out.len() > limit {
        return Err(ReadError::Limit(ReportsError::TooLarge {
            what,
            limit: limit as u64,
        }));
    }
    Ok(out)
}

enum ReadError {
    Io(String),
    Limit(ReportsError),
}

/// Decompresses a gzip stream (all members, RFC 1952 §2.2) into at most `limit` bytes.
pub(crate) fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, ReportsError> {
    read_limited(MultiGzDecoder::new(data), limit, "decompressed report").map_err(|e| match e {
        ReadError::Io(m) => ReportsError::Gzip(m),
        ReadError::Limit(e) => e,
    })
}

/// One file of an archive: its name and its content or why it could not be read.
pub(crate) type ZipFile = (String, Result<Vec<u8>, ReportsError>);

/// The files of a zip archive, each decompressed into at most `limits.max_xml_bytes`
/// (stored and deflate only). Directories and macOS resource forks are skipped. The archive
/// is refused as a whole when it has more than `limits.max_zip_entries` entries.
pub(crate) fn unzip(data: &[u8], limits: &Limits) -> Result<Vec<ZipFile>, ReportsError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(data)).map_err(|e| ReportsError::Zip(e.to_string()))?;
    if archive.len() > limits.max_zip_entries {
        return Err(ReportsError::TooMany {
            what: "zip entries",
            limit: limits.max_zip_entries,
        });
    }
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.push((format!("entry {i}"), Err(ReportsError::Zip(e.to_string()))));
                continue;
            }
        };
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("entry {i}"));
        if entry.is_dir() || name.starts_with("__MACOSX/") {
            continue;
        }
        let limit = limits.max_xml_bytes;
        let result = if entry.size() > limit as u64 {
            Err(ReportsError::TooLarge {
                what: "zip entry",
                limit: limit as u64,
            })
        } else {
            read_limited(entry, limit, "zip entry").map_err(|e| match e {
                ReadError::Io(m) => ReportsError::Zip(m),
                ReadError::Limit(e) => e,
            })
        };
        out.push((name, result));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_round_trip_and_limit() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[b'x'; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(is_gzip(&gz));
        assert_eq!(gunzip(&gz, 1000).unwrap().len(), 1000);
        assert!(matches!(
            gunzip(&gz, 999),
            Err(ReportsError::TooLarge { .. })
        ));
        assert!(matches!(
            gunzip(&gz[..gz.len() / 2], 1000),
            Err(ReportsError::Gzip(_))
        ));
    }
}
