//! Encryption at rest for everything the phone keeps about cases.
//!
//! A lost or seized phone must expose nothing: the store, photos and
//! localStorage hold only values sealed under the device's [`DataKey`], and
//! that key is itself kept on the device only wrapped under the worker's PIN
//! ([`WrappedKey`]). Without the PIN a copy of the phone's files is noise.
//!
//! The module does no IO on purpose: it turns bytes into bytes, so the same
//! code runs natively and in the browser and is tested without any store.
//!
//! Randomness (keys, nonces, salts) comes from `rand`'s thread RNG, a CSPRNG
//! seeded from the OS (the browser's `crypto.getRandomValues` on wasm), and
//! not from the cipher crates' own `getrandom` features, whose getrandom 0.2
//! does not build for the browser.

// Wired into the store in the next step; until then nothing calls it.
#![allow(dead_code)]

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

/// First byte of every sealed value, so a later format can be told apart
/// from this one instead of failing as "tampered".
const SEALED_VERSION: u8 = 0x01;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Associated data of the data key sealed under the PIN-derived key, so the
/// key-encryption key can never open an ordinary sealed value or vice versa.
const WRAP_CONTEXT: &[u8] = b"fieldvisit data key v1";
const WRAPPED_MAGIC: &[u8; 4] = b"FVWK";
const WRAPPED_VERSION: u8 = 1;
const SALT_LEN: usize = 16;
/// magic, version, three u32 params, salt, u16 length of `sealed`.
const WRAPPED_HEADER_LEN: usize = 4 + 1 + 4 + 4 + 4 + SALT_LEN + 2;
/// Room for the platform-key layer to come, while refusing a length field
/// that claims megabytes.
const MAX_SEALED_LEN: usize = 1024;

/// Limits on stored KDF settings. The settings are read from the device
/// before the PIN is checked, so without limits an altered file could make
/// unlocking allocate gigabytes or run for hours.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ITERATIONS: u32 = 100;
const MAX_PARALLELISM: u32 = 16;
/// Memory times passes: 1 GiB × 100 passes alone would still take minutes on
/// a phone, so the product is capped too (4 GiB of passes, a few seconds).
const MAX_WORK_KIB: u64 = 4 * MAX_MEMORY_KIB as u64;

pub const MIN_PIN_CHARS: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("sealed value is too short ({0} bytes)")]
    TooShort(usize),
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    /// The AEAD cannot say which of these it was, and an attacker must not
    /// learn more than the owner does.
    #[error("sealed value refused: wrong context, wrong key, or altered")]
    NotAuthentic,
    #[error("sealed text is not base64")]
    NotBase64,
    #[error("opened value is not UTF-8 text")]
    NotText,
    #[error("wrong PIN")]
    WrongPin,
    #[error("the stored key is damaged: {0}")]
    CorruptWrappedKey(&'static str),
    #[error("key derivation settings out of range: {0}")]
    KdfParamsOutOfRange(&'static str),
    #[error("key derivation failed: {0}")]
    Kdf(String),
    #[error("the PIN must have at least {MIN_PIN_CHARS} characters")]
    PinTooShort,
    #[error("the PIN must not repeat one digit")]
    PinRepeated,
    #[error("the PIN must not be a run of consecutive digits")]
    PinSequence,
}

impl VaultError {
    /// Stable across releases, for the UI and logs to branch on instead of
    /// the English message.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::TooShort(_) => "too_short",
            VaultError::UnknownVersion(_) => "unknown_version",
            VaultError::NotAuthentic => "not_authentic",
            VaultError::NotBase64 => "not_base64",
            VaultError::NotText => "not_text",
            VaultError::WrongPin => "wrong_pin",
            VaultError::CorruptWrappedKey(_) => "corrupt_wrapped_key",
            VaultError::KdfParamsOutOfRange(_) => "kdf_params_out_of_range",
            VaultError::Kdf(_) => "kdf_failed",
            VaultError::PinTooShort => "pin_too_short",
            VaultError::PinRepeated => "pin_repeated",
            VaultError::PinSequence => "pin_sequence",
        }
    }
}

