//! Just enough of multipart/form-data (RFC 7578) to take the file out of a snapshot upload.

/// Longest boundary RFC 2046 allows, in bytes.
const BOUNDARY_MAX_BYTES: usize = 70;

/// The body of the part named `field`, or else of the first part that carries a file name.
/// Errors are messages for the client.
pub fn file_part<'a>(content_type: &[u8], body: &'a [u8], field: &str) -> Result<&'a [u8], String> {
    let boundary = boundary(content_type)?;
    let delimiter = [b"--", boundary.as_bytes()].concat();
    let mut at = find(body, &delimiter, 0).ok_or("no multipart boundary in the body")?;
    let mut fallback = None;
    loop {
        at += delimiter.len();
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            break;
        }
        let head_start = at + line_break_len(rest).ok_or("malformed multipart boundary line")?;
        let head_end =
            find(body, b"\r\n\r\n", head_start).ok_or("multipart part without headers end")?;
        let head = std::str::from_utf8(&body[head_start..head_end])
            .map_err(|_| "multipart part headers are not UTF-8")?;
        let data_start = head_end + 4;
        let closing = [b"\r\n", delimiter.as_slice()].concat();
        let data_end =
            find(body, &closing, data_start).ok_or("multipart body is not terminated")?;
        let data = &body[data_start..data_end];
        let (name, has_file) = disposition(head);
        if name.as_deref() == Some(field) {
            return Ok(data);
        }
        if has_file && fallback.is_none() {
            fallback = Some(data);
        }
        at = data_end + 2;
    }
    fallback.ok_or_else(|| format!("the multipart body has no `{field}` file part"))
}

fn boundary(content_type: &[u8]) -> Result<String, String> {
    let ct = std::str::from_utf8(content_type).map_err(|_| "content-type is not UTF-8")?;
    let mut params = ct.split(';');
    let kind = params.next().unwrap_or("").trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!(
            "expected a multipart/form-data body with the snapshot file, got content-type {kind:?}"
        ));
    }
    let b = params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .ok_or("multipart/form-data without a boundary")?;
    if b.is_empty() || b.len() > BOUNDARY_MAX_BYTES {
        return Err(format!(
            "multipart boundary must be 1 to {BOUNDARY_MAX_BYTES} bytes"
        ));
    }
    Ok(b)
}

/// `name` and whether a `filename` is given, from a part's Content-Disposition header.
fn disposition(head: &str) -> (Option<String>, bool) {
    let Some(value) = head.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v)
    }) else {
        return (None, false);
    };
    let mut name = None;
    let mut has_file = false;
    for param in value.split(';').skip(1) {
        if let Some((k, v)) = param.split_once('=') {
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "name" => name = Some(v.to_owned()),
                "filename" | "filename*" => has_file = true,
                _ => {}
            }
        }
    }
    (name, has_file)
}

/// Length of the line break (CRLF or a bare LF, after optional padding) ending a boundary line.
fn line_break_len(rest: &[u8]) -> Option<usize> {
    let pad = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match &rest[pad..] {
        [b'\r', b'\n', ..] => Some(pad + 2),
        [b'\n', ..] => Some(pad + 1),
        _ => None,
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_named_file_part() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nno\r\n--XyZ\r\nContent-Disposition: form-data; name=\"snapshot\"; filename=\"a.snapshot\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\r\nbinary\r\n--XyZ--\r\n";
        let got = file_part(b"multipart/form-data; boundary=\"XyZ\"", body, "snapshot");
        assert_eq!(got.unwrap(), b"\x00\r\nbinary");
    }

    #[test]
    fn falls_back_to_the_first_file_and_refuses_garbage() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nDATA\r\n--b--";
        assert_eq!(
            file_part(b"multipart/form-data; boundary=b", body, "snapshot").unwrap(),
            b"DATA"
        );
        assert!(file_part(b"application/json", body, "snapshot").is_err());
        assert!(file_part(b"multipart/form-data; boundary=b", b"garbage", "snapshot").is_err());
        assert!(file_part(
            b"multipart/form-data; boundary=b",
            b"--b\r\nx\r\n\r\nDATA",
            "snapshot"
        )
        .is_err());
        assert!(file_part(b"multipart/form-data", body, "snapshot").is_err());
    }
}
