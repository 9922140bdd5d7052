//! Encryption at rest for everything the phone keeps about cases.
//!
//! A lost or seized phone must expose nothing: the store, photos and
//! localStorage hold only values sealed under the device's [`DataKey`], and
//! that key is itself kept on the device only wrapped under the worker's PIN
//! ([`WrappedKey`]). Without the PIN a copy of the phone's files is noise,
//! for as long as guessing the PIN takes; on its own a short PIN does not
//! hold out long (see [`pin_acceptable`]).
//!
//! The module does no IO on purpose: it turns bytes into bytes, so the same
//! code runs natively and in the browser and is tested without any store.
//!
//! Randomness (keys, nonces, salts) comes from `rand`'s thread RNG, a CSPRNG
//! seeded from the OS (the browser's `crypto.getRandomValues` on wasm), and
//! not from the cipher crates' own `getrandom` features, whose getrandom 0.2
//! does not build for the browser.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// First byte of every sealed value, so a later format can be told apart
/// from this one instead of failing as "tampered". It is also the first
/// byte of the associated data (`[version] || context`), so a value can
/// only ever be opened as the format it was sealed as.
const SEALED_VERSION: u8 = 0x01;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const SEALED_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Start of the associated data of the data key sealed under the
/// PIN-derived key, so the key-encryption key can never open an ordinary
/// sealed value or vice versa. The wrapped key's header follows it (see
/// [`WrappedKey`]).
const WRAP_CONTEXT: &[u8] = b"fieldvisit data key v1";
const WRAPPED_MAGIC: &[u8; 4] = b"FVWK";
/// 1 was never stored anywhere and is refused as unknown.
const WRAPPED_VERSION: u8 = 2;
const SALT_LEN: usize = 16;
/// magic, version, three u32 params, salt: the part of the header bound
/// into the seal of the data key as associated data.
const WRAPPED_BOUND_LEN: usize = 4 + 1 + 4 + 4 + 4 + SALT_LEN;
/// The bound part and the u16 length of `sealed`.
const WRAPPED_HEADER_LEN: usize = WRAPPED_BOUND_LEN + 2;
/// Truncated SHA-256 at the end of the stored bytes.
const CHECKSUM_LEN: usize = 16;
/// Room for the platform-key layer to come, while refusing a length field
/// that claims megabytes.
const MAX_SEALED_LEN: usize = 1024;

/// Limits on stored KDF settings. The settings are read from the device
/// before the PIN is checked, so without limits an altered file could make
/// unlocking allocate too much or run for minutes. In the browser a failed
/// allocation aborts the page instead of returning an error, and a 32-bit
/// wasm heap cannot spare a gigabyte, so memory stops at 128 MiB: twice the
/// stronger setting the bench measures (64 MiB, 3 passes).
const MAX_MEMORY_KIB: u32 = 128 * 1024;
const MAX_ITERATIONS: u32 = 10;
const MAX_PARALLELISM: u32 = 16;
/// Memory times passes: 128 MiB × 10 passes would take seconds on a phone,
/// so the product is capped too, at 128 MiB × 4 (about 13 times the phone
/// setting, well under a second natively).
const MAX_WORK_KIB: u64 = 4 * MAX_MEMORY_KIB as u64;