/// The one key that seals every stored value on this device. Made once per
/// device and never leaves it except wrapped ([`WrappedKey`]), so changing
/// the PIN re-wraps 32 bytes instead of re-encrypting the whole store.
///
/// Not `Clone`: every copy is one more place the key lingers in memory;
/// share it behind an `Arc` instead.
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    pub fn generate() -> DataKey {
        let mut key = DataKey([0; KEY_LEN]);
        // Filled in place so no unzeroized copy is left on the stack.
        rand::fill(&mut key.0);
        key
    }

    /// `context` is bound into the seal as associated data: callers pass
    /// where the value lives (the storage key, or "table:column:rowid"), so
    /// a sealed value copied to another row or key fails to open instead of
    /// silently showing one case's data in another.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        seal_with(&self.0, context, plain)
    }

    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        open_with(&self.0, context, sealed)
    }

    /// For TEXT columns and localStorage, which hold strings, not bytes.
    pub fn seal_text(&self, context: &[u8], plain: &str) -> String {
        BASE64.encode(self.seal(context, plain.as_bytes()))
    }

    pub fn open_text(&self, context: &[u8], sealed: &str) -> Result<String, VaultError> {
        let bytes = BASE64.decode(sealed).map_err(|_| VaultError::NotBase64)?;
        let plain = self.open(context, &bytes)?;
        String::from_utf8(plain).map_err(|e| {
            // The bytes are still case data even if they are not text.
            e.into_bytes().zeroize();
            VaultError::NotText
        })
    }

    /// The PIN is checked with [`pin_acceptable`] here, so no screen that
    /// sets a PIN can forget to.
    pub fn wrap_with_pin(&self, pin: &str, params: KdfParams) -> Result<WrappedKey, VaultError> {
        pin_acceptable(pin)?;
        params.check()?;
        let salt: [u8; SALT_LEN] = rand::random();
        let kek = derive_kek(pin, &salt, params)?;
        Ok(WrappedKey {
            version: WRAPPED_VERSION,
            params,
            salt,
            sealed: seal_with(&kek, WRAP_CONTEXT, &self.0),
        })
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for DataKey {}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// Argon2id cost settings. Stored with the wrapped key, so settings can be
/// raised for new PINs while old wrapped keys still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// OWASP's minimum recommendation for Argon2id (19 MiB, 2 passes, one
    /// lane): the most that stays well under a second on a low-end phone and
    /// in the browser's single-threaded wasm, where unlocking happens on
    /// every app start.
    pub const PHONE: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Argon2's smallest legal settings, so unit tests do not spend seconds
    /// per unlock. Offers no protection: never use it for a real key.
    pub const TEST: KdfParams = KdfParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    fn check(&self) -> Result<(), VaultError> {
        let out_of_range = |why| Err(VaultError::KdfParamsOutOfRange(why));
        if self.parallelism == 0 || self.parallelism > MAX_PARALLELISM {
            return out_of_range("parallelism must be 1 to 16");
        }
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return out_of_range("iterations must be 1 to 100");
        }
        if self.memory_kib < 8 * self.parallelism {
            return out_of_range("memory must be at least 8 KiB per lane");
        }
        if self.memory_kib > MAX_MEMORY_KIB {
            return out_of_range("memory must be at most 1 GiB");
        }
        if u64::from(self.memory_kib) * u64::from(self.iterations) > MAX_WORK_KIB {
            return out_of_range("memory times iterations is too large");
        }
        Ok(())
    }
}

impl Default for KdfParams {
    fn default() -> KdfParams {
        KdfParams::PHONE
    }
}

