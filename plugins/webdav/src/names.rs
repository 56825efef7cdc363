//! How object names become member names on the server.
//!
//! Some servers never list members whose name starts with `.` (nginx's
//! dav-ext module skips them in PROPFIND), so such objects could be stored
//! but never listed or cleaned up. A leading `.` is therefore stored as the
//! three characters `%2E`, and a leading `%` as `%25`, so the mapping is
//! reversible; every other name is stored as it is. Member names outside
//! the mapping's image (other hidden files, stray `%` names) are not ours
//! and are not listed.

/// The member name for object `name`.
pub fn to_member(name: &str) -> String {
    match name.as_bytes().first() {
        Some(b'.') => format!("%2E{}", &name[1..]),
        Some(b'%') => format!("%25{}", &name[1..]),
        _ => name.to_string(),
    }
}

/// The object name of member `member`, `None` when no object maps to it.
pub fn to_object(member: &str) -> Option<String> {
    if let Some(rest) = member.strip_prefix("%2E") {
        Some(format!(".{rest}"))
    } else if let Some(rest) = member.strip_prefix("%25") {
        Some(format!("%{rest}"))
    } else if member.starts_with(['.', '%']) {
        None
    } else {
        Some(member.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversible_and_never_hidden() {
        for name in [
            ".x", "..", "...a", "%2Ex", "%25", "%", "a.b", "-x", "é", "%46",
        ] {
            let member = to_member(name);
            assert!(!member.starts_with('.'), "{name}");
            assert_eq!(to_object(&member).as_deref(), Some(name), "{name}");
        }
        assert_eq!(to_member(".hidden"), "%2Ehidden");
        assert_eq!(to_object(".stowage-partial-x"), None);
        assert_eq!(to_object("%zz"), None);
    }
}
