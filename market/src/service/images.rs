//! Listing images: checked by decoding, re-encoded to drop metadata (EXIF GPS in a phone photo
//! would tell the world where a member lives), stored under the media dir with a thumbnail.

use std::{io::Cursor, path::Path};

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, codecs::jpeg::JpegEncoder,
};

use crate::{Error, Result};

/// At most this many images per listing (Mastodon shows four attachments).
pub const MAX_IMAGES_PER_LISTING: usize = 4;
/// Longest side of a thumbnail, in pixels.
const THUMB_SIZE: u32 = 480;
/// Refuse images larger than this on either side (decompression bombs).
const MAX_DIMENSION: u32 = 12_000;

/// An image as uploaded, with its required alt text.
#[derive(Debug, Clone)]
pub struct ImageUpload {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Alt text, 1–1,500 characters (Mastodon's limit for descriptions).
    pub alt: String,
}

/// An image written to the media dir, not yet attached to anything.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// UUID, also the stem of the file names.
    pub id: String,
    /// File name of the full image under the media dir.
    pub file_name: String,
    /// File name of the thumbnail.
    pub thumb_file_name: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`.
    pub media_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The checked alt text.
    pub alt: String,
}

struct Processed {
    full: Vec<u8>,
    thumb: Vec<u8>,
    thumb_ext: &'static str,
    ext: &'static str,
    media_type: &'static str,
    width: u32,
    height: u32,
}

/// Check the alt text of image number `index`.
pub fn check_alt(alt: &str, index: usize) -> Result<String> {
    let alt = alt.trim();
    let field = format!("images[{index}].alt");
    if alt.is_empty() {
        return Err(Error::invalid(
            field,
            "alt text is required: describe the photo for people who cannot see it",
        ));
    }
    if alt.chars().count() > 1_500 {
        return Err(Error::invalid(field, "must be at most 1500 characters"));
    }
    if alt.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(alt.to_string())
}

/// Validate, re-encode and write one upload (full image and thumbnail) under `media_dir`.
pub async fn store(
    media_dir: &Path,
    upload: ImageUpload,
    index: usize,
    max_bytes: usize,
) -> Result<StoredImage> {
    let alt = check_alt(&upload.alt, index)?;
    if upload.bytes.len() > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "image {index} is {} bytes; the limit is {max_bytes}",
            upload.bytes.len()
        )));
    }
    let processed = tokio::task::spawn_blocking(move || process(&upload.bytes, index)).await??;
    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!("{id}.{}", processed.ext);
    let thumb_file_name = format!("{id}-thumb.{}", processed.thumb_ext);
    tokio::fs::create_dir_all(media_dir).await?;
    tokio::fs::write(media_dir.join(&file_name), &processed.full).await?;
    if let Err(e) = tokio::fs::write(media_dir.join(&thumb_file_name), &processed.thumb).await {
        let _ = tokio::fs::remove_file(media_dir.join(&file_name)).await;
        return Err(e.into());
    }
    Ok(StoredImage {
        id,
        file_name,
        thumb_file_name,
        media_type: processed.media_type.to_string(),
        width: processed.width,
        height: processed.height,
        alt,
    })
}

/// Remove an image's files (after a failed save, or when the image is deleted). Best effort:
/// a file that is already gone is fine.
pub async fn remove_files(media_dir: &Path, file_name: &str, thumb_file_name: &str) {
    for name in [file_name, thumb_file_name] {
        if let Err(e) = tokio::fs::remove_file(media_dir.join(name)).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = name, error = %e, "could not remove media file");
        }
    }
}

fn process(bytes: &[u8], index: usize) -> Result<Processed> {
    let not_image = || {
        Error::UnsupportedMediaType(format!(
            "image {index} is not an image we accept (JPEG, PNG, WebP or GIF)"
        ))
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_image())?;
    let format = reader.format().ok_or_else(not_image)?;
    let (ext, media_type) = match format {
        ImageFormat::Jpeg => ("jpg", "image/jpeg"),
        ImageFormat::Png => ("png", "image/png"),
        ImageFormat::WebP => ("webp", "image/webp"),
        ImageFormat::Gif => ("gif", "image/gif"),
        _ => return Err(not_image()),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| not_image())?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| {
        Error::UnsupportedMediaType(format!("image {index} could not be decoded: {e}"))
    })?;
    if let Some(orientation) = orientation {
        img.apply_orientation(orientation);
    }
    let (width, height) = (img.width(), img.height());
    let full = match format {
        // Re-encoding drops EXIF and other metadata. GIF (animation) and WebP (the codec here
        // only writes lossless WebP, which would balloon photos) are kept as uploaded.
        ImageFormat::Jpeg => encode_jpeg(&img, 90)?,
        ImageFormat::Png => encode(&img, ImageFormat::Png)?,
        _ => bytes.to_vec(),
    };
    let small = img.thumbnail(THUMB_SIZE, THUMB_SIZE);
    let (thumb, thumb_ext) = if small.color().has_alpha() {
        (encode(&small, ImageFormat::Png)?, "png")
    } else {
        (encode_jpeg(&small, 80)?, "jpg")
    };
    Ok(Processed {
        full,
        thumb,
        thumb_ext,
        ext,
        media_type,
        width,
        height,
    })
}

fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| Error::Internal(format!("JPEG encoding: {e}")))?;
    Ok(out)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| Error::Internal(format!("image encoding: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(w, h);
        encode(&img, ImageFormat::Png).unwrap()
    }

    #[tokio::test]
    async fn stores_full_image_and_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let upload = ImageUpload {
            bytes: png(1200, 600),
            alt: "A blue mug".into(),
        };
        let stored = store(dir.path(), upload, 0, 10 << 20).await.unwrap();
        assert_eq!(
            (stored.width, stored.height, stored.media_type.as_str()),
            (1200, 600, "image/png")
        );
        let thumb = image::open(dir.path().join(&stored.thumb_file_name)).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (480, 240));
        assert!(dir.path().join(&stored.file_name).exists());
    }

    #[tokio::test]
    async fn refuses_non_images_oversize_and_missing_alt() {
        let dir = tempfile::tempdir().unwrap();
        let status = |bytes: Vec<u8>, alt: &str, max: usize| {
            let upload = ImageUpload {
                bytes,
                alt: alt.into(),
            };
            let dir = dir.path().to_path_buf();
            async move { store(&dir, upload, 0, max).await.unwrap_err().status() }
        };
        assert_eq!(
            status(b"GIF89a but not really".to_vec(), "x", 1 << 20).await,
            415
        );
        assert_eq!(
            status(b"<script>alert(1)</script>".to_vec(), "x", 1 << 20).await,
            415
        );
        assert_eq!(status(png(64, 64), "x", 10).await, 413);
        assert_eq!(status(png(8, 8), "  ", 1 << 20).await, 422);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing half-written"
        );
    }
}
