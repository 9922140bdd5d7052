//! A photo as it may leave the phone, and the server's check that it is
//! one. The phone makes it from whatever the camera or the gallery gave
//! (`process`): the format is read from the bytes, never the name; the
//! decoder's limits refuse a decompression bomb before anything is
//! allocated; the EXIF orientation is applied; the picture is scaled down to
//! [`MAX_LONG_SIDE`] and written again as a JPEG, which carries no metadata
//! (no GPS position, serial number or camera model). The original is never
//! stored or sent. The server checks what arrives the same way
//! (`check_stored`) and trusts nothing the phone says about it.

use sha2::{Digest, Sha256};

use crate::api::ErrorCode;

#[cfg(feature = "decode")]
mod pixels;
#[cfg(feature = "decode")]
pub use pixels::{check_stored, process, thumbnail};

/// The long side of a stored photo at most, in pixels.
pub const MAX_LONG_SIDE: u32 = 2048;
/// JPEG quality of a stored photo.
pub const QUALITY: u8 = 82;
/// What a stored photo may weigh at most: a 2048 px JPEG at quality 82 is
/// well under 1 MB; this leaves room for a busy picture, and no more.
pub const MAX_STORED_BYTES: usize = 4 * 1024 * 1024;
/// What an original may weigh (a 50 MP camera's JPEG is about 25 MB).
pub const MAX_ORIGINAL_BYTES: usize = 48 * 1024 * 1024;
/// The largest side of an original that is opened at all.
const MAX_SIDE: u32 = 16_384;
/// The most pixels an original may have.
const MAX_PIXELS: u64 = 100_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error(
        "this is not a picture the app can read (a JPEG, PNG or WebP photo); a file's name does not count"
    )]
    NotAnImage,
    #[error("this file is {size} bytes; at most {max} are accepted")]
    TooManyBytes { size: usize, max: usize },
    #[error(
        "this picture is too large to open safely ({width} x {height} pixels; at most {MAX_SIDE} on a side and 100 megapixels)"
    )]
    TooLarge { width: u32, height: u32 },
    #[error(
        "this picture is cut off: the file ends before the picture does (an interrupted copy?)"
    )]
    Truncated,
    #[error("this picture could not be read: {0}")]
    Corrupt(String),
    #[error("this browser cannot make photos ({0}); a current Chrome, Safari, Firefox or Edge can")]
    BrowserCannot(String),
    #[error("a stored photo is a JPEG")]
    NotJpeg,
    #[error("a stored photo carries no metadata, and this one has {0}")]
    HasMetadata(&'static str),
    #[error(
        "a stored photo is at most {MAX_LONG_SIDE} px on its long side; this one is {width} x {height}"
    )]
    NotScaledDown { width: u32, height: u32 },
}

impl PhotoError {
    /// Stable, snake_case: for the API and the logs.
    pub fn code(&self) -> ErrorCode {
        match self {
            PhotoError::NotAnImage => ErrorCode::NotAnImage,
            PhotoError::TooManyBytes { .. } => ErrorCode::TooLarge,
            PhotoError::TooLarge { .. } => ErrorCode::TooManyPixels,
            PhotoError::Truncated => ErrorCode::Truncated,
            PhotoError::Corrupt(_) => ErrorCode::CorruptImage,
            PhotoError::BrowserCannot(_) => ErrorCode::BrowserCannotMakePhotos,
            PhotoError::NotJpeg => ErrorCode::NotJpeg,
            PhotoError::HasMetadata(_) => ErrorCode::HasMetadata,
            PhotoError::NotScaledDown { .. } => ErrorCode::NotScaledDown,
        }
    }
}

/// A photo ready to store: a JPEG with no metadata, upright, at most
/// [`MAX_LONG_SIDE`] on its long side, named by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Lowercase hex.
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The formats a phone's camera or gallery gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
}

