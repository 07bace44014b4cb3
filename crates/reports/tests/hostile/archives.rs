//! Compressed inputs built by hand: gzip, raw deflate streams of zeros made without
//! compressing them, and zip archives whose declared sizes and checksums can lie.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress};

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// One compress call that must consume all of `input`.
pub(crate) fn deflate_step(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 100 + 4096);
    let before = c.total_in();
    c.compress_vec(input, &mut out, flush).unwrap();
    assert_eq!(c.total_in() - before, input.len() as u64);
    out
}

/// A raw deflate stream that inflates to `chunks` MiB of zeros, built without compressing
/// them: after a sync flush, the code for one more MiB of zeros is always the same bytes.
pub(crate) fn deflate_zeros(chunks: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut out = deflate_step(&mut c, &zeros, FlushCompress::Sync);
    let chunk = deflate_step(&mut c, &zeros, FlushCompress::Sync);
    assert_eq!(chunk, deflate_step(&mut c, &zeros, FlushCompress::Sync));
    for _ in 0..chunks.saturating_sub(1) {
        out.extend_from_slice(&chunk);
    }
    out.extend(deflate_step(&mut c, &[], FlushCompress::Finish));
    out
}

/// A zip archive of (name, method, data, declared size) entries, assembled by hand so that
/// sizes can lie.
pub(crate) fn zip_archive(entries: &[(&str, u16, &[u8], u32)]) -> Vec<u8> {
    let with_crc: Vec<(&str, u16, &[u8], u32, u32)> = entries
        .iter()
        .map(|&(name, method, data, declared)| {
            let mut crc = flate2::Crc::new();
            if method == 0 {
                crc.update(data);
            }
            (name, method, data, declared, crc.sum())
        })
        .collect();
    zip_archive_with_crc(&with_crc)
}

/// [`zip_archive`] with each entry's CRC-32 of its uncompressed content given.
pub(crate) fn zip_archive_with_crc(entries: &[(&str, u16, &[u8], u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for &(name, method, data, declared, crc) in entries {
        let offset = out.len() as u32;
        let header = |sig: u32, central_dir: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central_dir {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(method.to_le_bytes());
            h.extend([0u8; 4]); // time, date
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend(declared.to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central_dir {
                h.extend([0u8; 6]); // comment len, disk, internal attrs
                h.extend([0u8; 4]); // external attrs
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}
