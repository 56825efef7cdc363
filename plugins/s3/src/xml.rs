//! The little XML the signed requests read: S3's listings and error
//! documents.

/// The unescaped text of the first `<tag>` in `xml` (empty for `<tag/>`).
pub(crate) fn element(xml: &str, tag: &str) -> Option<String> {
    if xml.contains(&format!("<{tag}/>")) && !xml.contains(&format!("<{tag}>")) {
        return Some(String::new());
    }
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    unescape(&xml[start..end])
}

/// XML's five entities and character references.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';')?;
        let entity = &after[..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => entity.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The `<Code>` of an S3 error document, else its start.
pub(crate) fn error_code(body: &str) -> String {
    element(body, "Code").unwrap_or_else(|| body.chars().take(200).collect())
}