/// The format, read from the bytes (their signature), never from a name.
pub fn format_of(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.get(..4) == Some(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some(Format::WebP)
    } else {
        None
    }
}

/// A picture's width and height, read from its header by our own code:
/// no decoder is built (the browser's app carries none), and nothing is
/// allocated in the size the header claims.
pub fn header_size(bytes: &[u8], format: Format) -> Result<(u32, u32), PhotoError> {
    let corrupt = |what: &str| PhotoError::Corrupt(format!("its header {what}"));
    let be16 = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u32::from(b[0]) << 8 | u32::from(b[1]))
    };
    let be32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le = |at: usize, n: usize| {
        bytes.get(at..at + n).map(|b| {
            b.iter()
                .rev()
                .fold(0u32, |acc, byte| acc << 8 | u32::from(*byte))
        })
    };
    let (width, height) = match format {
        Format::Jpeg => {
            // The frame header (SOF0 to SOF15, but DHT, JPG and DAC, which
            // share the range): precision, then height, then width.
            let mut frame = None;
            walk_header(bytes, |marker, range| {
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    frame = Some(range.start);
                    return false;
                }
                true
            })?;
            let at = frame.ok_or_else(|| corrupt("has no frame size before its picture data"))?;
            match (be16(at + 5), be16(at + 7)) {
                (Some(h), Some(w)) => (w, h),
                _ => return Err(corrupt("is cut short")),
            }
        }
        Format::Png => {
            if bytes.get(12..16) != Some(b"IHDR") {
                return Err(corrupt("does not start with IHDR"));
            }
            match (be32(16), be32(20)) {
                (Some(w), Some(h)) => (w, h),
                _ => return Err(corrupt("is cut short")),
            }
        }
        Format::WebP => {
            let data = 20;
            let size = match bytes.get(12..16) {
                Some(b"VP8 ") => {
                    if bytes.get(data + 3..data + 6) != Some(&[0x9D, 0x01, 0x2A]) {
                        return Err(corrupt("has no VP8 start code"));
                    }
                    le(data + 6, 2)
                        .zip(le(data + 8, 2))
                        .map(|(w, h)| (w & 0x3FFF, h & 0x3FFF))
                }
                Some(b"VP8L") => {
                    if bytes.get(data) != Some(&0x2F) {
                        return Err(corrupt("has no VP8L signature"));
                    }
                    le(data + 1, 4).map(|b| ((b & 0x3FFF) + 1, (b >> 14 & 0x3FFF) + 1))
                }
                Some(b"VP8X") => le(data + 4, 3)
                    .zip(le(data + 7, 3))
                    .map(|(w, h)| (w + 1, h + 1)),
                _ => return Err(corrupt("names no VP8, VP8L or VP8X picture")),
            };
            size.ok_or_else(|| corrupt("is cut short"))?
        }
    };
    if width == 0 || height == 0 {
        return Err(corrupt("gives no size"));
    }
    Ok((width, height))
}

/// A JPEG ends with its EOI marker; one cut off in transfer does not (and
/// some decoders would fill the rest with grey rather than say so).
fn jpeg_complete(bytes: &[u8]) -> bool {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    end >= 4 && bytes[end - 2..end] == [0xFF, 0xD9]
}

/// What is checked of an original before any decoder sees it: its weight,
/// its format from the bytes, a JPEG's end, and its size from the header.
/// Returns the format and the size (before orientation). Whoever decodes
/// it afterwards (our decoder or the browser's) is given nothing larger.
pub fn inspect(original: &[u8]) -> Result<(Format, u32, u32), PhotoError> {
    if original.len() > MAX_ORIGINAL_BYTES {
        return Err(PhotoError::TooManyBytes {
            size: original.len(),
            max: MAX_ORIGINAL_BYTES,
        });
    }
    let format = format_of(original).ok_or(PhotoError::NotAnImage)?;
    if format == Format::Jpeg && !jpeg_complete(original) {
        return Err(PhotoError::Truncated);
    }
    let (width, height) = header_size(original, format)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooLarge { width, height });
    }
    Ok((format, width, height))
}

