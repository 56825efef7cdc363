//! What counts as a secret in a remote's URL, and how it is hidden.

use stowage_backend_api::location::redact;

/// URL parameters whose values are secrets.
const SECRET_PARAMS: &[&str] = &["password", "passphrase", "secret", "token", "key"];

/// Whether `url` carries a secret: user information before an `@`, or a
/// parameter named like a secret.
pub fn has_secret(url: &str) -> bool {
    redact(url) != url || secret_params(url).next().is_some()
}

/// `url` with user information removed and secret parameter values
/// replaced by `***`: the only form `remote show` and `remote list` print.
pub fn redact_url(url: &str) -> String {
    let url = redact(url);
    let Some((base, query)) = url.split_once('?') else {
        return url;
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_param(key) => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn secret_params(url: &str) -> impl Iterator<Item = &str> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
        .filter(|k| is_secret_param(k))
}

fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| key.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_and_hidden() {
        assert!(!has_secret("file:///srv/backup?fsync=each"));
        assert!(has_secret("sftp://bob:hunter2@host/x"));
        assert!(has_secret("s3://bucket/x?access_key=AK&secret_key=SK"));
        assert_eq!(redact_url("sftp://bob:hunter2@host/x"), "sftp://host/x");
        assert_eq!(
            redact_url("s3://b/x?region=eu&secret_key=SK"),
            "s3://b/x?region=eu&secret_key=***"
        );
    }
}
