//! A photo made by the browser's own decoder and encoder
//! (`createImageBitmap` turns it upright from its EXIF orientation, an
//! `OffscreenCanvas` scales it and writes a JPEG): a third faster than our
//! decoder compiled to wasm and half the bytes, measured when both were in
//! the app (BENCHMARKS.md); ours is now left out of the browser's build.
//!
//! The browser is trusted with nothing: the original is inspected by our
//! code first (format from the bytes, size from the header, so a bomb never
//! reaches a decoder), and what the browser wrote must pass the server's
//! check as far as it can be made without decoding (`photo::finish`: a
//! JPEG, complete, no metadata at all, scaled down); the server decodes it
//! on upload. Chromium writes a colour profile (APP2) into its JPEG: that
//! segment is cut out (`photo::without_metadata`), the picture's bytes
//! untouched.

use fieldvisit_shared::photo::{self, PhotoError, Processed};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, ImageBitmap, ImageBitmapOptions, ImageEncodeOptions, ImageOrientation, OffscreenCanvas,
    OffscreenCanvasRenderingContext2d,
};

/// Processes a photo with the browser's decoder and encoder, and leaves a
/// `performance` measure (`fieldvisit photo: browser`) for the benchmark to
/// read. The app carries no decoder of its own in the browser (about 100 KB
/// less to download, BENCHMARKS.md): a browser that cannot make the photo
/// says so, and a picture it cannot decode is refused as unreadable.
pub async fn process(original: &[u8]) -> Result<Processed, PhotoError> {
    const START: &str = "fieldvisit photo start";
    const MEASURE: &str = "fieldvisit photo: browser";
    let performance = web_sys::window().and_then(|w| w.performance());
    if let Some(p) = &performance {
        let _ = p.mark(START);
    }
    photo::inspect(original)?;
    if !can_make_photos() {
        return Err(PhotoError::BrowserCannot(
            "it lacks OffscreenCanvas or createImageBitmap".to_owned(),
        ));
    }
    let made = match encode(original).await {
        Ok(jpeg) => photo::without_metadata(&jpeg).and_then(photo::finish),
        Err(e) => {
            tracing::warn!(error = ?e, "the browser could not decode a photo");
            Err(PhotoError::Corrupt(
                "the browser could not decode it".to_owned(),
            ))
        }
    };
    if let Some(p) = performance {
        let _ = p.measure_with_start_mark(MEASURE, START);
        p.clear_marks_with_mark_name(START);
    }
    made
}

/// `createImageBitmap` and `OffscreenCanvas` (Safari has both since 16.4).
fn can_make_photos() -> bool {
    let global = js_sys::global();
    ["OffscreenCanvas", "createImageBitmap"]
        .iter()
        .all(|name| js_sys::Reflect::has(&global, &JsValue::from_str(name)).unwrap_or(false))
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