/// The data key as the device stores it, next to the data it protects.
///
/// Byte layout of [`WrappedKey::to_bytes`], integers little-endian:
///
/// | offset | size | field                                   |
/// |--------|------|-----------------------------------------|
/// | 0      | 4    | magic `FVWK`                            |
/// | 4      | 1    | `version` (1)                           |
/// | 5      | 4    | `params.memory_kib` (u32)               |
/// | 9      | 4    | `params.iterations` (u32)               |
/// | 13     | 4    | `params.parallelism` (u32)              |
/// | 17     | 16   | `salt`                                  |
/// | 33     | 2    | length of `sealed` (u16)                |
/// | 35     | n    | `sealed`                                |
///
/// `sealed` is the data key sealed like any value (version byte, nonce,
/// ciphertext and tag) under the Argon2id key from the PIN and `salt`, with
/// the context `fieldvisit data key v1`.
///
/// Where the platform key plugs in: a second layer (a non-extractable
/// WebCrypto key in the browser, the OS keystore natively) will seal these
/// `sealed` bytes again, so that a copy of the files alone is not enough to
/// start guessing PINs. That layer does IO and lives outside this module.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub version: u8,
    pub params: KdfParams,
    pub salt: [u8; SALT_LEN],
    pub sealed: Vec<u8>,
}

impl WrappedKey {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAPPED_HEADER_LEN + self.sealed.len());
        out.extend_from_slice(WRAPPED_MAGIC);
        out.push(self.version);
        out.extend_from_slice(&self.params.memory_kib.to_le_bytes());
        out.extend_from_slice(&self.params.iterations.to_le_bytes());
        out.extend_from_slice(&self.params.parallelism.to_le_bytes());
        out.extend_from_slice(&self.salt);
        // Built only by wrap_with_pin or from_bytes, both of which keep
        // `sealed` under MAX_SEALED_LEN; saturating keeps a hand-built one
        // from wrapping around to a plausible length.
        let len = u16::try_from(self.sealed.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Checks everything that can be checked without the PIN, so a damaged
    /// file reads as damaged rather than as a wrong PIN, and absurd settings
    /// are refused before any work is spent on them.
    pub fn from_bytes(bytes: &[u8]) -> Result<WrappedKey, VaultError> {
        let corrupt = VaultError::CorruptWrappedKey;
        if bytes.len() < WRAPPED_HEADER_LEN {
            return Err(corrupt("too short"));
        }
        let (header, sealed) = bytes.split_at(WRAPPED_HEADER_LEN);
        if &header[0..4] != WRAPPED_MAGIC {
            return Err(corrupt("not a wrapped key"));
        }
        let version = header[4];
        if version != WRAPPED_VERSION {
            return Err(VaultError::UnknownVersion(version));
        }
        let u32_at = |at: usize| {
            let mut word = [0u8; 4];
            word.copy_from_slice(&header[at..at + 4]);
            u32::from_le_bytes(word)
        };
        let params = KdfParams {
            memory_kib: u32_at(5),
            iterations: u32_at(9),
            parallelism: u32_at(13),
        };
        params.check()?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&header[17..17 + SALT_LEN]);
        let sealed_len = usize::from(u16::from_le_bytes([header[33], header[34]]));
        if sealed_len > MAX_SEALED_LEN {
            return Err(corrupt("sealed key too long"));
        }
        if sealed.len() != sealed_len {
            return Err(corrupt("length does not match"));
        }
        Ok(WrappedKey {
            version,
            params,
            salt,
            sealed: sealed.to_vec(),
        })
    }

    /// Nothing but the PIN can tell a wrong PIN from altered salt or sealed
    /// bytes, so those read as [`VaultError::WrongPin`] too; damage to the
    /// structure is caught by [`WrappedKey::from_bytes`] first.
    pub fn unwrap_with_pin(&self, pin: &str) -> Result<DataKey, VaultError> {
        if self.version != WRAPPED_VERSION {
            return Err(VaultError::UnknownVersion(self.version));
        }
        self.params.check()?;
        if self.sealed.len() != SEALED_OVERHEAD + KEY_LEN {
            return Err(VaultError::CorruptWrappedKey(
                "sealed key has the wrong length",
            ));
        }
        let kek = derive_kek(pin, &self.salt, self.params)?;
        let plain = Zeroizing::new(open_with(&kek, WRAP_CONTEXT, &self.sealed).map_err(
            |e| match e {
                VaultError::NotAuthentic => VaultError::WrongPin,
                _ => VaultError::CorruptWrappedKey("sealed key is malformed"),
            },
        )?);
        let mut key = DataKey([0; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(VaultError::CorruptWrappedKey(
                "sealed key has the wrong length",
            ));
        }
        key.0.copy_from_slice(&plain);
        Ok(key)
    }
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKey")
            .field("version", &self.version)
            .field("params", &self.params)
            .field("salt", &hex::encode(self.salt))
            .field(
                "sealed",
                &format_args!("[redacted; {} bytes]", self.sealed.len()),
            )
            .finish()
    }
}

