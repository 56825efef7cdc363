//! Object name validation, done before any plugin call.

use crate::error::{Error, Result};

/// The longest name accepted, in bytes (NAME_MAX on Linux).
pub const MAX_NAME_BYTES: usize = 255;

/// Checks that `name` is one flat path component a backend may store:
/// non-empty, not `.` or `..`, no `/` or NUL, at most 255 bytes.
///
/// # Errors
/// [`Error::InvalidName`] saying which rule the name breaks.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "names cannot be empty"
    } else if name == "." || name == ".." {
        "\".\" and \"..\" are not object names"
    } else if name.contains('/') {
        "names cannot contain '/' (the namespace is flat)"
    } else if name.contains('\0') {
        "names cannot contain NUL"
    } else if name.len() > MAX_NAME_BYTES {
        "names are limited to 255 bytes"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: shorten(name),
        reason,
    })
}

fn shorten(name: &str) -> String {
    if name.len() <= 80 {
        return name.to_string();
    }
    let mut end = 80;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &name[..end], name.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_names() {
        for bad in ["", ".", "..", "a/b", "/", "a\0b"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(256)).is_err());
        // 255 bytes made of 2-byte characters plus one byte.
        let long = format!("{}a", "é".repeat(127));
        assert_eq!(long.len(), 255);
        assert!(validate_name(&long).is_ok());
    }

    #[test]
    fn accepted_names() {
        for good in [
            "a", "...", ".hidden", "-x", "a b", "*?[]", "'\"\\", "%46", "ü",
        ] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
    }
}