/// The size a picture of `width` x `height` is stored at: scaled down by
/// the smallest whole factor that fits [`MAX_LONG_SIDE`] (a phone's
/// 4032 x 3024 becomes 2016 x 1512), or as it is.
pub fn scaled_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= MAX_LONG_SIDE {
        return (width, height);
    }
    let k = long.div_ceil(MAX_LONG_SIDE);
    ((width / k).max(1), (height / k).max(1))
}

/// A photo another encoder made (the browser's), accepted only if it
/// passes the server's own check: a JPEG, no metadata, scaled down. Built
/// without the decoders (the browser's app), the check reads the header
/// only; the server decodes it on upload anyway.
pub fn finish(jpeg: Vec<u8>) -> Result<Processed, PhotoError> {
    #[cfg(feature = "decode")]
    let (width, height) = check_stored(&jpeg)?;
    #[cfg(not(feature = "decode"))]
    let (width, height) = check_stored_header(&jpeg)?;
    Ok(Processed {
        sha256: sha256_hex(&jpeg),
        jpeg,
        width,
        height,
    })
}

/// The widths thumbnails are made at: a list row, a grid, a phone's screen.
pub const THUMBNAIL_WIDTHS: &[u32] = &[160, 320, 640];

/// What can be checked of a stored photo without decoding it: its weight,
/// that it is a JPEG, complete, with no metadata segment, and scaled down
/// by its header. The phone's check of the browser's JPEG; the server
/// decodes it as well ([`check_stored`]).
pub fn check_stored_header(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    if bytes.len() > MAX_STORED_BYTES {
        return Err(PhotoError::TooManyBytes {
            size: bytes.len(),
            max: MAX_STORED_BYTES,
        });
    }
    match format_of(bytes) {
        Some(Format::Jpeg) => {}
        Some(_) => return Err(PhotoError::NotJpeg),
        None => return Err(PhotoError::NotAnImage),
    }
    if let Some(what) = metadata_in(bytes)? {
        return Err(PhotoError::HasMetadata(what));
    }
    if !jpeg_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    let (width, height) = header_size(bytes, Format::Jpeg)?;
    if width.max(height) > MAX_LONG_SIDE {
        return Err(PhotoError::NotScaledDown { width, height });
    }
    Ok((width, height))
}

/// The first metadata segment of a JPEG before its image data, named.
pub fn metadata_in(jpeg: &[u8]) -> Result<Option<&'static str>, PhotoError> {
    let mut found = None;
    walk_header(jpeg, |marker, _| {
        found = metadata_named(marker);
        found.is_none()
    })?;
    Ok(found)
}

/// A JPEG without its metadata segments: every segment before the image
/// data but APP1 to APP15 and comments, then the image data as it was.
/// For what the browser's encoder writes (Chromium adds a colour profile);
/// the pixels are untouched, and [`finish`] checks the result anyway.
pub fn without_metadata(jpeg: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::with_capacity(jpeg.len());
    let mut rest = 2;
    walk_header(jpeg, |marker, range| {
        if marker == 0xDA || marker == 0xD9 {
            rest = range.start;
        } else if metadata_named(marker).is_none() {
            out.extend_from_slice(&jpeg[range]);
        }
        true
    })?;
    let mut whole = Vec::with_capacity(2 + out.len() + jpeg.len() - rest);
    whole.extend_from_slice(&jpeg[..2]);
    whole.extend_from_slice(&out);
    whole.extend_from_slice(&jpeg[rest..]);
    Ok(whole)
}

fn metadata_named(marker: u8) -> Option<&'static str> {
    match marker {
        0xE1 => Some("an APP1 segment (EXIF or XMP: GPS position, camera, serial number)"),
        0xE2..=0xEF => Some("an application segment (ICC profile, IPTC or maker data)"),
        0xFE => Some("a comment"),
        _ => None,
    }
}

