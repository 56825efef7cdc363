//! Problem events (`libisofs: MISHAP : ...`) and the reply of one batch of
//! commands.

/// Severity of a problem event, ordered from harmless to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Debug,
    Update,
    Note,
    Hint,
    Warning,
    Sorry,
    Mishap,
    Failure,
    Fatal,
    Abort,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Debug => "DEBUG",
            Severity::Update => "UPDATE",
            Severity::Note => "NOTE",
            Severity::Hint => "HINT",
            Severity::Warning => "WARNING",
            Severity::Sorry => "SORRY",
            Severity::Mishap => "MISHAP",
            Severity::Failure => "FAILURE",
            Severity::Fatal => "FATAL",
            Severity::Abort => "ABORT",
        })
    }
}

impl Severity {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "DEBUG" => Severity::Debug,
            "UPDATE" => Severity::Update,
            "NOTE" => Severity::Note,
            "HINT" => Severity::Hint,
            "WARNING" => Severity::Warning,
            "SORRY" => Severity::Sorry,
            "MISHAP" => Severity::Mishap,
            "FAILURE" => Severity::Failure,
            "FATAL" => Severity::Fatal,
            "ABORT" => Severity::Abort,
            _ => return None,
        })
    }
}

/// One problem event from the info channel, e.g. `libisofs: MISHAP : File … Filling with 0s.`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub source: String,
    pub severity: Severity,
    pub text: String,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.source, self.severity, self.text)
    }
}

/// Parse an info payload as a problem event
/// (`^(xorriso|libisofs|libburn|libisoburn)\s*: SEVERITY : text`).
pub fn parse_message(payload: &str) -> Option<Message> {
    let (source, rest) = payload.split_once(':')?;
    let source = source.trim_end();
    if !["xorriso", "libisofs", "libburn", "libisoburn"].contains(&source) {
        return None;
    }
    let rest = rest.strip_prefix(' ')?;
    let (sev, text) = rest.split_once(" : ")?;
    let severity = Severity::parse(sev)?;
    // The message text may end in an encoded newline ("\n" as two characters).
    let text = text.trim_end().trim_end_matches("\\n").trim().to_string();
    Some(Message {
        source: source.to_string(),
        severity,
        text,
    })
}

/// Everything xorriso printed for one batch of commands.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Complete result lines (`R` channel).
    pub results: Vec<String>,
    /// Problem events (`I` lines with a severity).
    pub messages: Vec<Message>,
    /// Other info lines (drive and media status), prompts removed.
    pub info: Vec<String>,
    /// Set if the process ended before the mark arrived: how it ended.
    pub exited: Option<String>,
}

impl Reply {
    /// The worst severity among the messages.
    pub fn worst(&self) -> Option<Severity> {
        self.messages.iter().map(|m| m.severity).max()
    }

    /// Messages at or above `min`.
    pub fn at_least(&self, min: Severity) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.severity >= min)
    }

    /// The worst message, the last one among equals (for error texts).
    pub fn worst_message(&self) -> Option<&Message> {
        self.messages.iter().rev().max_by_key(|m| m.severity)
    }

    /// All messages at or above `min`, joined for an error text.
    pub fn problem_text(&self, min: Severity) -> String {
        let v: Vec<String> = self.at_least(min).map(|m| m.to_string()).collect();
        v.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let m = parse_message(
            "libisoburn: WARNING : No ISO 9660 image at LBA 0. Creating blank image.",
        )
        .unwrap();
        assert_eq!(m.source, "libisoburn");
        assert_eq!(m.severity, Severity::Warning);
        assert!(m.text.starts_with("No ISO 9660 image"));
        let m =
            parse_message(r#"libisofs: MISHAP : File "/x" can't be opened. Filling with 0s.\n"#)
                .unwrap();
        assert_eq!(m.severity, Severity::Mishap);
        assert!(m.text.ends_with("0s."), "{}", m.text);
        let m = parse_message("libburn : FAILURE : Premature end of input").unwrap();
        assert_eq!(m.severity, Severity::Failure);
        assert!(
            parse_message("xorriso : aborting : -abort_on 'MISHAP' encountered 'FAILURE'")
                .is_none()
        );
        assert!(parse_message("Added to ISO image: file '/a'='/b'").is_none());
        assert!(Severity::Mishap > Severity::Sorry && Severity::Failure > Severity::Mishap);
    }
}