/// Anyone holding a copy of the phone's files can try every PIN offline, as
/// fast as their hardware allows. Argon2id makes each try cost time and
/// memory; the length and shape of the PIN set how many tries are needed.
/// Six digits is a million tries, which the phone's Argon2id settings turn
/// into days of work, but only if the PIN is not one of the few everyone
/// tries first (one digit repeated, a straight run like 123456 or 654321).
pub fn pin_acceptable(pin: &str) -> Result<(), VaultError> {
    if pin.chars().count() < MIN_PIN_CHARS {
        return Err(VaultError::PinTooShort);
    }
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let digits: Vec<u8> = pin.bytes().map(|b| b - b'0').collect();
    if digits.iter().all(|&d| d == digits[0]) {
        return Err(VaultError::PinRepeated);
    }
    // Steps of +1 or -1, wrapping past 9 to 0 (890123) as keypads invite.
    let step = |w: &[u8]| (w[1] + 10 - w[0]) % 10;
    let first = step(&digits[0..2]);
    if (first == 1 || first == 9) && digits.windows(2).all(|w| step(w) == first) {
        return Err(VaultError::PinSequence);
    }
    Ok(())
}

fn derive_kek(
    pin: &str,
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|e| VaultError::Kdf(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(pin.as_bytes(), salt, kek.as_mut())
        .map_err(|e| VaultError::Kdf(e.to_string()))?;
    Ok(kek)
}

fn seal_with(key: &[u8; KEY_LEN], context: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    // 24 random bytes: XChaCha's nonce is long enough that random nonces
    // never repeat in practice, so no counter has to survive reinstalls.
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut out = Vec::with_capacity(SEALED_OVERHEAD + plain.len());
    out.push(SEALED_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            context,
            &mut out[1 + NONCE_LEN..],
        )
        // Fails only past 256 GiB of plaintext, which no Vec here can hold.
        .expect("XChaCha20-Poly1305 refuses only plaintexts over 256 GiB");
    out.extend_from_slice(&tag);
    out
}

fn open_with(key: &[u8; KEY_LEN], context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(VaultError::TooShort(0));
    };
    if version != SEALED_VERSION {
        return Err(VaultError::UnknownVersion(version));
    }
    if sealed.len() < SEALED_OVERHEAD {
        return Err(VaultError::TooShort(sealed.len()));
    }
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let mut plain = ciphertext.to_vec();
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            context,
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| VaultError::NotAuthentic)?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &[u8] = b"visits:notes:42";
    const NOTE: &str = "Child seen at home; mother reports no contact with father since March.";
    const PIN: &str = "480317";

    fn wrapped(key: &DataKey) -> WrappedKey {
        key.wrap_with_pin(PIN, KdfParams::TEST).expect("wrap")
    }

    #[test]
    fn round_trip() {
        let key = DataKey::generate();
        let sealed = key.seal(CONTEXT, NOTE.as_bytes());
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(sealed.len(), SEALED_OVERHEAD + NOTE.len());
        assert_eq!(key.open(CONTEXT, &sealed).unwrap(), NOTE.as_bytes());

        let text = key.seal_text(CONTEXT, NOTE);
        assert_eq!(key.open_text(CONTEXT, &text).unwrap(), NOTE);

        let empty = key.seal(CONTEXT, b"");
        assert_eq!(key.open(CONTEXT, &empty).unwrap(), b"");
    }

    #[test]
    fn wrong_context_or_key_refused() {
        let key = DataKey::generate();
        let sealed = key.seal(CONTEXT, NOTE.as_bytes());
        let err = key.open(b"visits:notes:43", &sealed).unwrap_err();
        assert_eq!(err, VaultError::NotAuthentic);
        assert_eq!(err.code(), "not_authentic");
        assert!(key.open(b"", &sealed).is_err());

        let text = key.seal_text(CONTEXT, NOTE);
        assert_eq!(
            key.open_text(b"visits:notes:43", &text),
            Err(VaultError::NotAuthentic)
        );

        let other = DataKey::generate();
        assert_eq!(other.open(CONTEXT, &sealed), Err(VaultError::NotAuthentic));
    }

    #[test]
    fn any_flipped_bit_refused() {
        let key = DataKey::generate();
        let sealed = key.seal(CONTEXT, b"short note");
        for byte in 0..sealed.len() {
            for bit in 0..8 {
                let mut altered = sealed.clone();
                altered[byte] ^= 1 << bit;
                assert!(
                    key.open(CONTEXT, &altered).is_err(),
                    "flip of bit {bit} in byte {byte} was accepted"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_refused() {
        let key = DataKey::generate();
        let sealed = key.seal(CONTEXT, b"short note");
        for len in 0..sealed.len() {
            assert!(
                key.open(CONTEXT, &sealed[..len]).is_err(),
                "{len} bytes accepted"
            );
        }
        assert_eq!(key.open(CONTEXT, &[]), Err(VaultError::TooShort(0)));
        assert_eq!(
            key.open(CONTEXT, &sealed[..SEALED_OVERHEAD - 1])
                .unwrap_err()
                .code(),
            "too_short"
        );
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(key.open(CONTEXT, &longer).is_err());
    }

    #[test]
    fn unknown_version_refused() {
        let key = DataKey::generate();
        let mut sealed = key.seal(CONTEXT, NOTE.as_bytes());
        sealed[0] = 0x02;
        let err = key.open(CONTEXT, &sealed).unwrap_err();
        assert_eq!(err, VaultError::UnknownVersion(2));
        assert_eq!(err.code(), "unknown_version");
    }

    #[test]
    fn bad_text_refused() {
        let key = DataKey::generate();
        let err = key.open_text(CONTEXT, "not base64!").unwrap_err();
        assert_eq!(err.code(), "not_base64");
        let not_utf8 = BASE64.encode(key.seal(CONTEXT, &[0xff, 0xfe]));
        assert_eq!(key.open_text(CONTEXT, &not_utf8), Err(VaultError::NotText));
    }

    #[test]
    fn seals_differ_and_hide_the_plaintext() {
        let key = DataKey::generate();
        let a = key.seal(CONTEXT, NOTE.as_bytes());
        let b = key.seal(CONTEXT, NOTE.as_bytes());
        assert_ne!(a, b);
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        for sealed in [&a, &b] {
            assert!(!contains(sealed, NOTE.as_bytes()));
            assert!(!contains(sealed, b"mother"));
        }
        let text_a = key.seal_text(CONTEXT, NOTE);
        let text_b = key.seal_text(CONTEXT, NOTE);
        assert_ne!(text_a, text_b);
        assert!(!text_a.contains("mother"));
    }

    #[test]
    fn keys_are_random() {
        assert_ne!(DataKey::generate().0, DataKey::generate().0);
    }

    #[test]
    fn wrap_and_unwrap_with_the_right_pin() {
        let key = DataKey::generate();
        let sealed = key.seal(CONTEXT, NOTE.as_bytes());
        let wrapped_key = wrapped(&key);
        assert_eq!(wrapped_key.version, WRAPPED_VERSION);
        assert_eq!(wrapped_key.params, KdfParams::TEST);
        assert!(!contains(&wrapped_key.sealed, &key.0));

        let unwrapped = wrapped_key.unwrap_with_pin(PIN).unwrap();
        assert_eq!(unwrapped.0, key.0);
        assert_eq!(unwrapped.open(CONTEXT, &sealed).unwrap(), NOTE.as_bytes());

        let again = wrapped(&key);
        assert_ne!(again.salt, wrapped_key.salt);
        assert_ne!(again.sealed, wrapped_key.sealed);
    }

    #[test]
    fn wrong_pin_refused() {
        let key = DataKey::generate();
        let wrapped_key = wrapped(&key);
        for pin in ["480318", "", "4803170", "letmein-please"] {
            let err = wrapped_key.unwrap_with_pin(pin).unwrap_err();
            assert_eq!(err, VaultError::WrongPin, "pin {pin:?}");
            assert_eq!(err.code(), "wrong_pin");
        }
        // An altered salt derives another key: indistinguishable from a
        // wrong PIN, and refused all the same.
        let mut altered = wrapped_key.clone();
        altered.salt[0] ^= 1;
        assert_eq!(
            altered.unwrap_with_pin(PIN).unwrap_err(),
            VaultError::WrongPin
        );
    }

    #[test]
    fn wrap_refuses_weak_pin_and_bad_params() {
        let key = DataKey::generate();
        assert_eq!(
            key.wrap_with_pin("123456", KdfParams::TEST).unwrap_err(),
            VaultError::PinSequence
        );
        let bad = KdfParams {
            iterations: 0,
            ..KdfParams::TEST
        };
        assert_eq!(
            key.wrap_with_pin(PIN, bad).unwrap_err().code(),
            "kdf_params_out_of_range"
        );
    }

    #[test]
    fn wrapped_key_bytes_round_trip() {
        let key = DataKey::generate();
        let wrapped_key = wrapped(&key);
        let bytes = wrapped_key.to_bytes();
        assert_eq!(&bytes[..4], b"FVWK");
        assert_eq!(bytes.len(), WRAPPED_HEADER_LEN + SEALED_OVERHEAD + KEY_LEN);
        let read = WrappedKey::from_bytes(&bytes).unwrap();
        assert_eq!(read, wrapped_key);
        assert_eq!(read.unwrap_with_pin(PIN).unwrap().0, key.0);

        let phone = WrappedKey {
            params: KdfParams::PHONE,
            ..wrapped_key.clone()
        };
        assert_eq!(WrappedKey::from_bytes(&phone.to_bytes()).unwrap(), phone);
    }

    #[test]
    fn damaged_wrapped_key_bytes_refused() {
        let key = DataKey::generate();
        let bytes = wrapped(&key).to_bytes();
        for len in 0..bytes.len() {
            let err = WrappedKey::from_bytes(&bytes[..len]).unwrap_err();
            assert_eq!(err.code(), "corrupt_wrapped_key", "{len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            WrappedKey::from_bytes(&longer).unwrap_err().code(),
            "corrupt_wrapped_key"
        );
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(
            WrappedKey::from_bytes(&magic).unwrap_err().code(),
            "corrupt_wrapped_key"
        );
        let mut version = bytes.clone();
        version[4] = 9;
        assert_eq!(
            WrappedKey::from_bytes(&version).unwrap_err(),
            VaultError::UnknownVersion(9)
        );
        let mut huge_len = bytes.clone();
        huge_len[33..35].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            WrappedKey::from_bytes(&huge_len).unwrap_err().code(),
            "corrupt_wrapped_key"
        );
    }

    #[test]
    fn absurd_params_refused() {
        let key = DataKey::generate();
        let wrapped_key = wrapped(&key);
        let absurd = [
            KdfParams {
                memory_kib: MAX_MEMORY_KIB + 1,
                ..KdfParams::PHONE
            },
            KdfParams {
                memory_kib: u32::MAX,
                ..KdfParams::PHONE
            },
            KdfParams {
                iterations: 101,
                ..KdfParams::PHONE
            },
            KdfParams {
                iterations: 0,
                ..KdfParams::PHONE
            },
            KdfParams {
                parallelism: 0,
                ..KdfParams::PHONE
            },
            KdfParams {
                parallelism: 17,
                ..KdfParams::PHONE
            },
            KdfParams {
                memory_kib: 7,
                iterations: 1,
                parallelism: 1,
            },
            KdfParams {
                memory_kib: MAX_MEMORY_KIB,
                iterations: 100,
                parallelism: 1,
            },
        ];
        for params in absurd {
            let tampered = WrappedKey {
                params,
                ..wrapped_key.clone()
            };
            let err = WrappedKey::from_bytes(&tampered.to_bytes()).unwrap_err();
            assert_eq!(err.code(), "kdf_params_out_of_range", "{params:?}");
            // Refused before any derivation, even when built by hand.
            assert_eq!(tampered.unwrap_with_pin(PIN).unwrap_err(), err);
        }
        assert_eq!(KdfParams::default(), KdfParams::PHONE);
        assert_eq!(KdfParams::PHONE.memory_kib, 19456);
        assert!(KdfParams::PHONE.check().is_ok());
        assert!(KdfParams::TEST.check().is_ok());
    }

    #[test]
    fn pin_rules() {
        let table: &[(&str, Result<(), VaultError>)] = &[
            ("", Err(VaultError::PinTooShort)),
            ("12345", Err(VaultError::PinTooShort)),
            ("abcde", Err(VaultError::PinTooShort)),
            // Counted in characters, not bytes.
            ("ééééé", Err(VaultError::PinTooShort)),
            ("000000", Err(VaultError::PinRepeated)),
            ("77777777", Err(VaultError::PinRepeated)),
            ("123456", Err(VaultError::PinSequence)),
            ("654321", Err(VaultError::PinSequence)),
            ("0123456789", Err(VaultError::PinSequence)),
            ("890123", Err(VaultError::PinSequence)),
            ("210987", Err(VaultError::PinSequence)),
            ("480317", Ok(())),
            ("123457", Ok(())),
            ("121212", Ok(())),
            ("135791", Ok(())),
            ("000001", Ok(())),
            ("aaaaaa", Ok(())),
            ("abcdef", Ok(())),
            ("ééééééé", Ok(())),
            ("correct horse", Ok(())),
            ("12345a", Ok(())),
        ];
        for (pin, expected) in table {
            assert_eq!(&pin_acceptable(pin), expected, "pin {pin:?}");
        }
        assert_eq!(VaultError::PinTooShort.code(), "pin_too_short");
        assert_eq!(VaultError::PinRepeated.code(), "pin_repeated");
        assert_eq!(VaultError::PinSequence.code(), "pin_sequence");
    }

    #[test]
    fn debug_shows_no_key() {
        let key = DataKey::generate();
        let key_hex = hex::encode(key.0);
        let shown = format!("{key:?} {key:#?}");
        assert!(shown.contains("DataKey([redacted])"));
        assert!(!shown.contains(&key_hex));

        let wrapped_key = wrapped(&key);
        let shown = format!("{wrapped_key:?} {wrapped_key:#?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&key_hex));
        assert!(!shown.contains(&hex::encode(&wrapped_key.sealed)));
        assert!(!shown.contains(&format!("{:?}", key.0)));
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }
}