/// Visits the segments of a JPEG from its start (SOI) to its image data
/// (SOS, or the end, EOI), each as its marker and its bytes (marker
/// included), the last being the SOS or EOI marker itself; `visit` returns
/// false to stop. Nothing is collected: a hostile upload made of millions
/// of tiny segments costs time in proportion, not memory.
fn walk_header(
    jpeg: &[u8],
    mut visit: impl FnMut(u8, std::ops::Range<usize>) -> bool,
) -> Result<(), PhotoError> {
    let corrupt = || PhotoError::Corrupt("its segments do not add up".into());
    if jpeg.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(PhotoError::NotJpeg);
    }
    let mut at = 2;
    loop {
        let (Some(&0xFF), Some(&marker)) = (jpeg.get(at), jpeg.get(at + 1)) else {
            return Err(corrupt());
        };
        let len = match marker {
            // Fill bytes before a marker.
            0xFF => {
                at += 1;
                continue;
            }
            0xDA | 0xD9 => {
                visit(marker, at..at + 2);
                return Ok(());
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => 0,
            _ => {
                let (Some(&hi), Some(&lo)) = (jpeg.get(at + 2), jpeg.get(at + 3)) else {
                    return Err(corrupt());
                };
                let len = usize::from(hi) << 8 | usize::from(lo);
                if len < 2 || at + 2 + len > jpeg.len() {
                    return Err(corrupt());
                }
                len
            }
        };
        if !visit(marker, at..at + 2 + len) {
            return Ok(());
        }
        at += 2 + len;
    }
}

#[cfg(all(test, feature = "decode"))]
mod tests {
    use super::pixels::encode;
    use super::*;
    use image::{ImageDecoder, ImageReader, RgbImage};
    use std::io::Cursor;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/photos")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Whether the top of the picture is red and the bottom blue, as the
    /// fixtures are drawn.
    fn upright(jpeg: &[u8]) -> bool {
        let img = image::load_from_memory(jpeg).unwrap().into_rgb8();
        let (w, h) = img.dimensions();
        let top = img.get_pixel(w / 8, h / 8);
        let bottom = img.get_pixel(w / 8, h - h / 8);
        top[0] > 150 && top[2] < 100 && bottom[2] > 150 && bottom[0] < 100
    }

    fn no_exif(jpeg: &[u8]) -> bool {
        matches!(
            exif::Reader::new().read_from_container(&mut Cursor::new(jpeg)),
            Err(exif::Error::NotFound(_))
        )
    }

    #[test]
    fn what_another_encoder_made_is_kept_only_if_it_passes_the_servers_check() {
        let made = process(&fixture("small-upright.png")).unwrap();
        assert_eq!(finish(made.jpeg.clone()).unwrap(), made);
        // A browser that left the camera's EXIF in would be refused.
        let original = fixture("small-upright-gps.jpg");
        assert_eq!(finish(original).unwrap_err().code(), "has_metadata");
        assert_eq!(
            finish(b"not a picture".to_vec()).unwrap_err().code(),
            "not_an_image"
        );
    }

    #[test]
    fn metadata_is_cut_out_of_a_jpeg_and_its_picture_kept() {
        let original = fixture("small-upright-gps.jpg");
        assert!(metadata_in(&original).unwrap().is_some());
        let clean = without_metadata(&original).unwrap();
        assert_eq!(metadata_in(&clean).unwrap(), None);
        assert!(no_exif(&clean));
        let (a, b) = (
            image::load_from_memory(&original).unwrap().into_rgb8(),
            image::load_from_memory(&clean).unwrap().into_rgb8(),
        );
        assert_eq!(a, b);
        // A clean one is left as it is.
        assert_eq!(without_metadata(&clean).unwrap(), clean);
        assert_eq!(without_metadata(b"GIF89a").unwrap_err().code(), "not_jpeg");
    }

