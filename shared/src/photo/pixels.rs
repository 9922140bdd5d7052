//! The photo decoders (the `image` crate, the `decode` feature): the
//! phone's own processing natively, and the server's check and thumbnails.
//! The browser's app makes photos with the browser's decoder and carries
//! none of this: about 100 KB less to download (BENCHMARKS.md).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use super::{
    Format, MAX_LONG_SIDE, MAX_PIXELS, MAX_SIDE, PhotoError, Processed, QUALITY,
    check_stored_header, inspect, jpeg_complete, scaled_size, sha256_hex,
};

/// What decoding may allocate at most: a 100 MP picture in RGBA.
const MAX_ALLOC: u64 = 400 * 1024 * 1024;

impl Format {
    pub(super) fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::WebP => ImageFormat::WebP,
        }
    }
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
    format: Format,
) -> Result<(DynamicImage, image::metadata::Orientation), PhotoError> {
    if format == Format::Jpeg && !jpeg_complete(bytes) {
        return Err(PhotoError::Truncated);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
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

pub(super) fn encode(rgb: &RgbImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(rgb)
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    Ok(out)
}

/// A smaller copy of a stored photo, `width` wide (never wider than the
/// photo), as a JPEG with no metadata.
pub fn thumbnail(stored: &[u8], width: u32) -> Result<Vec<u8>, PhotoError> {
    let (image, _) = decode(stored, Format::Jpeg)?;
    let (w, h) = (image.width(), image.height());
    let width = width.min(w).max(1);
    let height = (u64::from(h) * u64::from(width) / u64::from(w.max(1))).max(1);
    let height = u32::try_from(height).unwrap_or(u32::MAX);
    let small = image.resize_exact(width, height, image::imageops::FilterType::Triangle);
    encode(&flatten(small))
}

/// The server's check of a photo a device stores: a complete JPEG within
/// the size limits, with no metadata segment at all (EXIF, XMP, ICC,
/// IPTC, comments), scaled down ([`check_stored_header`]), that decodes to
/// the size its header gives. Returns its width and height.
pub fn check_stored(bytes: &[u8]) -> Result<(u32, u32), PhotoError> {
    let (width, height) = check_stored_header(bytes)?;
    let (image, _) = decode(bytes, Format::Jpeg)?;
    if (image.width(), image.height()) != (width, height) {
        return Err(PhotoError::Corrupt(format!(
            "its header says {width} x {height} and its picture is {} x {}",
            image.width(),
            image.height()
        )));
    }
    Ok((width, height))
}
