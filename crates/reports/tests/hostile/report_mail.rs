//! Report mails: a multipart message with one base64 attachment.

pub(crate) fn b64(data: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    text.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

pub(crate) fn attach(ctype: &str, filename: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "From: r@reporter.example\r\nSubject: Report Domain: example.com Submitter: reporter.example\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n\
         --=_b\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--=_b--\r\n",
        b64(data)
    )
    .into_bytes()
}
