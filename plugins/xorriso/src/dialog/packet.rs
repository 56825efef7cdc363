//! One line of `-pkt_output on` output: `C:F: payload`, channel `R`
//! (results), `I` (info: problem events, prompts) or `M` (marks).

#[derive(Debug)]
pub(super) struct Packet {
    pub(super) channel: u8,
    pub(super) newline: bool,
    pub(super) payload: String,
}

pub(super) fn parse_packet(line: &[u8]) -> Option<Packet> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.len() < 4 || line[1] != b':' {
        return None;
    }
    let channel = line[0];
    let rest = &line[2..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let flags: u32 = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    let payload = &rest[colon + 1..];
    let payload = payload.strip_prefix(b" ").unwrap_or(payload);
    Some(Packet {
        channel,
        newline: flags & 1 == 1,
        payload: String::from_utf8_lossy(payload).into_owned(),
    })
}

pub(super) fn is_prompt_noise(p: &str) -> bool {
    let t = p.trim();
    t.is_empty() || t.starts_with("====") || t == "enter option and arguments :"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        let p = parse_packet(b"R:1: File data lba:  0 , 1 , 1 , 6 , '/a'\n").unwrap();
        assert_eq!(p.channel, b'R');
        assert!(p.newline);
        assert_eq!(p.payload, "File data lba:  0 , 1 , 1 , 6 , '/a'");
        let p = parse_packet(b"M:0: @@END-3@@\n").unwrap();
        assert_eq!(p.channel, b'M');
        assert!(!p.newline);
        assert!(parse_packet(b"xorriso 1.5.4 : RockRidge\n").is_none());
    }
}
