//! What other sites find a member's picture by (`/avatar/{hash}`): the hex MD5 or SHA-256 of
//! the trimmed, lowercased address, as Libravatar and Gravatar define it.

/// A well-formed hash from a request: 32 (MD5) or 64 (SHA-256) hex digits, held lowercase.
/// Whose address it is, if anyone's, only the database can tell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EmailHash {
    Md5(String),
    Sha256(String),
}

impl EmailHash {
    /// `None` for anything but 32 or 64 hex digits. Upper case is taken as lower: some
    /// clients send it so, and it names the same address.
    pub fn parse(input: &str) -> Option<Self> {
        if !input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let hex = input.to_ascii_lowercase();
        match hex.len() {
            32 => Some(Self::Md5(hex)),
            64 => Some(Self::Sha256(hex)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Md5(hex) | Self::Sha256(hex) => hex,
        }
    }

    /// The digest's bytes (16 or 32), for the default pictures drawn from it.
    pub fn bytes(&self) -> Vec<u8> {
        let hex = self.as_str().as_bytes();
        hex.chunks_exact(2)
            .map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1]))
            .collect()
    }
}

fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        // `parse` lets nothing else in.
        _ => 0,
    }
}

/// Both hashes of an address, as the database keeps them for a member who shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressHashes {
    pub md5: String,
    pub sha256: String,
}

impl AddressHashes {
    pub fn of(address: &str) -> Self {
        use md5::Digest as _;
        use sha2::Digest as _;
        let normal = address.trim().to_lowercase();
        Self {
            md5: hex(&md5::Md5::digest(normal.as_bytes())),
            sha256: hex(&sha2::Sha256::digest(normal.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashes_are_libravatars() {
        // Spaces and case are not part of the address.
        let hashes = AddressHashes::of("  George@Example.com ");
        assert_eq!(hashes, AddressHashes::of("george@example.com"));
        assert_eq!(
            AddressHashes::of("").md5,
            "d41d8cd98f00b204e9800998ecf8427e",
            "MD5 of nothing"
        );
        assert_eq!(
            AddressHashes::of("").sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "SHA-256 of nothing"
        );
        assert_eq!(
            AddressHashes::of("MyEmailAddress@example.com ").md5,
            "0bc83cb571cd1c50ba6f3e8a78ef1346",
            "Gravatar's documented example"
        );
    }

    #[test]
    fn only_32_or_64_hex_digits_are_a_hash() {
        let md5 = "0bc83cb571cd1c50ba6f3e8a78ef1346";
        assert_eq!(EmailHash::parse(md5), Some(EmailHash::Md5(md5.into())));
        assert_eq!(
            EmailHash::parse(&md5.to_uppercase()),
            Some(EmailHash::Md5(md5.into()))
        );
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(matches!(EmailHash::parse(sha), Some(EmailHash::Sha256(_))));
        for bad in [
            "",
            "0bc83cb5",
            &md5[1..],
            &format!("{md5}0"),
            &md5.replace('0', "g"),
        ] {
            assert_eq!(EmailHash::parse(bad), None, "{bad}");
        }
        assert_eq!(
            EmailHash::parse(md5).expect("a hash").bytes()[..2],
            [0x0b, 0xc8]
        );
    }
}
