//! The check that a delivery comes from GitHub: `X-Hub-Signature-256` is `sha256=` and the
//! hex HMAC-SHA256 of the raw body keyed with the webhook's secret. The comparison is
//! `hmac`'s `verify_slice`, constant time, so an answer's timing tells nothing of how much of
//! a forged signature was right.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery was refused; the text is what the sender reads in the 401 body.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Malformed,
    Mismatch,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Missing => {
                "no X-Hub-Signature-256 header: give the webhook a secret in GitHub's settings"
            }
            Refusal::Malformed => "X-Hub-Signature-256 is not `sha256=` and 64 hex digits",
            Refusal::Mismatch => {
                "X-Hub-Signature-256 does not match the body: the webhook's secret is not the one github-notify has"
            }
        })
    }
}

/// Ok when `header` is the signature of `body` under `secret`.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8]) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Missing)?;
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Refusal::Malformed)?;
    let claimed = decode_hex(hex).ok_or(Refusal::Malformed)?;
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refusal::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&claimed).map_err(|_| Refusal::Mismatch)
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high << 4 | low).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's own example ("Validating webhook deliveries").
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_example_verifies_and_every_other_header_is_refused() {
        assert_eq!(verify(SECRET, Some(SIGNATURE), BODY), Ok(()));
        assert_eq!(
            verify(
                SECRET,
                Some(&SIGNATURE.to_uppercase().replace("SHA256", "sha256")),
                BODY
            ),
            Ok(()),
            "hex digits in either case"
        );
        let flipped = SIGNATURE.replace("757107", "757108");
        let not_hex = SIGNATURE.replace('e', "g");
        let too_long = format!("{SIGNATURE}00");
        for (header, refusal) in [
            (None, Refusal::Missing),
            (Some(""), Refusal::Malformed),
            (
                Some("sha1=757107ea0eb2509fc211221cce984b8a37570b6d"),
                Refusal::Malformed,
            ),
            (Some("sha256=757107"), Refusal::Malformed),
            (Some(not_hex.as_str()), Refusal::Malformed),
            (Some(too_long.as_str()), Refusal::Malformed),
            (Some(flipped.as_str()), Refusal::Mismatch),
        ] {
            assert_eq!(verify(SECRET, header, BODY), Err(refusal), "{header:?}");
        }
        assert_eq!(
            verify(b"another secret", Some(SIGNATURE), BODY),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(SIGNATURE), b"Hello, World?"),
            Err(Refusal::Mismatch)
        );
    }
}
