//! `~/.netrc`: `machine HOST login USER password SECRET`, and `default`.

/// Login and password for `host` (and `user`, when the URL names one) from
/// netrc text: the first matching `machine` entry, else `default`.
pub fn lookup(text: &str, host: &str, user: Option<&str>) -> Option<(String, String)> {
    let mut tokens = text.split_whitespace();
    let mut entries: Vec<(Option<String>, Option<String>, Option<String>)> = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => entries.push((tokens.next().map(str::to_string), None, None)),
            "default" => entries.push((None, None, None)),
            "login" | "password" => {
                let value = tokens.next().map(str::to_string);
                if let Some(entry) = entries.last_mut() {
                    if token == "login" {
                        entry.1 = value;
                    } else {
                        entry.2 = value;
                    }
                }
            }
            "account" => {
                tokens.next();
            }
            // A macro runs to the next blank line, which whitespace
            // splitting cannot see; no entry may follow one safely.
            "macdef" => break,
            _ => {}
        }
    }
    let fits = |login: &Option<String>| user.is_none() || login.as_deref() == user;
    let found = entries
        .iter()
        .find(|(m, login, _)| m.as_deref() == Some(host) && fits(login))
        .or_else(|| {
            entries
                .iter()
                .find(|(m, login, _)| m.is_none() && fits(login))
        })?;
    match found {
        (_, Some(login), Some(password)) => Some((login.clone(), password.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let text = "machine a.example login alice password s1\n\
                    machine b.example\n  login bob\n  password s2\n\
                    default login anon password s3\n";
        assert_eq!(
            lookup(text, "a.example", None),
            Some(("alice".into(), "s1".into()))
        );
        assert_eq!(
            lookup(text, "b.example", None),
            Some(("bob".into(), "s2".into()))
        );
        assert_eq!(
            lookup(text, "c.example", None),
            Some(("anon".into(), "s3".into()))
        );
        assert_eq!(lookup(text, "a.example", Some("carol")), None);
        assert_eq!(lookup("machine x login y", "x", None), None);
    }
}
