//! `ls -l` and `ls --human`: aligned columns, sizes the way `ls -h` shows
//! them.

/// A size as `ls -h` prints it: bytes below 1024, then K, M, G, T, P, E
/// (powers of 1024), rounded up, with one decimal below 10.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // Rounded up, as ls does: a size is never shown smaller than it is.
    let tenths = (value * 10.0).ceil() / 10.0;
    if tenths < 10.0 {
        return format!("{tenths:.1}{}", UNITS[unit]);
    }
    let whole = value.ceil();
    if whole >= 1024.0 && unit + 1 < UNITS.len() {
        return format!("1.0{}", UNITS[unit + 1]);
    }
    format!("{whole:.0}{}", UNITS[unit])
}

/// Lines of `SIZE  NAME` with the sizes right-aligned to the widest.
pub fn aligned(rows: &[(String, String)]) -> Vec<String> {
    let width = rows.iter().map(|(size, _)| size.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(size, name)| format!("{size:>width$}  {name}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_ls_h() {
        // Values checked against GNU `ls -sh`-style output (ceil rounding).
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(1025), "1.1K");
        assert_eq!(human_size(10 * 1024), "10K");
        assert_eq!(human_size(10 * 1024 + 1), "11K");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0M");
        assert_eq!(human_size(64 << 20), "64M");
        assert_eq!(human_size(3 << 30), "3.0G");
    }

    #[test]
    fn right_aligned() {
        let rows = vec![
            ("5".to_string(), "a".to_string()),
            ("1.1K".to_string(), "b".to_string()),
        ];
        assert_eq!(aligned(&rows), vec!["   5  a", "1.1K  b"]);
    }
}
