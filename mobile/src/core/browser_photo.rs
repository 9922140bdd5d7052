//! A photo processed by the browser's own decoder and encoder
//! (`createImageBitmap` turns it upright from its EXIF orientation,
//! an `OffscreenCanvas` scales it and writes a JPEG), the candidate the
//! photos issue asked to measure against our wasm decoder (BENCHMARKS.md).
//!
//! The browser is trusted with nothing: the original is inspected by our
//! code first (format from the bytes, size from the header, so a bomb never
//! reaches a decoder), and what the browser wrote must pass the server's own
//! check (`photo::finish`: a JPEG, no metadata at all, scaled down). Chromium
//! writes a colour profile (APP2) into its JPEG: that segment is cut out
//! (`photo::without_metadata`), the picture's bytes untouched.

use fieldvisit_shared::photo::{self, PhotoError, Processed};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, ImageBitmap, ImageBitmapOptions, ImageEncodeOptions, ImageOrientation, OffscreenCanvas,
    OffscreenCanvasRenderingContext2d,
};

/// Which decoder makes a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// `fieldvisit_shared::photo::process`, the `image` crate compiled to wasm.
    Wasm,
    /// The browser's, through web-sys.
    Browser,
}

impl Decoder {
    /// The faster on this machine (BENCHMARKS.md), unless the page's
    /// `localStorage` names the other (`fieldvisit.photoDecoder`: `wasm` or
    /// `browser`), which is how the benchmark measures both.
    pub fn chosen() -> Decoder {
        let named = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item("fieldvisit.photoDecoder").ok().flatten());
        match named.as_deref() {
            Some("wasm") => Decoder::Wasm,
            Some("browser") => Decoder::Browser,
            _ => DEFAULT,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Decoder::Wasm => "wasm",
            Decoder::Browser => "browser",
        }
    }
}

const DEFAULT: Decoder = Decoder::Browser;

/// Processes a photo with `decoder`, and leaves a `performance` measure
/// (`fieldvisit photo: wasm` or `... browser`) for the benchmark to read.
/// Where the browser cannot (no `OffscreenCanvas` in an older browser, a
/// picture it cannot decode), our own decoder does it or says why not.
pub async fn process(original: &[u8], decoder: Decoder) -> Result<Processed, PhotoError> {
    const START: &str = "fieldvisit photo start";
    let performance = web_sys::window().and_then(|w| w.performance());
    if let Some(p) = &performance {
        let _ = p.mark(START);
    }
    // The decoder that made it: the measure is named for that one, so a
    // fallback is never timed as the browser's.
    let (made, used) = match decoder {
        Decoder::Wasm => (photo::process(original), Decoder::Wasm),
        Decoder::Browser => {
            photo::inspect(original)?;
            match encode(original).await {
                Ok(jpeg) => (
                    photo::without_metadata(&jpeg).and_then(photo::finish),
                    Decoder::Browser,
                ),
                Err(e) => {
                    tracing::warn!(error = ?e, "the browser could not process a photo; the app's decoder will");
                    (photo::process(original), Decoder::Wasm)
                }
            }
        }
    };
    if let Some(p) = performance {
        let name = format!("fieldvisit photo: {}", used.name());
        let _ = p.measure_with_start_mark(&name, START);
        p.clear_marks_with_mark_name(START);
    }
    made
}

/// Decodes upright, scales down to [`photo::scaled_size`] on a white
/// ground (as `photo::process` flattens a transparent picture), and
/// writes a JPEG at [`photo::QUALITY`].
async fn encode(original: &[u8]) -> Result<Vec<u8>, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(original));
    let blob = Blob::new_with_u8_array_sequence(&parts)?;
    let options = ImageBitmapOptions::new();
    options.set_image_orientation(ImageOrientation::FromImage);
    let bitmap: ImageBitmap = JsFuture::from(
        window.create_image_bitmap_with_blob_and_image_bitmap_options(&blob, &options)?,
    )
    .await?
    .dyn_into()?;
    let (width, height) = photo::scaled_size(bitmap.width(), bitmap.height());
    let canvas = OffscreenCanvas::new(width, height)?;
    let context: OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or("no 2d context")?
        .dyn_into()?;
    let (w, h) = (f64::from(width), f64::from(height));
    context.set_fill_style_str("#fff");
    context.fill_rect(0.0, 0.0, w, h);
    context.draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, w, h)?;
    bitmap.close();
    let encoding = ImageEncodeOptions::new();
    encoding.set_type("image/jpeg");
    encoding.set_quality(f64::from(photo::QUALITY) / 100.0);
    let jpeg: Blob = JsFuture::from(canvas.convert_to_blob_with_options(&encoding)?)
        .await?
        .dyn_into()?;
    let buffer = JsFuture::from(jpeg.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