/// The weakest settings [`DataKey::wrap_with_pin`] and
/// [`WrappedKey::unwrap_with_pin`] accept: [`KdfParams::PHONE`], except in
/// this module's unit tests, where [`KdfParams::TEST`] keeps each unlock
/// from costing seconds. The floor itself is tested through
/// `wrap_with_pin_at_least` and `unwrap_with_pin_at_least` with `PHONE`.
#[cfg(not(test))]
const MIN_PARAMS: KdfParams = KdfParams::PHONE;
#[cfg(test)]
const MIN_PARAMS: KdfParams = KdfParams::TEST;

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

    /// The plaintext is wiped when the returned value is dropped. A caller
    /// that must hand on an owned `Vec` (to SQLite, to samod) can move it
    /// out with `std::mem::take(&mut *plain)`, which copies nothing.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        open_with(&self.0, context, sealed)
    }

    /// For TEXT columns and localStorage, which hold strings, not bytes.
    pub fn seal_text(&self, context: &[u8], plain: &str) -> String {
        BASE64.encode(self.seal(context, plain.as_bytes()))
    }

    pub fn open_text(&self, context: &[u8], sealed: &str) -> Result<Zeroizing<String>, VaultError> {
        let bytes = BASE64.decode(sealed).map_err(|_| VaultError::NotBase64)?;
        let mut plain = self.open(context, &bytes)?;
        // Moved, not copied, into the String.
        String::from_utf8(std::mem::take(&mut *plain))
            .map(Zeroizing::new)
            .map_err(|e| {
                // The bytes are still case data even if they are not text.
                e.into_bytes().zeroize();
                VaultError::NotText
            })
    }

    /// The PIN is checked with [`pin_acceptable`] here, so no screen that
    /// sets a PIN can forget to. Settings weaker than [`KdfParams::PHONE`]
    /// (less memory or fewer passes) are refused.
    pub fn wrap_with_pin(&self, pin: &str, params: KdfParams) -> Result<WrappedKey, VaultError> {
        self.wrap_with_pin_at_least(pin, params, MIN_PARAMS)
    }

    fn wrap_with_pin_at_least(
        &self,
        pin: &str,
        params: KdfParams,
        min: KdfParams,
    ) -> Result<WrappedKey, VaultError> {
        pin_acceptable(pin)?;
        params.check()?;
        params.check_at_least(min)?;
        let salt: [u8; SALT_LEN] = rand::random();
        let kek = derive_kek(pin, &salt, params)?;
        let mut wrapped = WrappedKey {
            version: WRAPPED_VERSION,
            params,
            salt,
            sealed: Vec::new(),
        };
        wrapped.sealed = seal_with(&kek, &wrapped.wrap_context(), &self.0);
        Ok(wrapped)
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
    /// per unlock. Offers no protection, so it exists only in this module's
    /// tests, and outside them wrapping and unwrapping refuse anything
    /// weaker than [`KdfParams::PHONE`].
    #[cfg(test)]
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
            return out_of_range("iterations must be 1 to 10");
        }
        if self.memory_kib < 8 * self.parallelism {
            return out_of_range("memory must be at least 8 KiB per lane");
        }
        if self.memory_kib > MAX_MEMORY_KIB {
            return out_of_range("memory must be at most 128 MiB");
        }
        if u64::from(self.memory_kib) * u64::from(self.iterations) > MAX_WORK_KIB {
            return out_of_range("memory times iterations is too large");
        }
        Ok(())
    }

    /// `min` is [`MIN_PARAMS`] except where tests check the floor itself.
    fn check_at_least(&self, min: KdfParams) -> Result<(), VaultError> {
        if self.memory_kib < min.memory_kib || self.iterations < min.iterations {
            return Err(VaultError::KdfParamsOutOfRange(
                "weaker than the phone settings",
            ));
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
/// | 4      | 1    | `version` (2)                           |
/// | 5      | 4    | `params.memory_kib` (u32)               |
/// | 9      | 4    | `params.iterations` (u32)               |
/// | 13     | 4    | `params.parallelism` (u32)              |
/// | 17     | 16   | `salt`                                  |
/// | 33     | 2    | length n of `sealed` (u16)              |
/// | 35     | n    | `sealed`                                |
/// | 35 + n | 16   | checksum (truncated SHA-256, below)     |
///
/// `sealed` is the data key sealed like any value (version byte, nonce,
/// ciphertext and tag) under the Argon2id key from the PIN and `salt`, with
/// the context `fieldvisit data key v1` followed by bytes 0 to 33 (magic,
/// version, params, salt), so the header cannot be changed without the
/// seal failing.
///
/// The checksum is the first 16 bytes of SHA-256 over bytes 0 to 35 + n
/// (everything before it). It is unkeyed: it stops nobody who means to
/// alter the file, but it lets [`WrappedKey::from_bytes`] tell a damaged
/// file from a wrong PIN. Without it a flipped bit in the salt or the sealed key would read as
/// a wrong PIN, and enough of those wipe the phone. It sits at the end and
/// is checked before anything else is read, so a later version must keep it
/// there for this one to report that version as unknown rather than damaged.
///
/// Where the platform key plugs in: a second layer (a non-extractable
/// WebCrypto key in the browser, the OS keystore natively) will seal these
/// `sealed` bytes again, so that a copy of the files alone is not enough to
/// start guessing PINs. That layer does IO and lives outside this module.
/// Only the OS keystore keeps its key from being copied: the browser's key
/// lives in IndexedDB and is copied along with the browser profile.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub version: u8,
    pub params: KdfParams,
    pub salt: [u8; SALT_LEN],
    pub sealed: Vec<u8>,
}

impl WrappedKey {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAPPED_HEADER_LEN + self.sealed.len() + CHECKSUM_LEN);
        out.extend_from_slice(&self.bound_header());
        // Built only by wrap_with_pin or from_bytes, both of which keep
        // `sealed` under MAX_SEALED_LEN; saturating keeps a hand-built one
        // from wrapping around to a plausible length.
        let len = u16::try_from(self.sealed.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.sealed);
        let sum = checksum(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Checks everything that can be checked without the PIN, so a damaged
    /// file reads as damaged rather than as a wrong PIN, and absurd settings
    /// are refused before any work is spent on them. The checksum comes
    /// first: any change to the stored bytes is
    /// `CorruptWrappedKey("checksum")`, whatever field it hit.
    pub fn from_bytes(bytes: &[u8]) -> Result<WrappedKey, VaultError> {
        let corrupt = VaultError::CorruptWrappedKey;
        if bytes.len() < WRAPPED_HEADER_LEN + CHECKSUM_LEN {
            return Err(corrupt("too short"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if checksum(body) != sum {
            return Err(corrupt("checksum"));
        }
        let (header, sealed) = body.split_at(WRAPPED_HEADER_LEN);
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

    /// [`VaultError::WrongPin`] only when the seal refuses the key derived
    /// from the PIN. For a key read with [`WrappedKey::from_bytes`] that
    /// means a wrong PIN: damage to the stored bytes fails the checksum
    /// there first. (Someone who alters the bytes and recomputes the
    /// unkeyed checksum is not told apart from a wrong PIN; they could as
    /// well delete the file.)
    ///
    /// Settings weaker than [`KdfParams::PHONE`] are refused here too, so a
    /// key wrapped with test settings is never accepted as a real one.
    pub fn unwrap_with_pin(&self, pin: &str) -> Result<DataKey, VaultError> {
        self.unwrap_with_pin_at_least(pin, MIN_PARAMS)
    }

    fn unwrap_with_pin_at_least(&self, pin: &str, min: KdfParams) -> Result<DataKey, VaultError> {
        if self.version != WRAPPED_VERSION {
            return Err(VaultError::UnknownVersion(self.version));
        }
        self.params.check()?;
        self.params.check_at_least(min)?;
        if self.sealed.len() != SEALED_OVERHEAD + KEY_LEN {
            return Err(VaultError::CorruptWrappedKey(
                "sealed key has the wrong length",
            ));
        }
        let kek = derive_kek(pin, &self.salt, self.params)?;
        let plain = open_with(&kek, &self.wrap_context(), &self.sealed).map_err(|e| match e {
            VaultError::NotAuthentic => VaultError::WrongPin,
            _ => VaultError::CorruptWrappedKey("sealed key is malformed"),
        })?;
        let mut key = DataKey([0; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(VaultError::CorruptWrappedKey(
                "sealed key has the wrong length",
            ));
        }
        key.0.copy_from_slice(&plain);
        Ok(key)
    }

    /// Magic, version, params and salt: bytes 0 to 33 of
    /// [`WrappedKey::to_bytes`].
    fn bound_header(&self) -> [u8; WRAPPED_BOUND_LEN] {
        let mut out = [0u8; WRAPPED_BOUND_LEN];
        out[0..4].copy_from_slice(WRAPPED_MAGIC);
        out[4] = self.version;
        out[5..9].copy_from_slice(&self.params.memory_kib.to_le_bytes());
        out[9..13].copy_from_slice(&self.params.iterations.to_le_bytes());
        out[13..17].copy_from_slice(&self.params.parallelism.to_le_bytes());
        out[17..17 + SALT_LEN].copy_from_slice(&self.salt);
        out
    }

    /// The context the data key is sealed under: [`WRAP_CONTEXT`], then the
    /// bound header (both fixed-length, so the split is unambiguous).
    fn wrap_context(&self) -> Vec<u8> {
        let mut context = Vec::with_capacity(WRAP_CONTEXT.len() + WRAPPED_BOUND_LEN);
        context.extend_from_slice(WRAP_CONTEXT);
        context.extend_from_slice(&self.bound_header());
        context
    }
}

/// Unkeyed: catches damage, not tampering (see [`WrappedKey`]).
fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
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
/// memory, but not much: at [`KdfParams::PHONE`] one try takes about 25 ms
/// natively (measured: `cargo bench -p fieldvisit-bench --bench vault`), so
/// all 10^6 six-digit PINs take about 7 core-hours, minutes on a machine
/// with many cores. A short PIN resists offline guessing only together with
/// a platform key the attacker cannot copy (the OS keystore), which is the
/// next layer (see [`WrappedKey`]). In the browser that layer is a
/// non-extractable WebCrypto key stored in IndexedDB: script cannot read it,
/// but it is copied along with the browser profile, so a copied profile can
/// still be guessed offline in hours.
///
/// What these rules do is refuse the few PINs everyone tries first (one
/// digit repeated, a straight run like 123456 or 654321), which would fall
/// to the few tries someone holding the phone itself gets at the unlock
/// screen.
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
            &associated_data(SEALED_VERSION, context),
            &mut out[1 + NONCE_LEN..],
        )
        // Fails only past 256 GiB of plaintext, which no Vec here can hold.
        .expect("XChaCha20-Poly1305 refuses only plaintexts over 256 GiB");
    out.extend_from_slice(&tag);
    out
}

fn open_with(
    key: &[u8; KEY_LEN],
    context: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
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
    let mut plain = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            &associated_data(version, context),
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| VaultError::NotAuthentic)?;
    Ok(plain)
}

/// `[version] || context`: the format version is authenticated along with
/// where the value lives.
fn associated_data(version: u8, context: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(1 + context.len());
    ad.push(version);
    ad.extend_from_slice(context);
    ad
}

/// The document store seals every chunk under the data key, bound to its
/// storage key (a chunk copied to another key does not open).
impl fieldvisit_sqlite_store::ValueCipher for DataKey {
    fn seal(&self, key: &str, plain: &[u8]) -> Vec<u8> {
        DataKey::seal(self, &store_context(key), plain)
    }

    fn open(&self, key: &str, sealed: &[u8]) -> Result<Vec<u8>, String> {
        DataKey::open(self, &store_context(key), sealed)
            .map(|mut plain| std::mem::take(&mut *plain))
            .map_err(|e| e.to_string())
    }
}

fn store_context(key: &str) -> Vec<u8> {
    [b"samod_storage:".as_slice(), key.as_bytes()].concat()
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
        // Zeroizing: the plaintext is wiped when dropped.
        let plain: Zeroizing<Vec<u8>> = key.open(CONTEXT, &sealed).unwrap();
        assert_eq!(plain.as_slice(), NOTE.as_bytes());

        let text = key.seal_text(CONTEXT, NOTE);
        let plain_text: Zeroizing<String> = key.open_text(CONTEXT, &text).unwrap();
        assert_eq!(plain_text.as_str(), NOTE);

        let empty = key.seal(CONTEXT, b"");
        assert!(key.open(CONTEXT, &empty).unwrap().is_empty());
    }

    #[test]
    fn version_byte_is_associated_data() {
        // Sealed with the bare context, as before the version was bound:
        // refused, so another format sealing with other associated data
        // can never be opened as this one.
        let key = DataKey::generate();
        let nonce = [7u8; NONCE_LEN];
        let mut sealed = vec![SEALED_VERSION];
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(NOTE.as_bytes());
        let tag = XChaCha20Poly1305::new(Key::from_slice(&key.0))
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                CONTEXT,
                &mut sealed[1 + NONCE_LEN..],
            )
            .unwrap();
        sealed.extend_from_slice(&tag);
        assert_eq!(key.open(CONTEXT, &sealed), Err(VaultError::NotAuthentic));

        let mut ad = vec![SEALED_VERSION];
        ad.extend_from_slice(CONTEXT);
        assert_eq!(associated_data(SEALED_VERSION, CONTEXT), ad);
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
        assert_eq!(
            unwrapped.open(CONTEXT, &sealed).unwrap().as_slice(),
            NOTE.as_bytes()
        );

        let again = wrapped(&key);
        assert_ne!(again.salt, wrapped_key.salt);
        assert_ne!(again.sealed, wrapped_key.sealed);
    }

    #[test]
    fn wrong_pin_refused() {
        let key = DataKey::generate();
        // Intact bytes, as read back from the device.
        let wrapped_key = WrappedKey::from_bytes(&wrapped(&key).to_bytes()).unwrap();
        for pin in ["480318", "", "4803170", "letmein-please"] {
            let err = wrapped_key.unwrap_with_pin(pin).unwrap_err();
            assert_eq!(err, VaultError::WrongPin, "pin {pin:?}");
            assert_eq!(err.code(), "wrong_pin");
        }
        assert_eq!(wrapped_key.unwrap_with_pin(PIN).unwrap().0, key.0);
    }

    #[test]
    fn any_flipped_bit_in_wrapped_key_is_damage_not_a_wrong_pin() {
        let key = DataKey::generate();
        let bytes = wrapped(&key).to_bytes();
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut altered = bytes.clone();
                altered[byte] ^= 1 << bit;
                assert_eq!(
                    WrappedKey::from_bytes(&altered),
                    Err(VaultError::CorruptWrappedKey("checksum")),
                    "flip of bit {bit} in byte {byte}"
                );
            }
        }
    }

    #[test]
    fn header_is_bound_into_the_wrap() {
        let key = DataKey::generate();
        let wrapped_key = wrapped(&key);
        let kek = derive_kek(PIN, &wrapped_key.salt, wrapped_key.params).unwrap();
        let bytes = wrapped_key.to_bytes();
        let mut context = WRAP_CONTEXT.to_vec();
        context.extend_from_slice(&bytes[..WRAPPED_BOUND_LEN]);
        assert_eq!(wrapped_key.wrap_context(), context);
        assert_eq!(
            open_with(&kek, &context, &wrapped_key.sealed)
                .unwrap()
                .as_slice(),
            key.0
        );
        // Not openable under the bare context, nor with any header byte
        // changed.
        assert_eq!(
            open_with(&kek, WRAP_CONTEXT, &wrapped_key.sealed),
            Err(VaultError::NotAuthentic)
        );
        for at in WRAP_CONTEXT.len()..context.len() {
            let mut altered = context.clone();
            altered[at] ^= 1;
            assert_eq!(
                open_with(&kek, &altered, &wrapped_key.sealed),
                Err(VaultError::NotAuthentic),
                "header byte {}",
                at - WRAP_CONTEXT.len()
            );
        }
    }

    #[test]
    fn params_weaker_than_phone_refused() {
        // Outside tests the floor is PHONE; here it is TEST, and the floor
        // itself is checked by passing PHONE explicitly.
        assert_eq!(MIN_PARAMS, KdfParams::TEST);
        let key = DataKey::generate();
        let wrapped_key = wrapped(&key);
        let weak = [
            KdfParams::TEST,
            KdfParams {
                memory_kib: KdfParams::PHONE.memory_kib - 1,
                ..KdfParams::PHONE
            },
            KdfParams {
                iterations: KdfParams::PHONE.iterations - 1,
                ..KdfParams::PHONE
            },
            KdfParams {
                memory_kib: 8 * 1024,
                iterations: 10,
                parallelism: 1,
            },
        ];
        for params in weak {
            let err = key
                .wrap_with_pin_at_least(PIN, params, KdfParams::PHONE)
                .unwrap_err();
            assert_eq!(err.code(), "kdf_params_out_of_range", "{params:?}");
            let stored = WrappedKey {
                params,
                ..wrapped_key.clone()
            };
            // Refused before any derivation.
            assert_eq!(
                stored
                    .unwrap_with_pin_at_least(PIN, KdfParams::PHONE)
                    .unwrap_err(),
                err
            );
            assert_eq!(params.check_at_least(KdfParams::PHONE), Err(err));
        }
        let strong = [
            KdfParams::PHONE,
            KdfParams {
                parallelism: 4,
                ..KdfParams::PHONE
            },
            // The bench's stronger setting.
            KdfParams {
                memory_kib: 64 * 1024,
                iterations: 3,
                parallelism: 1,
            },
        ];
        for params in strong {
            assert!(params.check().is_ok(), "{params:?}");
            assert!(
                params.check_at_least(KdfParams::PHONE).is_ok(),
                "{params:?}"
            );
        }
        // The TEST-wrapped key itself opens only under the test floor.
        assert_eq!(
            wrapped_key
                .unwrap_with_pin_at_least(PIN, KdfParams::PHONE)
                .unwrap_err()
                .code(),
            "kdf_params_out_of_range"
        );
        assert_eq!(
            wrapped_key
                .unwrap_with_pin_at_least(PIN, KdfParams::TEST)
                .unwrap()
                .0,
            key.0
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
        assert_eq!(bytes[4], 2);
        assert_eq!(
            bytes.len(),
            WRAPPED_HEADER_LEN + SEALED_OVERHEAD + KEY_LEN + CHECKSUM_LEN
        );
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        assert_eq!(sum, &Sha256::digest(body)[..CHECKSUM_LEN]);
        let read = WrappedKey::from_bytes(&bytes).unwrap();
        assert_eq!(read, wrapped_key);
        assert_eq!(read.unwrap_with_pin(PIN).unwrap().0, key.0);

        let phone = WrappedKey {
            params: KdfParams::PHONE,
            ..wrapped_key.clone()
        };
        assert_eq!(WrappedKey::from_bytes(&phone.to_bytes()).unwrap(), phone);
    }

    /// `bytes` with its checksum recomputed, as if altered on purpose or
    /// damaged before the checksum was written.
    fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
        let body = bytes.len() - CHECKSUM_LEN;
        let sum = checksum(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum);
        bytes
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
            WrappedKey::from_bytes(&longer).unwrap_err(),
            VaultError::CorruptWrappedKey("checksum")
        );

        // Past the checksum, the structure is still checked.
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(
            WrappedKey::from_bytes(&with_checksum(magic)).unwrap_err(),
            VaultError::CorruptWrappedKey("not a wrapped key")
        );
        for unknown in [0, 1, 3, 9] {
            let mut version = bytes.clone();
            version[4] = unknown;
            assert_eq!(
                WrappedKey::from_bytes(&with_checksum(version)).unwrap_err(),
                VaultError::UnknownVersion(unknown)
            );
        }
        let version_1 = WrappedKey {
            version: 1,
            ..wrapped(&key)
        };
        assert_eq!(
            version_1.unwrap_with_pin(PIN).unwrap_err(),
            VaultError::UnknownVersion(1)
        );
        let mut huge_len = bytes.clone();
        huge_len[33..35].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            WrappedKey::from_bytes(&with_checksum(huge_len)).unwrap_err(),
            VaultError::CorruptWrappedKey("sealed key too long")
        );
        let mut short_len = bytes.clone();
        short_len[33] -= 1;
        assert_eq!(
            WrappedKey::from_bytes(&with_checksum(short_len)).unwrap_err(),
            VaultError::CorruptWrappedKey("length does not match")
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
                iterations: MAX_ITERATIONS + 1,
                ..KdfParams::PHONE
            },
            KdfParams {
                iterations: 100,
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
            // The old limit, 1 GiB: aborts in wasm rather than erroring.
            KdfParams {
                memory_kib: 1024 * 1024,
                ..KdfParams::PHONE
            },
            KdfParams {
                memory_kib: MAX_MEMORY_KIB,
                iterations: 5,
                parallelism: 1,
            },
            KdfParams {
                memory_kib: 64 * 1024,
                iterations: 9,
                parallelism: 1,
            },
            KdfParams {
                memory_kib: MAX_MEMORY_KIB,
                iterations: MAX_ITERATIONS,
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
    fn caps() {
        assert_eq!(MAX_MEMORY_KIB, 131_072);
        assert_eq!(MAX_ITERATIONS, 10);
        assert_eq!(MAX_WORK_KIB, 4 * 131_072);
        let at_the_caps = [
            KdfParams {
                memory_kib: MAX_MEMORY_KIB,
                iterations: 4,
                parallelism: 1,
            },
            KdfParams {
                memory_kib: 64 * 1024,
                iterations: 8,
                parallelism: 1,
            },
            KdfParams {
                memory_kib: MAX_MEMORY_KIB / MAX_ITERATIONS * 4,
                iterations: MAX_ITERATIONS,
                parallelism: MAX_PARALLELISM,
            },
            // The bench's stronger setting.
            KdfParams {
                memory_kib: 64 * 1024,
                iterations: 3,
                parallelism: 1,
            },
        ];
        for params in at_the_caps {
            assert!(params.check().is_ok(), "{params:?}");
            let stored = WrappedKey {
                params,
                version: WRAPPED_VERSION,
                salt: [0; SALT_LEN],
                sealed: vec![0; SEALED_OVERHEAD + KEY_LEN],
            };
            assert_eq!(WrappedKey::from_bytes(&stored.to_bytes()).unwrap(), stored);
        }
        let messages = [
            (
                KdfParams {
                    memory_kib: MAX_MEMORY_KIB + 1,
                    ..KdfParams::PHONE
                },
                "memory must be at most 128 MiB",
            ),
            (
                KdfParams {
                    iterations: MAX_ITERATIONS + 1,
                    ..KdfParams::PHONE
                },
                "iterations must be 1 to 10",
            ),
            (
                KdfParams {
                    memory_kib: MAX_MEMORY_KIB,
                    iterations: 5,
                    parallelism: 1,
                },
                "memory times iterations is too large",
            ),
        ];
        for (params, why) in messages {
            assert_eq!(params.check(), Err(VaultError::KdfParamsOutOfRange(why)));
        }
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

    #[cfg(not(target_arch = "wasm32"))]
    #[tokio::test]
    async fn the_document_store_under_the_data_key_holds_no_plain_text() {
        use fieldvisit_sqlite_store::{Durability, SqliteStorage};
        use samod::storage::{Storage, StorageKey};
        let dir = tempfile::tempdir().unwrap();
        let key = std::sync::Arc::new(DataKey::generate());
        let words = b"He keeps the letters under the bed.".to_vec();
        let chunk = StorageKey::from_parts(["doc1", "incremental", "a"]).unwrap();
        let store = SqliteStorage::open(&dir.path().join("documents.sqlite"), Durability::Full)
            .unwrap()
            .with_cipher(key.clone());
        store.put(chunk.clone(), words.clone()).await;
        assert_eq!(store.load(chunk.clone()).await, Some(words.clone()));
        drop(store);
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            assert!(!bytes.windows(words.len()).any(|w| w == words.as_slice()));
        }
        // Another device's key opens nothing.
        let other = SqliteStorage::open(&dir.path().join("documents.sqlite"), Durability::Full)
            .unwrap()
            .with_cipher(std::sync::Arc::new(DataKey::generate()));
        assert_eq!(other.load(chunk).await, None);
    }
}
