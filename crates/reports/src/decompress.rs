//! gzip (RFC 1952) and zip decompression with hard output limits: reading stops one byte past
//! the limit, so a bomb costs at most the limit in memory and the time to inflate it.

use std::io::{Cursor, Read};

use flate2::bufread::GzDecoder;

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
    if let Err(e) = reader.take(cap).read_to_end(&mut out) {
        return Err(ReadError::Io(e.to_string(), out.len()));
    }
    if out.len() > limit {
        return Err(ReadError::Limit(
            ReportsError::TooLarge {
                what,
                limit: limit as u64,
            },
            out.len(),
        ));
    }
    Ok(out)
}

/// Why a read stopped, and the bytes it had produced by then.
enum ReadError {
    Io(String, usize),
    Limit(ReportsError, usize),
}

/// What one decompression made: the document or why not, and the bytes produced and gzip
/// members started either way (a stream that fails its checksum at the end still cost them;
/// RFC 9990 §8.1 budgets count them).
#[derive(Debug)]
pub(crate) struct Inflated {
    /// Bytes decompressed, kept or not.
    pub produced: usize,
    /// gzip members started (RFC 1952 §2.2); 0 for a zip entry.
    pub members: usize,
    /// The document, or why it could not be read.
    pub result: Result<Vec<u8>, ReportsError>,
}

/// What the bound on the gzip members of one input is called in errors.
pub(crate) const MEMBERS: &str = "gzip members in one input";

impl Inflated {
    fn of(read: Result<Vec<u8>, ReadError>, io: fn(String) -> ReportsError) -> Inflated {
        match read {
            Ok(data) => Inflated {
                produced: data.len(),
                members: 0,
                result: Ok(data),
            },
            Err(ReadError::Io(m, produced)) => Inflated {
                produced,
                members: 0,
                result: Err(io(m)),
            },
            Err(ReadError::Limit(e, produced)) => Inflated {
                produced,
                members: 0,
                result: Err(e),
            },
        }
    }

    fn refused(error: ReportsError) -> Inflated {
        Inflated {
            produced: 0,
            members: 0,
            result: Err(error),
        }
    }
}

/// Decompresses a gzip stream (all members, RFC 1952 §2.2) into at most `limit` bytes and
/// at most `max_members` members (more: a [`MEMBERS`] error). `what` names the output limit
/// when it is exceeded.
pub(crate) fn gunzip(
    data: &[u8],
    limit: usize,
    what: &'static str,
    max_members: usize,
) -> Inflated {
    let mut members = Members::new(data, max_members);
    let read = read_limited(&mut members, limit, what);
    let started = members.started;
    let mut inflated = Inflated::of(read, ReportsError::Gzip);
    inflated.members = started;
    if started > max_members {
        inflated.result = Err(ReportsError::TooMany {
            what: MEMBERS,
            limit: max_members,
        });
    }
    inflated
}

/// The members of a gzip file one after another (RFC 1952 §2.2), ending, as gzip(1) does
/// ("trailing garbage ignored"), at the first byte after a complete member that does not
/// start another one: Mimecast ends its `.xml.gz` with CRLF. Every member read is checked
/// against its CRC-32 and ISIZE; a member that starts but breaks off is an error. Each costs
/// a fresh decompressor, so at most `max` are started: the one past it ends the reading.
struct Members<'a> {
    member: GzDecoder<&'a [u8]>,
    /// Members started, the first included.
    started: usize,
    max: usize,
}

impl<'a> Members<'a> {
    fn new(data: &'a [u8], max: usize) -> Self {
        Members {
            member: GzDecoder::new(data),
            started: 1,
            max,
        }
    }
}

