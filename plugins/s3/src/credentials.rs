//! AWS credentials from the standard places, in the standard order; never
//! from the URL.

use std::path::PathBuf;

use stowage_backend_api::{BackendError, ErrorCode, Result};

/// An access key. `Debug` shows neither the secret nor the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID` / `aws_access_key_id`.
    pub key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` / `aws_secret_access_key`.
    pub secret: String,
    /// `AWS_SESSION_TOKEN` / `aws_session_token`.
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ key_id: {:?}, secret: <hidden> }}",
            self.key_id
        )
    }
}

/// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`),
/// else the profile (`?profile=`, else `AWS_PROFILE`, else `default`) of
/// `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`.
///
/// # Errors
/// Permission denied, saying where credentials were looked for.
pub fn find(profile: Option<&str>) -> Result<Credentials> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(key_id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Credentials {
            key_id,
            secret,
            token: env("AWS_SESSION_TOKEN"),
        });
    }
    let profile = profile
        .map(str::to_string)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    let file = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join("credentials")));
    let text = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok());
    if let Some(c) = text.as_deref().and_then(|t| from_ini(t, &profile)) {
        return Ok(c);
    }
    Err(BackendError::new(
        ErrorCode::PERMISSION_DENIED,
        format!(
            "s3: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile \
             [{profile}] aws_access_key_id and aws_secret_access_key in {}",
            file.map(|f| f.display().to_string())
                .unwrap_or_else(|| "~/.aws/credentials".into())
        ),
    ))
}

/// The keys of `[profile]` in a credentials file.
fn from_ini(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut key_id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            in_profile = section == profile || section.strip_prefix("profile ") == Some(profile);
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = Some(v.trim().to_string());
            match k.trim() {
                "aws_access_key_id" => key_id = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    Some(Credentials {
        key_id: key_id?,
        secret: secret?,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles() {
        let text = "[default]\naws_access_key_id = AKD\naws_secret_access_key = sd\n\n\
                    # other\n[ci]\naws_access_key_id=AKC\naws_secret_access_key=sc\n\
                    aws_session_token = tok\n[broken]\naws_access_key_id = x\n";
        let d = from_ini(text, "default").unwrap();
        assert_eq!(
            (d.key_id.as_str(), d.secret.as_str(), d.token),
            ("AKD", "sd", None)
        );
        let c = from_ini(text, "ci").unwrap();
        assert_eq!(c.token.as_deref(), Some("tok"));
        assert!(from_ini(text, "broken").is_none());
        assert!(from_ini(text, "absent").is_none());
        assert!(!format!("{c:?}").contains("sc"));
    }
}