    #[test]
    fn an_original_is_inspected_from_its_header_before_anyone_decodes_it() {
        let (format, w, h) = inspect(&fixture("phone-12mp-orientation6-gps.jpg")).unwrap();
        assert_eq!((format, w, h), (Format::Jpeg, 4032, 3024));
        assert_eq!(scaled_size(w, h), (2016, 1512));
        assert_eq!(scaled_size(3024, 4032), (1512, 2016));
        assert_eq!(scaled_size(640, 480), (640, 480));
        assert_eq!(scaled_size(4097, 10), (1365, 3));
        assert_eq!(
            inspect(&fixture("bomb-50000x50000.png"))
                .unwrap_err()
                .code(),
            "too_many_pixels"
        );
    }

    #[test]
    fn our_header_reader_gives_the_size_the_decoder_reads() {
        for name in [
            "phone-12mp-orientation6-gps.jpg",
            "small-upright-gps.jpg",
            "small-upright.png",
            "small-upright.webp",
            "bomb-50000x50000.png",
        ] {
            let bytes = fixture(name);
            let format = format_of(&bytes).unwrap_or_else(|| panic!("{name}"));
            let mut reader = ImageReader::with_format(Cursor::new(&bytes), format.image_format());
            reader.no_limits();
            let decoder = reader.into_decoder().unwrap();
            assert_eq!(
                header_size(&bytes, format).unwrap(),
                decoder.dimensions(),
                "{name}"
            );
        }
        let p = process(&fixture("small-upright.png")).unwrap();
        assert_eq!(check_stored_header(&p.jpeg).unwrap(), (p.width, p.height));
        assert_eq!(format_of(&fixture("not-an-image.jpg")), None);
    }

    #[test]
    fn every_webp_header_is_read_and_a_short_one_refused() {
        fn webp(chunk: &[u8; 4], data: &[u8]) -> Vec<u8> {
            let mut b = b"RIFF\0\0\0\0WEBP".to_vec();
            b.extend_from_slice(chunk);
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(data);
            b
        }
        // Lossless: 14 bits of width - 1, then 14 of height - 1.
        let bits: u32 = (4031) | (3023 << 14);
        let mut lossless = vec![0x2F];
        lossless.extend_from_slice(&bits.to_le_bytes());
        let bytes = webp(b"VP8L", &lossless);
        assert_eq!(format_of(&bytes), Some(Format::WebP));
        assert_eq!(header_size(&bytes, Format::WebP).unwrap(), (4032, 3024));
        // Extended: the canvas, 24 bits each, less one.
        let mut extended = vec![0; 4];
        extended.extend_from_slice(&49_999u32.to_le_bytes()[..3]);
        extended.extend_from_slice(&49_999u32.to_le_bytes()[..3]);
        let bomb = webp(b"VP8X", &extended);
        assert_eq!(header_size(&bomb, Format::WebP).unwrap(), (50_000, 50_000));
        assert_eq!(inspect(&bomb).unwrap_err().code(), "too_many_pixels");
        // Cut short, or no picture chunk at all: refused, never a guess.
        for short in [&bytes[..22], &webp(b"ALPH", &[0; 10])[..], &bytes[..14]] {
            assert_eq!(
                header_size(short, Format::WebP).unwrap_err().code(),
                "corrupt_image"
            );
        }
        let png = fixture("small-upright.png");
        assert_eq!(
            header_size(&png[..20], Format::Png).unwrap_err().code(),
            "corrupt_image"
        );
    }

