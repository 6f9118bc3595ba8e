//! Decoding within a node's budget and writing images back from their pixels.
//!
//! Every accepted image is **re-encoded from its decoded pixels**, never copied: that is what
//! drops EXIF (GPS positions, camera serial numbers), XMP, ICC profiles, PNG text chunks and GIF
//! comment and application extensions, whatever container they hide in, and it also means a
//! file we serve is one our own encoder wrote. EXIF orientation is applied to the pixels first,
//! so a phone photo stays the right way up once its EXIF is gone.
//!
//! What an upload becomes:
//! - JPEG: JPEG (quality 90).
//! - WebP: JPEG (quality 90), or PNG if it has transparent pixels. The `image` crate writes only
//!   lossless WebP, which would make a photo several times larger than its upload.
//! - PNG: PNG.
//! - GIF: PNG of its **first frame**. An animated GIF loses its animation: a listing photo is a
//!   photo, and decoding every frame would multiply the memory an upload may take (the pixel
//!   budget counts one frame). An animated WebP likewise keeps its first frame.
//!
//! The budget: the size in the header is checked before any pixel is decoded (a 2 MB JPEG of
//! 12000×12000 pixels decodes to 432 MB), and decoding allocates at most what the largest image
//! within the budget needs.

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, codecs::jpeg::JpegEncoder,
};

use crate::{Error, Result};

/// An image decoded within the budget, the right way up.
pub(super) struct Decoded {
    pub img: DynamicImage,
    pub format: ImageFormat,
}

/// An image written back from its pixels: bytes, file extension and media type.
pub(super) struct Encoded {
    pub bytes: Vec<u8>,
    pub ext: &'static str,
    pub media_type: &'static str,
}

/// Names an image in errors: the API field and the words for it ("image 2").
pub(super) struct Named<'a> {
    pub field: &'a str,
    pub what: &'a str,
}

/// Bytes per pixel we let a decoder allocate: RGBA at 16 bits per channel, the widest that
/// JPEG, PNG, WebP and GIF decode to.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Check the format and the size in the header against `max_pixels`, decoding nothing.
/// Returns the width and height.
pub(super) fn check_size(bytes: &[u8], name: &Named<'_>, max_pixels: u64) -> Result<(u32, u32)> {
    let (decoder, _) = open(bytes, name, max_pixels)?;
    Ok(decoder.dimensions())
}

/// Decode `bytes` as JPEG, PNG, WebP or GIF (told by their content, never by a name or a
/// header), refusing more than `max_pixels`, and apply its EXIF orientation.
pub(super) fn decode(bytes: &[u8], name: &Named<'_>, max_pixels: u64) -> Result<Decoded> {
    let (mut decoder, format) = open(bytes, name, max_pixels)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| {
        Error::UnsupportedMediaType(format!("{} could not be decoded: {e}", name.what))
    })?;
    if let Some(orientation) = orientation {
        img.apply_orientation(orientation);
    }
    Ok(Decoded { img, format })
}

/// A decoder for `bytes` whose header has been read and whose size is within `max_pixels`.
fn open<'a>(
    bytes: &'a [u8],
    name: &Named<'_>,
    max_pixels: u64,
) -> Result<(impl ImageDecoder + 'a, ImageFormat)> {
    let not_image = || {
        Error::UnsupportedMediaType(format!(
            "{} is not an image we accept (JPEG, PNG, WebP or GIF)",
            name.what
        ))
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_image())?;
    let format = reader.format().ok_or_else(not_image)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(not_image());
    }
    // No limit on width or height alone: the decoders would refuse with their own words before
    // we could name ours. What the decoder may allocate is bounded here, the pixels below.
    let mut limits = Limits::no_limits();
    limits.max_alloc = Some(max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL).max(64 << 20));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|_| not_image())?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Error::invalid(
            name.field,
            format!(
                "the image is {width}×{height} pixels; the limit is {}",
                describe_pixels(max_pixels)
            ),
        ));
    }
    Ok((decoder, format))
}

/// "40 megapixels", or the exact count for a budget that is not a whole number of them.
fn describe_pixels(pixels: u64) -> String {
    match (pixels / 1_000_000, pixels % 1_000_000) {
        (1, 0) => "1 megapixel".into(),
        (n, 0) => format!("{n} megapixels"),
        _ => format!("{pixels} pixels"),
    }
}

/// Write a decoded upload back from its pixels (see the module's description for the formats).
pub(super) fn reencode(decoded: &Decoded) -> Result<Encoded> {
    let lossless = matches!(decoded.format, ImageFormat::Png | ImageFormat::Gif);
    if lossless || has_transparency(&decoded.img) {
        Ok(Encoded {
            bytes: encode_png(&decoded.img)?,
            ext: "png",
            media_type: "image/png",
        })
    } else {
        Ok(Encoded {
            bytes: encode_jpeg(&decoded.img, 90)?,
            ext: "jpg",
            media_type: "image/jpeg",
        })
    }
}

/// A thumbnail `size` px on its longest side (or smaller, for an image already that small
/// unless `enlarge`): PNG if it has transparent pixels, JPEG otherwise.
pub(super) fn thumbnail(img: &DynamicImage, size: u32, enlarge: bool) -> Result<Encoded> {
    let fits = img.width() <= size && img.height() <= size;
    let small = if fits && !enlarge {
        img.clone()
    } else {
        img.thumbnail(size, size)
    };
    if has_transparency(&small) {
        Ok(Encoded {
            bytes: encode_png(&small)?,
            ext: "png",
            media_type: "image/png",
        })
    } else {
        Ok(Encoded {
            bytes: encode_jpeg(&small, 80)?,
            ext: "jpg",
            media_type: "image/jpeg",
        })
    }
}

/// Whether any pixel is less than opaque. A WebP or PNG with an alpha channel that is opaque
/// everywhere (common from phone editors) is a photo, and is written as one.
fn has_transparency(img: &DynamicImage) -> bool {
    match img {
        DynamicImage::ImageRgba8(buf) => buf.pixels().any(|p| p.0[3] < u8::MAX),
        DynamicImage::ImageLumaA8(buf) => buf.pixels().any(|p| p.0[1] < u8::MAX),
        DynamicImage::ImageRgba16(buf) => buf.pixels().any(|p| p.0[3] < u16::MAX),
        DynamicImage::ImageLumaA16(buf) => buf.pixels().any(|p| p.0[1] < u16::MAX),
        other => other.color().has_alpha(),
    }
}

/// JPEG from the pixels as they are when they are 8-bit RGB or grey (no copy of a 40-megapixel
/// buffer), converted to RGB otherwise.
fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    let written = match img {
        DynamicImage::ImageRgb8(buf) => encoder.encode_image(buf),
        DynamicImage::ImageLuma8(buf) => encoder.encode_image(buf),
        other => encoder.encode_image(&other.to_rgb8()),
    };
    written.map_err(|e| Error::Internal(format!("JPEG encoding: {e}")))?;
    Ok(out)
}

fn encode_png(img: &DynamicImage) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| Error::Internal(format!("PNG encoding: {e}")))?;
    Ok(out.into_inner())
}
