//! The first frame in each direction, encoded by hand so that any two
//! builds can read each other's.

/// The protocol version. Any change to the messages (in any file of
/// `protocol/`) bumps it.
pub const PROTOCOL_VERSION: u32 = 3;

/// What a peer says about its build in the handshake.
pub const BUILD: &str = concat!("stowage ", env!("CARGO_PKG_VERSION"));

const MAGIC: &[u8; 8] = b"STOWISO\0";

/// The handshake: magic, protocol version, build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// [`BUILD`] of the sender.
    pub build: String,
}

impl Hello {
    /// This build's hello.
    pub fn ours() -> Self {
        Self {
            version: PROTOCOL_VERSION,
            build: BUILD.to_string(),
        }
    }

    /// Magic, version (u32 LE), build length (u16 LE), build bytes.
    pub fn encode(&self) -> Vec<u8> {
        let build = self.build.as_bytes();
        let len = build.len().min(usize::from(u16::MAX));
        let mut out = Vec::with_capacity(14 + len);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&build[..len]);
        out
    }

    /// The inverse of [`Hello::encode`]; `Err` says what was wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 14 || &bytes[..8] != MAGIC {
            return Err("not a stowage isolation handshake".into());
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let len = usize::from(u16::from_le_bytes([bytes[12], bytes[13]]));
        let build = bytes
            .get(14..14 + len)
            .ok_or("truncated handshake")?
            .to_vec();
        Ok(Self {
            version,
            build: String::from_utf8_lossy(&build).into_owned(),
        })
    }

    /// `Ok` when `self` (the peer's) matches ours exactly.
    pub fn check(&self, peer: &str) -> Result<(), String> {
        let ours = Self::ours();
        if self != &ours {
            return Err(format!(
                "the {peer} speaks isolation protocol {} ({}), this process speaks {} ({}); both must come from the same build",
                self.version, self.build, ours.version, ours.build
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips_and_mismatches_are_named() {
        let ours = Hello::ours();
        assert_eq!(Hello::decode(&ours.encode()).unwrap(), ours);
        assert!(ours.check("child").is_ok());
        let other = Hello {
            version: PROTOCOL_VERSION + 1,
            build: "stowage 9.9.9".into(),
        };
        let err = Hello::decode(&other.encode())
            .unwrap()
            .check("child")
            .unwrap_err();
        assert!(
            err.contains("stowage 9.9.9") && err.contains(BUILD),
            "{err}"
        );
        assert!(Hello::decode(b"garbage garbage").is_err());
    }
}
