//! `NAME:` and `NAME:sub/dir` standing for a remote's URL.

use stowage::Error;

use super::Config;

/// Whether `name` can name a remote: ASCII letters, digits, `-` and `_`,
/// starting with a letter (so `NAME:` never looks like `C:` or a path).
pub fn valid_remote_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The URL `text` stands for: a URL (`scheme://...`) as it is; `NAME:` as
/// the remote's URL; `NAME:sub/dir` as the remote's URL with `/sub/dir`
/// appended to its location (before any `?parameters`).
pub fn resolve(config: &Config, text: &str) -> Result<String, Error> {
    let Some((name, rest)) = text.split_once(':') else {
        return Ok(text.to_string());
    };
    if rest.starts_with("//") || !valid_remote_name(name) {
        return Ok(text.to_string());
    }
    let Some(url) = config.remote(name) else {
        return Err(Error::InvalidInput(format!(
            "{name}: is not a configured remote (`stowage remote list` shows them; \
             a URL needs scheme://)"
        )));
    };
    let sub = rest.trim_matches('/');
    if sub.is_empty() {
        return Ok(url.to_string());
    }
    if sub.split('/').any(|c| c == ".." || c == ".") {
        return Err(Error::InvalidInput(format!(
            "{text}: `.` and `..` are not allowed below a remote"
        )));
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut joined = format!("{}/{sub}", base.trim_end_matches('/'));
    if let Some(q) = query {
        joined.push('?');
        joined.push_str(q);
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_text(
            "[remote.offsite]\nurl = \"xorriso:///srv/o.iso:/host1\"\n\
             [remote.disk]\nurl = \"file:///srv/backup?fsync=each\"\n",
        )
        .unwrap()
    }

    #[test]
    fn names_and_subdirectories() {
        let c = config();
        assert_eq!(resolve(&c, "file:///x").unwrap(), "file:///x");
        assert_eq!(
            resolve(&c, "offsite:").unwrap(),
            "xorriso:///srv/o.iso:/host1"
        );
        assert_eq!(
            resolve(&c, "offsite:etc/2024").unwrap(),
            "xorriso:///srv/o.iso:/host1/etc/2024"
        );
        assert_eq!(
            resolve(&c, "disk:sub").unwrap(),
            "file:///srv/backup/sub?fsync=each"
        );
        assert!(resolve(&c, "nowhere:").is_err());
        assert!(resolve(&c, "disk:../escape").is_err());
        assert_eq!(resolve(&c, "relative-path").unwrap(), "relative-path");
    }
}
