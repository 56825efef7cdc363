//! Temporary object names on servers.

use stowage_fs_common::TEMP_PREFIX;

/// A hidden temporary name for an upload of `name`: [`TEMP_PREFIX`], 16
/// random hex digits, `-`, then as much of `name` as fits in 255 bytes,
/// cut on a character boundary (remote paths are UTF-8 strings). The same
/// prefix as local stores use, so listings hide both alike.
pub fn temp_name(name: &str) -> String {
    let mut temp = format!("{TEMP_PREFIX}{:016x}-", rand::random::<u64>());
    for c in name.chars() {
        if temp.len() + c.len_utf8() > 255 {
            break;
        }
        temp.push(c);
    }
    temp
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_fs_common::is_temp_name;

    #[test]
    fn hidden_unique_and_bounded() {
        let long = "é".repeat(127);
        let t = temp_name(&long);
        assert!(is_temp_name(t.as_bytes()));
        assert!(t.len() <= 255);
        assert_ne!(temp_name("a"), temp_name("a"));
        assert!(temp_name("a").ends_with("-a"));
    }
}