    #[test]
    fn the_phone_photo_comes_out_upright_small_and_with_no_exif() {
        let original = fixture("phone-12mp-orientation6-gps.jpg");
        // The original has what must go.
        let exif = exif::Reader::new()
            .continue_on_error(true)
            .read_from_container(&mut Cursor::new(&original))
            .or_else(|e| e.distill_partial_result(|_| {}))
            .unwrap();
        assert!(
            exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
                .is_some()
        );
        let p = process(&original).unwrap();
        assert_eq!(
            (p.width, p.height),
            (1512, 2016),
            "turned upright and scaled down"
        );
        assert!(upright(&p.jpeg), "red half on top");
        assert!(no_exif(&p.jpeg), "no EXIF at all");
        assert_eq!(metadata_in(&p.jpeg).unwrap(), None);
        assert!(p.jpeg.len() < 600 * 1024, "{} bytes", p.jpeg.len());
        assert_eq!(p.sha256, sha256_hex(&p.jpeg));
        assert_eq!(check_stored(&p.jpeg).unwrap(), (1512, 2016));
    }

    #[test]
    fn every_format_a_phone_gives_is_accepted_and_cleaned() {
        for name in [
            "small-upright-gps.jpg",
            "small-upright.png",
            "small-upright.webp",
        ] {
            let p = process(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((p.width, p.height), (480, 640), "{name}");
            assert!(upright(&p.jpeg), "{name}");
            assert!(no_exif(&p.jpeg), "{name}");
            assert!(check_stored(&p.jpeg).is_ok(), "{name}");
        }
    }

    #[test]
    fn thumbnails_keep_the_shape_and_carry_nothing() {
        let p = process(&fixture("small-upright.png")).unwrap();
        let small = thumbnail(&p.jpeg, 160).unwrap();
        assert_eq!(check_stored(&small).unwrap(), (160, 213));
        assert!(upright(&small));
        // Never wider than the photo.
        assert_eq!(
            check_stored(&thumbnail(&p.jpeg, 640).unwrap()).unwrap(),
            (480, 640)
        );
    }

    #[test]
    fn bad_pictures_are_refused_with_what_is_wrong() {
        let code = |name: &str| process(&fixture(name)).unwrap_err().code();
        assert_eq!(code("not-an-image.jpg"), "not_an_image");
        assert_eq!(code("truncated.jpg"), "truncated");
        // 2.5 gigapixels: refused from the header, before allocating.
        assert_eq!(code("bomb-50000x50000.png"), "too_many_pixels");
    }

    #[test]
    fn the_server_refuses_what_a_phone_should_not_have_sent() {
        let original = fixture("small-upright-gps.jpg");
        assert_eq!(check_stored(&original).unwrap_err().code(), "has_metadata");
        assert_eq!(
            check_stored(&fixture("small-upright.png"))
                .unwrap_err()
                .code(),
            "not_jpeg"
        );
        assert_eq!(
            check_stored(&fixture("not-an-image.jpg"))
                .unwrap_err()
                .code(),
            "not_an_image"
        );
        assert_eq!(
            check_stored(&fixture("truncated.jpg")).unwrap_err().code(),
            "has_metadata",
            "a camera's JPEG has its EXIF first"
        );
        // A clean JPEG that was not scaled down.
        let big = RgbImage::from_pixel(3000, 100, image::Rgb([200, 10, 10]));
        let jpeg = encode(&big).unwrap();
        assert_eq!(check_stored(&jpeg).unwrap_err().code(), "not_scaled_down");
        // Cut in half.
        let p = process(&original).unwrap();
        assert_eq!(
            check_stored(&p.jpeg[..p.jpeg.len() / 2])
                .unwrap_err()
                .code(),
            "truncated"
        );
        // A comment smuggled in after the header.
        let mut with_comment = p.jpeg[..2].to_vec();
        with_comment.extend_from_slice(&[0xFF, 0xFE, 0, 7, b'h', b'e', b'l', b'l', b'o']);
        with_comment.extend_from_slice(&p.jpeg[2..]);
        assert_eq!(
            check_stored(&with_comment).unwrap_err().code(),
            "has_metadata"
        );
        let too_big = vec![0xFF; MAX_STORED_BYTES + 1];
        assert_eq!(check_stored(&too_big).unwrap_err().code(), "too_large");
    }
}