impl Read for Members<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.started > self.max {
                return Err(std::io::Error::other(MEMBERS));
            }
            let n = self.member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // this member is complete and checked; the bytes after it are what is left
            let rest: &[u8] = self.member.get_ref();
            if !is_gzip(rest) {
                return Ok(0);
            }
            self.started += 1;
            if self.started > self.max {
                return Err(std::io::Error::other(MEMBERS));
            }
            self.member = GzDecoder::new(rest);
        }
    }
}

/// One file of an archive: its name and its content or why it could not be read.
pub(crate) type ZipFile = (String, Inflated);

/// Who takes the files of [`unzip_each`].
pub(crate) trait ZipVisitor {
    /// How many bytes the next file may decompress into, and what that limit is called.
    fn limit(&self) -> (usize, &'static str);
    /// One file; false stops the archive.
    fn entry(&mut self, file: ZipFile) -> bool;
}

/// The files of a zip archive, decompressed one at a time and handed to `visitor`: at most
/// one file's content is held at once, each read into at most what `visitor.limit()` says
/// (stored and deflate only). Directories and macOS resource forks are skipped. The archive
/// is refused as a whole when it has more than `limits.max_zip_entries` entries.
pub(crate) fn unzip_each(
    data: &[u8],
    limits: &Limits,
    visitor: &mut dyn ZipVisitor,
) -> Result<(), ReportsError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(data)).map_err(|e| ReportsError::Zip(e.to_string()))?;
    if archive.len() > limits.max_zip_entries {
        return Err(ReportsError::TooMany {
            what: "zip entries",
            limit: limits.max_zip_entries,
        });
    }
    for i in 0..archive.len() {
        let entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                let refused = Inflated::refused(ReportsError::Zip(e.to_string()));
                if !visitor.entry((format!("entry {i}"), refused)) {
                    return Ok(());
                }
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
        let (limit, what) = visitor.limit();
        let inflated = if entry.size() > limit as u64 {
            Inflated::refused(ReportsError::TooLarge {
                what,
                limit: limit as u64,
            })
        } else {
            Inflated::of(read_limited(entry, limit, what), ReportsError::Zip)
        };
        if !visitor.entry((name, inflated)) {
            return Ok(());
        }
    }
    Ok(())
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
        let whole = gunzip(&gz, 1000, "decompressed report", 9);
        assert_eq!((whole.produced, whole.result.unwrap().len()), (1000, 1000));
        let over = gunzip(&gz, 999, "decompressed report", 9);
        assert_eq!(
            over.produced, 1000,
            "the limit plus one byte, then it stops"
        );
        assert!(matches!(over.result, Err(ReportsError::TooLarge { .. })));
        // a truncated stream: an error, and what it made before still counts
        let cut = gunzip(&gz[..gz.len() / 2], 1000, "decompressed report", 9);
        assert!(matches!(cut.result, Err(ReportsError::Gzip(_))));
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_members_and_trailing_garbage() {
        let mut two = gz(b"first ");
        two.extend(gz(b"second"));
        assert_eq!(gunzip(&two, 100, "x", 9).result.unwrap(), b"first second");
        // CRLF, zero padding or junk after a complete member: ignored, as gzip(1) does
        for tail in [&b"\r\n"[..], &[0u8; 512][..], &b"junk"[..]] {
            let mut data = two.clone();
            data.extend_from_slice(tail);
            assert_eq!(gunzip(&data, 100, "x", 9).result.unwrap(), b"first second");
        }
        // a member that starts but breaks off is still an error
        let mut cut = two.clone();
        cut.extend_from_slice(&gz(b"third")[..12]);
        assert!(matches!(
            gunzip(&cut, 100, "x", 9).result,
            Err(ReportsError::Gzip(_))
        ));
        // a member whose checksum is wrong too
        let mut bad = gz(b"first ");
        let at = bad.len() - 8;
        bad[at] ^= 1;
        bad.extend_from_slice(b"\r\n");
        assert!(matches!(
            gunzip(&bad, 100, "x", 9).result,
            Err(ReportsError::Gzip(_))
        ));
    }
}
