//! A photo as it may leave the phone, and the server's check that it is
//! one. The phone makes it from whatever the camera or the gallery gave
//! (`process`): the format is read from the bytes, never the name; the
//! decoder's limits refuse a decompression bomb before anything is
//! allocated; the EXIF orientation is applied; the picture is scaled down to
//! [`MAX_LONG_SIDE`] and written again as a JPEG, which carries no metadata
//! (no GPS position, serial number or camera model). The original is never
//! stored or sent. The server checks what arrives the same way
//! (`check_stored`) and trusts nothing the phone says about it.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

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
/// What decoding may allocate at most: a 100 MP picture in RGBA.
const MAX_ALLOC: u64 = 400 * 1024 * 1024;

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
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::NotAnImage => "not_an_image",
            PhotoError::TooManyBytes { .. } => "too_large",
            PhotoError::TooLarge { .. } => "too_many_pixels",
            PhotoError::Truncated => "truncated",
            PhotoError::Corrupt(_) => "corrupt_image",
            PhotoError::NotJpeg => "not_jpeg",
            PhotoError::HasMetadata(_) => "has_metadata",
            PhotoError::NotScaledDown { .. } => "not_scaled_down",
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

/// The formats a phone's camera or gallery gives, read from the bytes.
pub fn format_of(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP))
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes within the limits; the dimensions are checked from the header,
/// before a pixel is allocated.
fn decode(
    bytes: &[u8],
    format: ImageFormat,
) -> Result<(DynamicImage, image::metadata::Orientation), PhotoError> {
    if format == ImageFormat::Jpeg && !jpeg_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(|e| classify(e, None))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooLarge { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let image =
        DynamicImage::from_decoder(decoder).map_err(|e| classify(e, Some((width, height))))?;
    Ok((image, orientation))
}

fn classify(e: image::ImageError, size: Option<(u32, u32)>) -> PhotoError {
    use image::ImageError;
    match e {
        ImageError::Limits(_) => {
            let (width, height) = size.unwrap_or((0, 0));
            PhotoError::TooLarge { width, height }
        }
        ImageError::Unsupported(_) => PhotoError::NotAnImage,
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        other => {
            let text = other.to_string();
            if text.contains("EOF") || text.contains("end of file") || text.contains("truncated") {
                PhotoError::Truncated
            } else {
                PhotoError::Corrupt(text)
            }
        }
    }
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
pub fn inspect(original: &[u8]) -> Result<(ImageFormat, u32, u32), PhotoError> {
    if original.len() > MAX_ORIGINAL_BYTES {
        return Err(PhotoError::TooManyBytes {
            size: original.len(),
            max: MAX_ORIGINAL_BYTES,
        });
    }
    let format = format_of(original).ok_or(PhotoError::NotAnImage)?;
    if format == ImageFormat::Jpeg && !jpeg_complete(original) {
        return Err(PhotoError::Truncated);
    }
    let mut reader = ImageReader::with_format(Cursor::new(original), format);
    reader.limits(limits());
    let decoder = reader.into_decoder().map_err(|e| classify(e, None))?;
    let (width, height) = decoder.dimensions();
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
/// passes the server's own check: a JPEG, no metadata, scaled down.
pub fn finish(jpeg: Vec<u8>) -> Result<Processed, PhotoError> {
    let (width, height) = check_stored(&jpeg)?;
    Ok(Processed {
        sha256: sha256_hex(&jpeg),
        jpeg,
        width,
        height,
    })
}

/// Makes the photo to store from what the camera or gallery gave.
pub fn process(original: &[u8]) -> Result<Processed, PhotoError> {
    let (format, _, _) = inspect(original)?;
    let (image, orientation) = decode(original, format)?;
    // Scaled down before it is turned: turning is a copy of every pixel.
    let mut upright = DynamicImage::ImageRgb8(scaled_down(flatten(image)));
    upright.apply_orientation(orientation);
    let rgb = upright.into_rgb8();
    let (width, height) = rgb.dimensions();
    let jpeg = encode(&rgb)?;
    Ok(Processed {
        sha256: sha256_hex(&jpeg),
        jpeg,
        width,
        height,
    })
}

/// At most [`MAX_LONG_SIDE`] on the long side, by averaging each k x k
/// block of pixels (k the smallest whole factor that fits): for a phone's
/// 4032 px that is 2 x 2, about twenty times faster than a resampling
/// filter over twelve million pixels, and as smooth.
fn scaled_down(image: RgbImage) -> RgbImage {
    let (w, h) = image.dimensions();
    let (nw, nh) = scaled_size(w, h);
    if (nw, nh) == (w, h) {
        return image;
    }
    let k = w.max(h).div_ceil(MAX_LONG_SIDE);
    let area = k * k;
    let mut out = RgbImage::new(nw, nh);
    let mut sums = vec![[0u32; 3]; nw as usize];
    for y in 0..nh {
        sums.iter_mut().for_each(|s| *s = [0; 3]);
        for row in y * k..y * k + k {
            for (x, sum) in sums.iter_mut().enumerate() {
                let x0 = x as u32 * k;
                for col in x0..x0 + k {
                    let px = image.get_pixel(col, row);
                    sum[0] += u32::from(px[0]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[2]);
                }
            }
        }
        for (x, sum) in sums.iter().enumerate() {
            let avg = |c: u32| u8::try_from((c + area / 2) / area).unwrap_or(u8::MAX);
            out.put_pixel(
                x as u32,
                y,
                image::Rgb([avg(sum[0]), avg(sum[1]), avg(sum[2])]),
            );
        }
    }
    out
}

/// RGB for the JPEG; a transparent picture (a PNG, a screenshot) on white,
/// as it looks on a page, rather than on whatever its hidden pixels hold.
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(px[3]);
        for c in 0..3 {
            let v = (u16::from(px[c]) * a + 255 * (255 - a)) / 255;
            out[c] = u8::try_from(v).unwrap_or(u8::MAX);
        }
    }
    rgb
}

fn encode(rgb: &RgbImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(rgb)
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// The widths thumbnails are made at: a list row, a grid, a phone's screen.
pub const THUMBNAIL_WIDTHS: &[u32] = &[160, 320, 640];

/// A smaller copy of a stored photo, `width` wide (never wider than the
/// photo), as a JPEG with no metadata.
pub fn thumbnail(stored: &[u8], width: u32) -> Result<Vec<u8>, PhotoError> {
    let (image, _) = decode(stored, ImageFormat::Jpeg)?;
    let (w, h) = (image.width(), image.height());
    let width = width.min(w).max(1);
    let height = (u64::from(h) * u64::from(width) / u64::from(w.max(1))).max(1);
    let height = u32::try_from(height).unwrap_or(u32::MAX);
    let small = image.resize_exact(width, height, image::imageops::FilterType::Triangle);
    encode(&flatten(small))
}

/// The server's check of a photo a device stores: a complete JPEG within
/// the size limits, with no metadata segment at all (EXIF, XMP, ICC,
/// IPTC, comments), that decodes. Returns its width and height.
pub fn check_stored(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    if bytes.len() > MAX_STORED_BYTES {
        return Err(PhotoError::TooManyBytes {
            size: bytes.len(),
            max: MAX_STORED_BYTES,
        });
    }
    match format_of(bytes) {
        Some(ImageFormat::Jpeg) => {}
        Some(_) => return Err(PhotoError::NotJpeg),
        None => return Err(PhotoError::NotAnImage),
    }
    if let Some(what) = metadata_in(bytes)? {
        return Err(PhotoError::HasMetadata(what));
    }
    let (image, _) = decode(bytes, ImageFormat::Jpeg)?;
    let (width, height) = (image.width(), image.height());
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((format, w, h), (ImageFormat::Jpeg, 4032, 3024));
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
